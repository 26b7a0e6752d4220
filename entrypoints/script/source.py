"""The script's code: fetched into the code folder, its requirements installed, its command.

`sagemaker_submit_directory` says where the code comes from, as sagemaker-training reads it:
- `s3://bucket/key.tar.gz`: the archive the SDK uploaded (boto3, imported only then);
- `file:///abs/path` or `/abs/path`: a folder, or a .tar.gz (SDK local mode rewrites its
  `file://` folder to `/opt/ml/code`, where it mounts it);
- absent: the code is in the code folder already.
As in sagemaker-training, a code folder that is not empty is used as it is (the docker
backend and SDK local mode mount the code there).
"""

from __future__ import annotations

import enum
import logging
import os
import re
import shlex
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from smtune.entrypoints.contract.errors import PlatformError, UserError
from smtune.entrypoints.contract.lifecycle import stoppable
from smtune.entrypoints.script.processes import Child
from smtune.entrypoints.script.settings import PROGRAM, SUBMIT_DIRECTORY

logger = logging.getLogger(__name__)

REQUIREMENTS = "requirements.txt"
# sagemaker-training's rule for an entry point: a relative path of plain names, which
# neither a shell nor Python can read as an option.
_ENTRY_POINT = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._+-]*(/[A-Za-z0-9._+-]+)*")
_FAILURE_TAIL_CHARS = 300


def fetch_code(submit_directory: str | None, code: Path) -> None:
    """Put the script's code into `code`, from where `submit_directory` says."""
    code.mkdir(parents=True, exist_ok=True)
    if any(code.iterdir()):
        logger.info("using the code already in %s", code)
        return
    if submit_directory is None:
        raise UserError(
            f"{SUBMIT_DIRECTORY} is not set and {code} is empty: set {SUBMIT_DIRECTORY} to "
            "the code's s3:// archive or file:// folder, or put the code in that folder"
        )
    if submit_directory.startswith("s3://"):
        with tempfile.TemporaryDirectory(prefix="smtune-code-") as folder:
            archive = Path(folder) / "sourcedir.tar.gz"
            _download(submit_directory, archive)
            _extract(archive, code, submit_directory)
        return
    source = _local_path(submit_directory)
    if source.is_dir():
        if source.resolve() != code.resolve():
            shutil.copytree(source, code, dirs_exist_ok=True, symlinks=True)
    elif source.is_file():
        _extract(source, code, submit_directory)
    else:
        raise UserError(
            f"{SUBMIT_DIRECTORY}={submit_directory!r} does not exist: must be an s3:// "
            "archive, or a file:// folder or .tar.gz this host can read"
        )


def _local_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    raise UserError(
        f"{SUBMIT_DIRECTORY}={uri!r} is not allowed: must be s3://bucket/key.tar.gz, "
        "file:///absolute/path or /absolute/path"
    )


def _download(uri: str, target: Path) -> None:
    import boto3
    import botocore.config
    import botocore.exceptions

    parsed = urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    region = os.environ.get("AWS_REGION") or os.environ.get("SAGEMAKER_REGION") or None
    config = botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"})
    s3 = boto3.client(
        "s3",
        region_name=region,
        endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,  # as sagemaker-training
        config=config,
    )
    logger.info("downloading the code from %s", uri)
    try:
        with stoppable():
            s3.download_file(bucket, key, str(target))
    except botocore.exceptions.ClientError as exc:
        raise UserError(
            f"{SUBMIT_DIRECTORY}={uri!r} could not be downloaded: {exc}", caused_by=exc
        ) from exc
    except (botocore.exceptions.BotoCoreError, OSError) as exc:
        raise PlatformError(
            f"{SUBMIT_DIRECTORY}={uri!r} could not be downloaded: {exc}", caused_by=exc
        ) from exc


