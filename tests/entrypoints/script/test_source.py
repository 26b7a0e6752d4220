"""The script's code: fetched from where sagemaker_submit_directory says, requirements, entry."""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
from pathlib import Path

import pytest

from smtune.entrypoints.contract.errors import PlatformError, UserError
from smtune.entrypoints.script.source import (
    EntryPoint,
    EntryPointKind,
    fetch_code,
    install_requirements,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    (source / "lib").mkdir(parents=True)
    (source / "train.py").write_text("print('hi')\n")
    (source / "lib" / "util.py").write_text("X = 1\n")
    return source


def archive(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return target


@pytest.mark.parametrize("form", ["file_uri", "absolute", "archive_uri"])
def test_the_code_comes_from_a_folder_or_an_archive(
    folder: Path, tmp_path: Path, form: str
) -> None:
    uri = {
        "file_uri": folder.as_uri(),
        "absolute": str(folder),
        "archive_uri": archive(folder, tmp_path / "sourcedir.tar.gz").as_uri(),
    }[form]
    code = tmp_path / "opt" / "ml" / "code"
    fetch_code(uri, code)
    assert (code / "train.py").read_text() == "print('hi')\n"
    assert (code / "lib" / "util.py").exists()


def test_code_already_in_place_is_used_as_it_is(folder: Path, tmp_path: Path) -> None:
    # The docker backend and SDK local mode mount the code there; the URI is the host's.
    fetch_code("file:///nowhere/on/this/host", folder)
    fetch_code(None, folder)
    assert (folder / "train.py").exists()


def test_no_code_anywhere_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"sagemaker_submit_directory is not set and .* is empty"):
        fetch_code(None, tmp_path / "code")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("file:///no/such/folder", r"='file:///no/such/folder' does not exist"),
        ("relative/folder", r"='relative/folder' is not allowed: must be s3://"),
        ("http://example.com/x.tar.gz", r"is not allowed: must be s3://bucket/key.tar.gz"),
    ],
)
def test_an_unreachable_source_is_refused_naming_it(tmp_path: Path, uri: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        fetch_code(uri, tmp_path / "code")


def test_a_corrupt_archive_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "sourcedir.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 this is not gzip data at all")
    with pytest.raises(UserError, match=r"is not a readable \.tar\.gz archive of the code"):
        fetch_code(bad.as_uri(), tmp_path / "code")


def test_an_archive_reaching_out_of_the_code_folder_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "evil.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.py")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"x=1"))
    with pytest.raises(UserError, match=r"is not a readable \.tar\.gz archive"):
        fetch_code(bad.as_uri(), tmp_path / "code")
    assert not (tmp_path / "escaped.py").exists()


@pytest.mark.timeout(60)
def test_an_unreachable_s3_archive_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("boto3")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    uri = "s3://bucket/job/source/sourcedir.tar.gz"
    with pytest.raises(PlatformError, match=r"sagemaker_submit_directory='s3://bucket/.*' could"):
        fetch_code(uri, tmp_path / "code")


def test_the_entry_point_is_found_and_run_by_its_kind(folder: Path) -> None:
    python = EntryPoint.find("train.py", folder)
    assert python.kind is EntryPointKind.PYTHON
    assert python.command(["--lr", "0.1"]) == [
        sys.executable, "-u", str(folder / "train.py"), "--lr", "0.1",
    ]  # fmt: skip
    (folder / "run.sh").write_text("#!/bin/sh\necho $1\n")
    shell = EntryPoint.find("run.sh", folder)
    assert shell.command(["a"]) == [str(folder / "run.sh"), "a"]
    assert os.stat(folder / "run.sh").st_mode & stat.S_IXUSR  # made executable, as the toolkit
    (folder / "plain").write_text("echo plain\n")
    assert EntryPoint.find("plain", folder).command([]) == ["/bin/sh", str(folder / "plain")]


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (
            "missing.py",
            r"sagemaker_program='missing.py' is not in the code: .* holds lib, train.py",
        ),
        ("../train.py", r"sagemaker_program='../train.py' is not allowed: must be a relative path"),
        ("/abs/train.py", "is not allowed"),
        ("-c.py", "is not allowed"),
        ("lib", "is not in the code"),  # a folder
    ],
)
def test_a_bad_entry_point_is_refused_naming_it(folder: Path, program: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        EntryPoint.find(program, folder)


@pytest.mark.timeout(60)
def test_requirements_that_cannot_install_are_a_one_line_reason(
    folder: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (folder / "requirements.txt").write_text("smtune-no-such-package-here==1.0\n")
    environ = {
        **os.environ,
        "PIP_INDEX_URL": "http://127.0.0.1:9/",
        "PIP_DEFAULT_TIMEOUT": "1",
        "PIP_RETRIES": "0",
    }
    environ.pop("PIP_NO_INDEX", None)
    with pytest.raises(UserError) as raised:
        install_requirements(folder, environ)
    message = raised.value.message
    assert message.startswith("requirements.txt of the code could not be installed (pip exited 1")
    assert "\n" not in message and "smtune-no-such-package-here" in message
    assert "smtune-no-such-package-here" in capfd.readouterr().err  # pip's output is logged


@pytest.mark.timeout(60)
def test_satisfied_requirements_install_without_an_index(folder: Path) -> None:
    (folder / "requirements.txt").write_text("pytest\n")  # installed here: nothing to fetch
    install_requirements(folder, {**os.environ, "PIP_NO_INDEX": "1"})


def test_no_requirements_nothing_to_install(folder: Path) -> None:
    install_requirements(folder, {})
