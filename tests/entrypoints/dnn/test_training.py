"""DNN jobs on the process backend: 2 hosts train MNIST with each launcher, fail, stop, resume."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest

# The SDK venvs (`make test`'s sdk2 and sdk3 runs) have no torch; only their tests run there.
pytest.importorskip("torch", reason="the DNN needs torch (the main venv has it)")

from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.dnn.launch import descendants
from smtune.entrypoints.dnn.metrics import METRIC_SPECS, VALIDATION_ACCURACY
from smtune.entrypoints.toolkit.checkpoints import Checkpoints
from tests.entrypoints.dnn.conftest import digests, dnn_job, wait_for

LAUNCHERS = ["torchrun", pytest.param("horovod", marks=pytest.mark.horovod)]


def metric_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("[")]


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_two_hosts_train_an_epoch_with_identical_parameters(
    mnist: Path, tmp_path: Path, launcher: str
) -> None:
    result = ProcessBackend().run(dnn_job(mnist, tmp_path / "job", launcher=launcher))
    assert result.status is JobStatus.COMPLETED, result.reason
    lines = metric_lines(result.leader_log)
    assert len(lines) == 1  # one line per epoch, from global rank 0 only
    assert metric_lines(tmp_path / "job" / "algo-2.log") == []
    values = {spec.name: spec.read(lines[0]) for spec in METRIC_SPECS}
    assert None not in values.values(), lines[0]
    assert values[VALIDATION_ACCURACY.name] > 0.9
    ranks = digests(tmp_path / "job", hosts=2)
    assert sorted(ranks) == [0, 1] and len(set(ranks.values())) == 1
    assert not (tmp_path / "job" / "algo-2" / "model" / "model.pt").exists()
    assert_the_saved_models_agree(tmp_path / "job" / "algo-1" / "model")


def assert_the_saved_models_agree(folder: Path) -> None:
    """The state_dict in the architecture, and the exported program, predict alike."""
    import json

    import torch

    from smtune.entrypoints.dnn.model import build

    model = build(json.loads((folder / "architecture.json").read_text())).eval()
    model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    program = torch.export.load(folder / "model.pt2").module()
    images = torch.randn(7, 1, 28, 28)
    assert torch.allclose(model(images), program(images), atol=1e-6)


def worker_pids(job: object, host: str) -> list[int]:
    host_pid = job.processes[host].pid  # type: ignore[attr-defined]
    return [
        pid
        for pid in descendants(host_pid)
        if b"smtune.entrypoints.dnn.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("launcher", LAUNCHERS)
@pytest.mark.parametrize(("victim", "survivor"), [("algo-2", "algo-1"), ("algo-1", "algo-2")])
def test_a_worker_killed_mid_epoch_fails_every_host_naming_it(
    mnist: Path, tmp_path: Path, launcher: str, victim: str, survivor: str
) -> None:
    # The leader's worker is rank 0, which holds torchrun's store and prints the metrics.
    spec = dnn_job(mnist, tmp_path / "job", epochs=20, batch_size=16, launcher=launcher)
    with ProcessBackend().start(spec) as job:
        wait_for(spec.log_path("algo-1"), "[0]\t")
        (worker,) = worker_pids(job, victim)
        os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        result = job.wait()
    assert time.monotonic() - killed < 60
    assert result.status is JobStatus.FAILED
    by_host = {h.host: h for h in result.hosts}
    rank = 0 if victim == "algo-1" else 1
    assert by_host[victim].exit_code == 1
    assert by_host[victim].failure.startswith(  # type: ignore[union-attr]
        f"worker rank {rank} (local rank 0) on host {victim} was killed by SIGKILL"
    )
    assert by_host[survivor].exit_code == 1
    assert by_host[survivor].failure.startswith(  # type: ignore[union-attr]
        f"host {victim} was lost during training"
    )
    leftovers = [p for h in ("algo-1", "algo-2") for p in worker_pids(job, h)]
    assert leftovers == []


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_sigterm_then_resume_gives_the_uninterrupted_metrics(
    mnist: Path, tmp_path: Path, launcher: str
) -> None:
    settings = {"epochs": 3, "batch_size": 32, "optimizer": "sgd", "lr": 0.05, "launcher": launcher}
    whole = ProcessBackend().run(dnn_job(mnist, tmp_path / "whole", **settings))
    assert whole.status is JobStatus.COMPLETED, whole.reason
    assert list((tmp_path / "whole" / "algo-1" / "checkpoints").iterdir()) == []  # none asked

    spec = replace(dnn_job(mnist, tmp_path / "cut", **settings), checkpoints=True)
    with ProcessBackend().start(spec) as job:
        wait_for(spec.log_path("algo-1"), "[0]\t")
        time.sleep(0.5)  # into the second epoch
        job.stop()
        stopped = job.wait()
    assert stopped.status is JobStatus.STOPPED
    assert all(h.exit_code == 0 for h in stopped.hosts)
    saved = Checkpoints(tmp_path / "cut" / "algo-1" / "checkpoints").newest()
    assert saved is not None and saved.name != "checkpoint-00003-000000.pt"
    before = metric_lines(stopped.leader_log)  # the resumed job writes the log anew

    resumed = ProcessBackend().run(JobSpec(**{**spec.__dict__, "resume": True}))
    assert resumed.status is JobStatus.COMPLETED, resumed.reason
    assert f"resuming from {saved}" in resumed.leader_log.read_text()
    cut = before + metric_lines(resumed.leader_log)
    # gloo sums in a fixed order for a fixed world, and the CPU kernels are deterministic:
    # the resumed job prints the very same numbers.
    assert cut == metric_lines(whole.leader_log)
    assert digests(tmp_path / "cut", 2) == digests(tmp_path / "whole", 2)
