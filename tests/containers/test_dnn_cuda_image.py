"""The built CUDA variant of the DNN image on a machine without a GPU: it says so, asks
NVIDIA's runtime for the GPUs, and trains on CPUs. Skipped where the variant is not built
(CI does not build it: its wheels are about 3 GB; test_dnn_cuda_variant.py checks it there)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from smtune.containers.local.docker import docker, engine_available
from smtune.entrypoints.dnn.metrics import VALIDATION_ACCURACY
from tests.containers.test_cli import smtune

pytestmark = pytest.mark.docker

CUDA_IMAGE = os.environ.get("SMTUNE_TEST_DNN_CUDA_IMAGE", "smtune-dnn:0.1.0-cuda")


@pytest.fixture(scope="module")
def cuda_image() -> str:
    if not engine_available():
        pytest.skip("no Docker engine")
    if docker("image", "inspect", CUDA_IMAGE, check=False).returncode != 0:
        pytest.skip(f"{CUDA_IMAGE} is not built (make build IMAGES=dnn DNN_VARIANT=cuda)")
    return CUDA_IMAGE


def test_check_finds_no_gpu_here_and_says_so(cuda_image: str) -> None:
    result = docker("run", "--rm", "--network", "none", cuda_image, "--check", check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "torch 2.13.0+cu130 (CUDA 13.0, NCCL 2.29.7): found no GPU, ready to train on CPUs "
        "with gloo"
    )
    assert "UserWarning" not in result.stderr, result.stderr  # Horovod's version warning


def test_it_asks_nvidias_runtime_for_every_gpu(cuda_image: str) -> None:
    config = json.loads(docker("image", "inspect", cuda_image).stdout)[0]["Config"]
    assert config["Labels"]["smtune.torch-variant"] == "cuda"
    assert "NVIDIA_VISIBLE_DEVICES=all" in config["Env"]
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in config["Env"]
    assert config["Entrypoint"] == ["python", "-m", "smtune.entrypoints.dnn"]
    assert config["Cmd"] == ["train"]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("launcher", ["torchrun", "horovod"])
def test_without_a_gpu_it_trains_on_cpus_with_either_launcher(
    cuda_image: str, shared_data: Path, tmp_path: Path, launcher: str
) -> None:
    # horovod: the CPU build's Horovod, loaded against the CUDA build of the same torch.
    data = tmp_path / "mnist"
    prepared = smtune(
        "data", "mnist", "--source", str(shared_data / "mnist"), "--out", str(data),
        "--train-limit", "2000", "--validation-limit", "300",
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    result = smtune(
        "train", "dnn", "--backend", "docker", "--image", cuda_image, "--hosts", "1",
        "--train", str(data / "train"), "--validation", str(data / "validation"),
        "--hp", "epochs=1", "--hp", "optimizer=adam", "--hp", "lr=0.002",
        "--hp", "batch_size=32", "--hp", f"launcher={launcher}", "--out", str(tmp_path / "job"),
        "--quiet", timeout=280,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "job Completed" in result.stderr
    log = (tmp_path / "job" / "algo-1.log").read_text()
    backend = "horovod+gloo" if launcher == "horovod" else "gloo"
    assert f"rank 0 of 1 on cpu ({backend})" in log, log[-3000:]
    accuracy = [VALIDATION_ACCURACY.read(line) for line in log.splitlines() if line.startswith("[")]
    assert len(accuracy) == 1 and (accuracy[0] or 0) > 0.8, accuracy
