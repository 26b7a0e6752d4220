"""`smtune train dnn --backend docker --entry-point ...`: a user's script in 2 containers of the
DNN image, its folder mounted read-only at /opt/ml/code as SDK local mode mounts it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from smtune.containers.local.docker import docker
from tests.containers.test_cli import smtune

pytestmark = pytest.mark.docker

SCRIPT = """
import json, os, sys
from pathlib import Path

host = os.environ["SM_CURRENT_HOST"]
try:
    Path("/opt/ml/code/written").write_text("x")
    code_writable = True
except OSError:
    code_writable = False
config = json.loads(Path("/opt/ml/input/config/hyperparameters.json").read_text())
record = {"host": host, "args": sys.argv[1:], "code_writable": code_writable, "config": config}
Path(os.environ["SM_MODEL_DIR"], "seen.json").write_text(json.dumps(record))
"""


@pytest.fixture(scope="module")
def script_image(dnn_image: str) -> str:
    """The DNN image, once it has script mode (an image built before it has not)."""
    found = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "python", dnn_image,
        "-c", "import smtune.entrypoints.script.runner", check=False,
    )  # fmt: skip
    if found.returncode != 0:
        reason = f"image {dnn_image} predates script mode (entrypoints.script): make build"
        if os.environ.get("SMTUNE_REQUIRE_DOCKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return dnn_image


@pytest.mark.timeout(180)
def test_a_script_runs_in_each_container_from_a_read_only_mount(
    tmp_path: Path, script_image: str
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    out = tmp_path / "job"
    result = smtune(
        "train", "dnn", "--backend", "docker", "--image", script_image, "--hosts", "2",
        "--entry-point", "train.py", "--source-dir", str(source),
        "--hp", "epochs=2", "--out", str(out), timeout=170,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    for host in ("algo-1", "algo-2"):
        seen = json.loads((out / host / "model" / "seen.json").read_text())
        assert seen["host"] == host and seen["args"] == ["--epochs", "2"]
        assert not seen["code_writable"]  # the user's folder, mounted read-only
        assert "sagemaker_submit_directory" not in seen["config"]  # the code is at the mount
        assert seen["config"]["sagemaker_program"] == '"train.py"'
    assert sorted(p.name for p in source.iterdir()) == ["train.py"]
