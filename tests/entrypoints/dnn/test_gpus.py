"""The DNN image on GPUs, with the GPU count injected (no GPU here): one torchrun worker per
visible GPU over resourceconfig.json's interface, Horovod refused there before any worker
starts, and what `--check` says about the GPUs it found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smtune.containers.local.layout import ChannelSource, lay_out_host
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.dnn.gpus import Accelerators, horovod_refusal

torch = pytest.importorskip("torch", reason="the launcher imports torch")

CPU_BUILD = Accelerators("2.13.0+cpu", cuda=None, nccl=None, gpus=())
CUDA_BUILD = Accelerators("2.13.0", cuda="13.0", nccl="2.29.7", gpus=())
HOROVOD_ON_GPUS = "launcher=horovod is not supported on this host's 4 GPU(s)"


def test_check_line_of_the_cpu_build_is_unchanged() -> None:
    assert CPU_BUILD.check_line() == "torch 2.13.0+cpu: ready to train"


def test_check_line_of_the_cuda_build_says_what_it_found() -> None:
    assert CUDA_BUILD.check_line() == (
        "torch 2.13.0 (CUDA 13.0, NCCL 2.29.7): found no GPU, ready to train on CPUs with gloo"
    )
    two = Accelerators("2.13.0", "13.0", "2.29.7", gpus=("NVIDIA H200", "NVIDIA H200"))
    assert two.check_line() == (
        "torch 2.13.0 (CUDA 13.0, NCCL 2.29.7): found 2 GPU(s) (NVIDIA H200), "
        "ready to train with NCCL"
    )


def test_accelerators_here_reads_this_machines_torch() -> None:
    found = Accelerators.here()
    assert found.torch_version == torch.__version__
    assert found.cuda == torch.version.cuda
    assert len(found.gpus) == torch.cuda.device_count()
    assert (found.nccl is None) == (found.cuda is None)


def test_horovod_is_refused_on_gpus_only_without_nccl() -> None:
    assert horovod_refusal(gpus=0, nccl_built=False) is None
    assert horovod_refusal(gpus=4, nccl_built=True) is None
    refusal = horovod_refusal(gpus=4, nccl_built=False)
    assert isinstance(refusal, UserError)
    assert refusal.message.startswith(HOROVOD_ON_GPUS), refusal.message
    assert "HOROVOD_GPU_OPERATIONS=NCCL" in refusal.message
    assert "use launcher=torchrun" in refusal.message


class Launched:
    """Stands in for torchrun's agent: records what the host would start."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, dict[str, str]]] = []

    def __call__(self, env: Any, topology: Any, processes: int, environ: dict[str, str]) -> None:
        self.calls.append((processes, environ))


def run_host(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gpus: int,
    mnist: Path,
    **hyperparameters: object,
) -> Launched:
    """launch.main on one host whose torch sees `gpus` GPUs, up to starting its workers."""
    from smtune.entrypoints.contract.lifecycle import StopFlag
    from smtune.entrypoints.dnn import launch

    replicated = S3DistributionType.FULLY_REPLICATED
    paths = lay_out_host(
        tmp_path / "job",
        ("algo-1",),
        "algo-1",
        {"train": ChannelSource("train", mnist / "train", replicated, "application/x-idx")},
        {"epochs": "1", **{k: str(v) for k, v in hyperparameters.items()}},
        network_interface="ens5",
    )
    launched = Launched()
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(launch, "run_torchrun", launched)
    launch.main(paths, StopFlag())
    return launched


def test_torchrun_starts_one_worker_per_visible_gpu_over_the_configured_interface(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist: Path
) -> None:
    launched = run_host(tmp_path, monkeypatch, 4, mnist)
    [(processes, environ)] = launched.calls
    assert processes == 4
    assert environ["NCCL_SOCKET_IFNAME"] == "ens5"
    assert environ["GLOO_SOCKET_IFNAME"] == "ens5"


def test_without_a_gpu_torchrun_starts_one_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist: Path
) -> None:
    launched = run_host(tmp_path, monkeypatch, 0, mnist)
    assert [processes for processes, _ in launched.calls] == [1]


def test_more_workers_than_gpus_is_refused_before_any_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist: Path
) -> None:
    with pytest.raises(UserError, match="processes_per_host=5 is out of range: must be"):
        run_host(tmp_path, monkeypatch, 4, mnist, processes_per_host=5)


@pytest.mark.horovod
def test_horovod_on_gpus_is_refused_before_any_worker_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist: Path
) -> None:
    # This venv's Horovod is the images' build: gloo only, no NCCL.
    with pytest.raises(UserError) as error:
        run_host(tmp_path, monkeypatch, 4, mnist, launcher="horovod")
    assert error.value.message.startswith(HOROVOD_ON_GPUS), error.value.message
