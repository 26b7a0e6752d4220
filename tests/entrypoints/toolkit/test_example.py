"""The shipped script-mode example: trains, stops on SIGTERM with a checkpoint, and resumes
to the very model an uninterrupted run ends with."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the example trains with torch")

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "script-mode" / "train.py"


@pytest.fixture(scope="module")
def mnist(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from smtune.containers.data.mnist import prepare

    out = tmp_path_factory.mktemp("mnist")
    prepare(shared_data / "mnist", out, {"train": 3000, "validation": 500})
    return out


def start(data: Path, root: Path) -> subprocess.Popen[str]:
    """The example as script mode starts it on one host, with a CheckpointConfig."""
    config = root / "ml" / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "checkpointconfig.json").write_text(json.dumps({"LocalPath": str(root / "ckpt")}))
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "SAGEMAKER_BASE_DIR": str(root / "ml"),
        "SM_CHANNEL_TRAIN": str(data / "train"),
        "SM_CHANNEL_VALIDATION": str(data / "validation"),
        "SM_MODEL_DIR": str(root / "model"),
    }
    return subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--epochs", "3", "--batch_size", "16", "--lr", "0.02"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen[str], lines: list[str] | None = None) -> list[str]:
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return (lines or []) + out.splitlines()


def accuracies(lines: list[str]) -> list[str]:
    return [line.split("\t")[0] + line.split("\t")[-1] for line in lines]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_example_stops_with_a_checkpoint_and_resumes_to_the_same_model(
    mnist: Path, tmp_path: Path
) -> None:
    whole = finish(start(mnist, tmp_path / "whole"))
    assert [line[:3] for line in whole] == ["[0]", "[1]", "[2]"]
    assert all("\ttrain-loss:" in line and "\tvalidation-accuracy:" in line for line in whole)

    cut = start(mnist, tmp_path / "cut")
    try:
        assert cut.stdout is not None
        first = cut.stdout.readline().rstrip("\n")
        # At once: an epoch here takes a fraction of a second, so where the stop lands (in
        # epoch 1, or later on a loaded machine) is timing; that it resumes exactly is not.
        cut.send_signal(signal.SIGTERM)
        before = finish(cut, [first])
    finally:
        cut.kill()
    assert not (tmp_path / "cut" / "model").exists()  # stopped before the end
    assert len(before) < len(whole), before
    names = sorted(p.name for p in (tmp_path / "cut" / "ckpt").iterdir())
    # The stop's checkpoint is the newest: where the stop came, after at least epoch 0.
    assert names and names[-1] > "checkpoint-00001-", names

    resumed = finish(start(mnist, tmp_path / "cut"))
    assert accuracies(before + resumed) == accuracies(whole)
    models = [torch.load(tmp_path / run / "model" / "model.pt") for run in ("whole", "cut")]
    assert all(torch.equal(models[0][k], models[1][k]) for k in models[0])
