"""Two real ranks over gloo (torch.distributed, and Horovod): they stop at the same step, share
rank 0's checkpoint, and only rank 0 prints; and a process's rank without a library."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtune.entrypoints.toolkit import distributed

REPO = Path(__file__).resolve().parents[3]

RANK = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from smtune.entrypoints.toolkit import checkpoints, distributed, metrics, stop

    rank, port, folder, library = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    stopping = stop.StopSignal.install()
    if library == "horovod":
        import horovod.torch as hvd
        hvd.init()
    else:
        import torch.distributed as dist
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=2)
    assert distributed.backend().name == library.upper()
    assert (distributed.rank(), distributed.world_size()) == (rank, 2)
    resumed = checkpoints.Checkpoints(folder).resume()
    LOSS = metrics.MetricSpec("train:loss", "train-loss", metrics.Direction.MINIMIZE)
    metrics.report(resumed.state["epoch"], {LOSS: 0.5})
    for step in range(20):
        if rank == 1 and step == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # only rank 1 is asked to stop
        if stopping.should_stop():
            print(f"rank {rank} received {stopping.received()} stopped at {step}", flush=True)
            break
    hvd.shutdown() if library == "horovod" else dist.destroy_process_group()
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def horovod_rendezvous() -> Iterator[dict[str, str]]:
    """What `horovodrun --gloo -np 2` gives two processes on this machine (rank aside)."""
    pytest.importorskip("horovod.torch", reason="needs Horovod built against torch")
    from horovod.runner.common.util.hosts import HostInfo, get_host_assignments
    from horovod.runner.http.http_server import RendezvousServer

    server = RendezvousServer()
    port = server.start()
    server.init(get_host_assignments([HostInfo("localhost", 2)], 2))
    try:
        yield {
            "HOROVOD_GLOO_RENDEZVOUS_ADDR": "127.0.0.1",
            "HOROVOD_GLOO_RENDEZVOUS_PORT": str(port),
            "HOROVOD_CONTROLLER": "gloo",
            "HOROVOD_CPU_OPERATIONS": "gloo",
            "HOROVOD_GLOO_IFACE": "lo",
            "HOROVOD_HOSTNAME": "localhost",
            "HOROVOD_SIZE": "2",
            "HOROVOD_LOCAL_SIZE": "2",
            "HOROVOD_CROSS_RANK": "0",
            "HOROVOD_CROSS_SIZE": "1",
        }
    finally:
        server.stop()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("library", ["torch", pytest.param("horovod", marks=pytest.mark.horovod)])
def test_two_ranks_stop_at_the_same_step_and_resume_from_rank_0s_checkpoint(
    tmp_path: Path, library: str
) -> None:
    pytest.importorskip("torch", reason="the ranks talk over torch.distributed or Horovod")
    from smtune.entrypoints.toolkit.checkpoints import Checkpoints

    folders = [tmp_path / "rank-0", tmp_path / "rank-1"]  # as on two hosts
    folders[1].mkdir()
    Checkpoints(folders[0]).save({"epoch": 4}, epoch=4)
    port = str(free_port())
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    with contextlib.ExitStack() as stack:
        if library == "horovod":
            env.update(stack.enter_context(horovod_rendezvous()))
        ranks = [
            subprocess.Popen(
                [sys.executable, "-c", RANK, str(rank), port, str(folders[rank]), library],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**env, "HOROVOD_RANK": str(rank), "HOROVOD_LOCAL_RANK": str(rank)}
                if library == "horovod"
                else env,
            )
            for rank in (0, 1)
        ]
        try:
            outputs = [process.communicate(timeout=50) for process in ranks]
        finally:
            for process in ranks:
                process.kill()
                process.wait()
    assert [p.returncode for p in ranks] == [0, 0], [err for _, err in outputs]
    assert outputs[0][0] == "[4]\ttrain-loss:0.5\nrank 0 received False stopped at 3\n"
    assert outputs[1][0] == "rank 1 received True stopped at 3\n"


@pytest.mark.parametrize(
    ("environ", "place"),
    [
        ({}, (0, 1)),
        ({"RANK": "2", "WORLD_SIZE": "4"}, (2, 4)),
        ({"HOROVOD_RANK": "1", "HOROVOD_SIZE": "3"}, (1, 3)),
        ({"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_SIZE": "8"}, (5, 8)),
        (
            {"SM_HOSTS": json.dumps(["algo-3", "algo-1", "algo-2"]), "SM_CURRENT_HOST": "algo-2"},
            (1, 3),
        ),
    ],
)
def test_without_a_library_the_rank_comes_from_the_environment(
    environ: dict[str, str], place: tuple[int, int]
) -> None:
    assert (distributed.rank(environ), distributed.world_size(environ)) == place
    assert distributed.is_leader(environ) is (place[0] == 0)


def test_without_a_library_there_is_nothing_to_agree_with() -> None:
    assert distributed.backend() is distributed.Backend.NONE
    assert distributed.any_true(True) and not distributed.any_true(False)
    assert distributed.broadcast({"epoch": 1}) == {"epoch": 1}
