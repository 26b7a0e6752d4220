"""Push images to a registry: Amazon ECR (log in with a token from boto3, create the
repository if missing) or any other registry (plain `docker push`).

    python -m smtune.containers.registry push --registry REGISTRY [--tag TAG] NAME ...

pushes the local image smtune-NAME:TAG as REGISTRY/smtune-NAME:TAG and prints each pushed
reference with its digest, which is what a tuning job's image should name.
"""

from __future__ import annotations

import argparse
import base64
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from smtune.containers.errors import BadInput, ExitCode

logger = logging.getLogger(__name__)

# 123456789012.dkr.ecr.eu-west-1.amazonaws.com, also the .com.cn partitions.
ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")

Run = Callable[..., subprocess.CompletedProcess[str]]


def _run(command: Sequence[str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), input=input, capture_output=True, text=True, check=True)


@dataclass(frozen=True)
class Registry:
    """A registry host, with an optional path prefix for repositories."""

    host: str
    prefix: str = ""

    @classmethod
    def parse(cls, text: str) -> Registry:
        host, _, prefix = text.strip().strip("/").partition("/")
        if not host or " " in text:
            raise BadInput(f"REGISTRY={text!r} must be host[:port][/path]")
        return cls(host, prefix)

    @property
    def ecr_region(self) -> str | None:
        match = ECR_HOST.match(self.host)
        return match.group(2) if match else None

    def repository(self, name: str) -> str:
        return f"{self.prefix}/smtune-{name}" if self.prefix else f"smtune-{name}"

    def reference(self, name: str, tag: str) -> str:
        return f"{self.host}/{self.repository(name)}:{tag}"


def ecr_password(ecr: Any) -> str:
    """The password of an ECR login, from GetAuthorizationToken (user AWS, valid 12 hours)."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    if user != "AWS" or not password:
        raise ValueError("ECR returned an authorization token that is not AWS:<password>")
    return password


def ensure_repository(ecr: Any, repository: str) -> bool:
    """Create the ECR repository if it is missing; True when it was created."""
    try:
        ecr.describe_repositories(repositoryNames=[repository])
        return False
    except ecr.exceptions.RepositoryNotFoundException:
        ecr.create_repository(
            repositoryName=repository,
            imageScanningConfiguration={"scanOnPush": True},
            imageTagMutability="MUTABLE",
        )
        logger.info("created ECR repository %s", repository)
        return True


def push(
    names: Sequence[str],
    registry: Registry,
    tag: str,
    tool: str = "docker",
    run: Run = _run,
    ecr: Any = None,
) -> list[str]:
    """Push smtune-NAME:TAG for each name; returns REGISTRY/smtune-NAME@sha256:... each."""
    if registry.ecr_region is not None:
        if ecr is None:
            import boto3

            ecr = boto3.client("ecr", region_name=registry.ecr_region)
        # The password goes through stdin: never in argv, where `ps` would show it.
        run([tool, "login", "--username", "AWS", "--password-stdin", registry.host],
            input=ecr_password(ecr))  # fmt: skip
        for name in names:
            ensure_repository(ecr, registry.repository(name))
    pushed = []
    for name in names:
        target = registry.reference(name, tag)
        run([tool, "tag", f"smtune-{name}:{tag}", target])
        output = run([tool, "push", target]).stdout
        digest = DIGEST.search(output)
        if digest is None:
            raise RuntimeError(f"pushed {target} but found no digest in the output:\n{output}")
        pushed.append(f"{registry.host}/{registry.repository(name)}@{digest.group(1)}")
    return pushed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smtune.containers.registry")
    commands = parser.add_subparsers(dest="command", required=True)
    push_command = commands.add_parser("push", help="tag and push smtune images")
    push_command.add_argument("--registry", required=True, help="host[:port][/path]")
    push_command.add_argument("--tag", default="0.1.0")
    push_command.add_argument("--tool", default="docker")
    push_command.add_argument("names", nargs="+", help="catalogue names, e.g. xgboost")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        for reference in push(args.names, Registry.parse(args.registry), args.tag, args.tool):
            print(reference)
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(error.cmd[:3])} failed: {error.stderr.strip()}", file=sys.stderr)
        return 1
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