def _extract(archive: Path, code: Path, uri: str) -> None:
    """Unpack a .tar.gz into `code`; tarfile's data filter refuses paths out of it, links out
    of it and device files."""
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            tar.extractall(code, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(
            f"{SUBMIT_DIRECTORY}={uri!r} is not a readable .tar.gz archive of the code: {exc}",
            caused_by=exc,
        ) from exc


def install_requirements(code: Path, env: Mapping[str, str]) -> None:
    """`python -m pip install -r requirements.txt` in `code`, if it has one.

    pip's output goes to the log as it comes; a failure is a UserError whose first line says
    so, followed by pip's last line.
    """
    if not (code / REQUIREMENTS).is_file():
        return
    logger.info("installing %s from the code", REQUIREMENTS)
    pip = Child(
        [sys.executable, "-m", "pip", "install", "-r", REQUIREMENTS],
        env,
        code,
        merge_stdout=True,
    )
    try:
        with stoppable():
            exit_code = pip.wait()
    finally:
        pip.end()  # a stop: pip and whatever it started end too
    if exit_code != 0:
        last = pip.tail(_FAILURE_TAIL_CHARS).splitlines()
        reason = last[-1].strip() if last else "no output"
        raise UserError(
            f"{REQUIREMENTS} of the code could not be installed (pip exited {exit_code}; the log "
            f"has pip's output): {reason}"
        )


class EntryPointKind(enum.Enum):
    """How sagemaker-training runs an entry point, by its name."""

    PYTHON = "python"  # name.py: `python name.py args`
    COMMAND = "command"  # anything else: run as a program (its #! line), else with /bin/sh


@dataclass(frozen=True)
class EntryPoint:
    """The script to run, found in the code folder."""

    path: Path
    kind: EntryPointKind

    @classmethod
    def find(cls, program: str, code: Path) -> EntryPoint:
        """`program` in `code`; a UserError names it and the rule it breaks."""
        if not _ENTRY_POINT.fullmatch(program) or any(
            part in (".", "..") for part in program.split("/")
        ):
            raise UserError(
                f"{PROGRAM}={program!r} is not allowed: must be a relative path inside the "
                "source directory of letters, digits, '.', '_', '+', '-' and '/', not starting "
                "with '-' or '/' and without '.' or '..' parts"
            )
        path = code / program
        if not path.resolve().is_relative_to(code.resolve()):
            raise UserError(f"{PROGRAM}={program!r} leads out of the source directory {code}")
        if not path.is_file():
            present = sorted(p.name for p in code.iterdir())[:10]
            raise UserError(
                f"{PROGRAM}={program!r} is not in the code: the source directory holds "
                f"{', '.join(present) or 'nothing'}; set {PROGRAM} to a file of it"
            )
        kind = EntryPointKind.PYTHON if program.endswith(".py") else EntryPointKind.COMMAND
        return cls(path, kind)

    def check_syntax(self) -> None:
        """A Python script that cannot compile fails every host before it starts, with the
        line, rather than as one traceback per process after the hosts met."""
        if self.kind is not EntryPointKind.PYTHON:
            return
        try:
            compile(self.path.read_bytes(), str(self.path), "exec")
        except (SyntaxError, ValueError) as exc:
            where = f" at line {exc.lineno}" if isinstance(exc, SyntaxError) else ""
            detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
            raise UserError(
                f"the training script {self.path.name} has a syntax error{where}: {detail} "
                f"({type(exc).__name__}): fix it and run the job again",
                caused_by=exc,
            ) from exc

    def command(self, arguments: list[str]) -> list[str]:
        """The command of one process that runs the script with `arguments`."""
        if self.kind is EntryPointKind.PYTHON:
            return [sys.executable, "-u", str(self.path), *arguments]
        with self.path.open("rb") as head:
            first = head.readline(4096)
        if not first.startswith(b"#!"):
            return ["/bin/sh", str(self.path), *arguments]
        if not os.access(self.path, os.X_OK):
            try:  # as sagemaker-training makes it executable
                self.path.chmod(self.path.stat().st_mode | 0o111)
            except OSError:  # a read-only mount of the code: its #! line says what runs it
                interpreter = shlex.split(first[2:].decode(errors="replace"))
                return [*interpreter, str(self.path), *arguments]
        return [str(self.path), *arguments]
