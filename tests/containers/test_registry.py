"""`make push`: for real against a local registry, and the ECR path with botocore's Stubber."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from smtune.containers.local.docker import docker
from smtune.containers.local.process import release_port_block, reserve_port_block
from smtune.containers.registry import Registry, ecr_password, ensure_repository, push
from tests.conftest import REPO

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture
def local_registry(tmp_path: Path) -> Iterator[str]:
    """Debian's docker-registry serving on loopback, storing under tmp_path."""
    binary = shutil.which("docker-registry")
    if binary is None:
        if os.environ.get("SMTUNE_REQUIRE_DOCKER") == "1":
            pytest.fail("SMTUNE_REQUIRE_DOCKER=1 but Debian's docker-registry is not installed")
        pytest.skip("docker-registry is not installed")
    port = reserve_port_block()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'storage'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    server = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
        release_port_block(port)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_make_push_round_trips_through_a_registry(
    docker_image: str, dnn_image: str, local_registry: str
) -> None:
    tag = docker_image.rsplit(":", 1)[1]
    assert dnn_image.rsplit(":", 1)[1] == tag  # `make push` pushes every image with one TAG
    result = subprocess.run(
        ["make", "--no-print-directory", "push", f"REGISTRY={local_registry}/team", f"TAG={tag}"],
        cwd=REPO, capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    references = result.stdout.strip().splitlines()[-2:]  # one line an image, as IMAGES lists
    for image, reference in zip((docker_image, dnn_image), references, strict=True):
        repository = image.rsplit(":", 1)[0]
        assert reference.startswith(f"{local_registry}/team/{repository}@sha256:")
        original = docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
        docker("image", "rm", f"{local_registry}/team/{repository}:{tag}")
        docker("pull", reference)  # by digest: exactly what was pushed
        pulled = docker("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()
        docker("image", "rm", reference, check=False)
        assert pulled == original


def test_push_without_registry_says_how(tmp_path: Path) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "push", "REGISTRY="], cwd=REPO, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "REGISTRY is not set: make push REGISTRY=host[:port][/path]" in result.stdout


@pytest.mark.parametrize(
    ("text", "region", "repository"),
    [
        (ECR, "eu-west-1", "smtune-xgboost"),
        (f"{ECR}/ml", "eu-west-1", "ml/smtune-xgboost"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1", "smtune-xgboost"),
        ("localhost:5000", None, "smtune-xgboost"),
        ("registry.example.com/a/b", None, "a/b/smtune-xgboost"),
    ],
)
def test_registry_names(text: str, region: str | None, repository: str) -> None:
    registry = Registry.parse(text)
    assert registry.ecr_region == region
    assert registry.repository("xgboost") == repository


def test_bad_registry_is_named() -> None:
    with pytest.raises(ValueError, match="REGISTRY='' must be host"):
        Registry.parse("")


class Recorder:
    """Stands in for the docker CLI in the ECR test only: there is no ECR here."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def __call__(self, command: list[str], input: str | None = None) -> Any:
        self.calls.append((command, input))
        stdout = f"0.1.0: digest: sha256:{'ab' * 32} size: 1234" if command[1] == "push" else ""
        return subprocess.CompletedProcess(command, 0, stdout, "")


def test_ecr_push_logs_in_with_a_token_and_creates_the_repository() -> None:
    ecr = boto3.client(
        "ecr", region_name="eu-west-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )  # fmt: skip
    token = base64.b64encode(b"AWS:s3cr3t-password").decode()
    with Stubber(ecr) as stub:
        stub.add_response(
            "get_authorization_token",
            {"authorizationData": [{"authorizationToken": token,
                                    "proxyEndpoint": f"https://{ECR}"}]},
            {},
        )  # fmt: skip
        stub.add_client_error(
            "describe_repositories",
            service_error_code="RepositoryNotFoundException",
            expected_params={"repositoryNames": ["ml/smtune-xgboost"]},
        )
        stub.add_response(
            "create_repository",
            {"repository": {"repositoryName": "ml/smtune-xgboost"}},
            {
                "repositoryName": "ml/smtune-xgboost",
                "imageScanningConfiguration": {"scanOnPush": True},
                "imageTagMutability": "MUTABLE",
            },
        )
        recorder = Recorder()
        pushed = push(["xgboost"], Registry.parse(f"{ECR}/ml"), "0.1.0", run=recorder, ecr=ecr)
        stub.assert_no_pending_responses()
    login, password = recorder.calls[0]
    assert login == ["docker", "login", "--username", "AWS", "--password-stdin", ECR]
    assert password == "s3cr3t-password"  # through stdin, never in argv
    assert all("s3cr3t-password" not in " ".join(c) for c, _ in recorder.calls)
    assert recorder.calls[1][0] == ["docker", "tag", "smtune-xgboost:0.1.0",
                                    f"{ECR}/ml/smtune-xgboost:0.1.0"]  # fmt: skip
    assert pushed == [f"{ECR}/ml/smtune-xgboost@sha256:{'ab' * 32}"]


def test_an_existing_ecr_repository_is_left_alone() -> None:
    ecr = boto3.client(
        "ecr", region_name="eu-west-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )  # fmt: skip
    with Stubber(ecr) as stub:
        stub.add_response(
            "describe_repositories",
            {"repositories": [{"repositoryName": "smtune-xgboost"}]},
            {"repositoryNames": ["smtune-xgboost"]},
        )
        assert ensure_repository(ecr, "smtune-xgboost") is False
        stub.add_response("get_authorization_token", {"authorizationData": [
            {"authorizationToken": base64.b64encode(b"nobody:x").decode()}]}, {})  # fmt: skip
        with pytest.raises(ValueError, match="not AWS:<password>"):
            ecr_password(ecr)
