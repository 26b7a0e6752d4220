"""The set-up promise: `make demo` needs Python 3.11 and make only; Horovod is built by the
targets that need it, and its tests skip with a reason where it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HOROVOD_REQUIRED_VARIABLE, REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(target: str, tmp_path: Path) -> str:
    """The commands `make TARGET` would run for a fresh venv, without running them."""
    result = subprocess.run(
        ["make", "--dry-run", target, f"VENV={tmp_path / 'venv'}", "PYTHON=python3.11"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_make_demo_installs_no_compiler_built_or_dev_packages(tmp_path: Path) -> None:
    commands = dry_run("demo", tmp_path)
    assert "pip install --quiet -e '.[data]'" in commands
    assert "smtune demo" in commands
    for heavy in ("horovod", "cmake", "[dev]", "torch"):
        assert heavy not in commands, f"make demo would need {heavy}:\n{commands}"


def test_make_test_needs_no_horovod_but_make_horovod_builds_it(tmp_path: Path) -> None:
    assert "horovod" not in dry_run("test", tmp_path)
    horovod = dry_run("horovod", tmp_path)
    assert "build-horovod-wheel.sh" in horovod and "[dev]" in horovod


def _run_horovod_test(tmp_path: Path, required: bool) -> subprocess.CompletedProcess[str]:
    """A Horovod test of the main venv, run where `import horovod` fails (a stand-in package
    earlier on the path), as on a machine where it was never built."""
    stub = tmp_path / "stub" / "horovod"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('no Horovod on this machine')\n")
    environ = {**os.environ, "PYTHONPATH": str(stub.parent)}
    environ.pop(HOROVOD_REQUIRED_VARIABLE, None)
    if required:
        environ[HOROVOD_REQUIRED_VARIABLE] = "1"
    test = (
        "tests/entrypoints/dnn/test_training.py::"
        "test_two_hosts_train_an_epoch_with_identical_parameters[horovod]"
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", test],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.timeout(150)
def test_horovod_tests_skip_with_a_reason_where_it_is_missing(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the DNN tests need torch")
    result = _run_horovod_test(tmp_path, required=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "Horovod is not built in this venv (make horovod)" in result.stdout


@pytest.mark.timeout(150)
def test_ci_fails_horovod_tests_where_it_is_missing(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the DNN tests need torch")
    result = _run_horovod_test(tmp_path, required=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout  # failed in set-up: the test itself never ran
    assert f"{HOROVOD_REQUIRED_VARIABLE}=1 but Horovod is not built" in result.stdout


@pytest.mark.timeout(120)
def test_the_suite_collects_where_torch_is_missing(tmp_path: Path) -> None:
    """`make test` runs the SDK venvs' tests from the whole suite, and they have no torch: a
    test module that needs it must skip (pytest.importorskip), not fail to import."""
    stub = tmp_path / "stub" / "torch"
    stub.mkdir(parents=True)
    # As a venv without torch answers: pytest.importorskip skips on ModuleNotFoundError only.
    (stub / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\")\n")
    environ = {**os.environ, "PYTHONPATH": str(stub.parent)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
