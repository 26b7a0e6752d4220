"""A stop (SIGTERM) reaching an XGBoost host that waits for its peers to join ends it at once.

`lone_leader` and `stop_and_time` serve the DNN's phase tests too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec
from smtune.containers.local.layout import ChannelSource, lay_out_host
from smtune.containers.local.process import (
    host_environment,
    release_port_block,
    reserve_port_block,
    start_logged,
)
from smtune.entrypoints.contract.paths import ContainerPaths
from tests.conftest import write_csv

STOP_WITHIN_S = 10.0


@contextlib.contextmanager
def lone_leader(
    spec: JobSpec, command: list[str]
) -> Iterator[tuple[subprocess.Popen[bytes], ContainerPaths]]:
    """The leader of `spec` started alone (its peers never come) and its tree; its process
    group is killed afterwards, whatever happened."""
    spec.out.mkdir(parents=True, exist_ok=True)
    tree = lay_out_host(
        spec.out, spec.hosts, "algo-1", spec.channels, spec.hyperparameters, network_interface="lo"
    )
    base = reserve_port_block()
    process, pump = start_logged(
        command,
        spec.log_path("algo-1"),
        echo=False,
        cwd=tree.root,
        env=host_environment(spec, tree, base),
    )
    try:
        yield process, tree
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pump.join(5)
        release_port_block(base)


def stop_and_time(process: subprocess.Popen[bytes], log: Path, marker: str) -> float:
    """SIGTERM once `marker` is logged (the host's handler is in place by then); the seconds
    the host took to end, cut at 30."""
    deadline = time.monotonic() + 60
    while not (log.exists() and marker in log.read_text()):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{marker!r} never appeared in {log}"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    return time.monotonic() - sent


@pytest.mark.timeout(90)
def test_sigterm_while_waiting_for_a_peer_to_join_stops_within_10_s(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "data" / "train.csv", 200)
    spec = JobSpec(
        image=image("xgboost"),
        host_count=2,
        channels={"train": ChannelSource("train", train.parent)},
        hyperparameters={"num_round": "3", "objective": "binary:logistic"},
        out=tmp_path / "job",
    )  # algo-2 never starts: the leader would wait the 300-s rendezvous timeout
    with lone_leader(spec, [sys.executable, "-m", "smtune.entrypoints.xgboost"]) as (process, tree):
        took = stop_and_time(process, spec.log_path("algo-1"), "joining the job's 2 hosts")
        assert took < STOP_WITHIN_S, f"still running {took:.1f} s after SIGTERM"
        assert process.returncode == 0, spec.log_path("algo-1").read_text()[-3000:]
        assert not tree.failure.exists(), tree.failure.read_text()
