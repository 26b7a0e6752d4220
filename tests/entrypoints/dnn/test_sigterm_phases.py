"""A stop (SIGTERM) ends a DNN host within 10 s in every phase, as a stop in training does.

Each case starts the leader host alone (its peer, if any, never comes), waits for a log
line of the phase, sends SIGTERM, and expects exit 0 without a failure file. The host's
own SIGTERM handler (lifecycle.run) is installed before any of those lines is logged.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.entrypoints.dnn.conftest import dnn_job
from tests.entrypoints.xgboost.test_sigterm_phases import STOP_WITHIN_S, lone_leader, stop_and_time

# The data check made slow from outside: it sleeps in Python, as a long check would run.
SLOW_CHECK = textwrap.dedent(
    """
    import logging, runpy, time
    import smtune.entrypoints.dnn.data as data

    read = data.read_channel
    def slow(channel):
        logging.getLogger("test").warning("checking the data slowly")
        time.sleep(60)
        return read(channel)
    data.read_channel = slow
    runpy.run_module("smtune.entrypoints.dnn", run_name="__main__")
    """
)


LAUNCHERS = ["torchrun", pytest.param("horovod", marks=pytest.mark.horovod)]
# phase -> hosts, marker, whether the data check is slowed
PHASES = {
    "data check": (1, "checking the data slowly", True),
    "rendezvous": (2, "joining the job's 2 hosts", False),
    "launcher start": (1, "1 hosts x 1 workers, launcher", False),
    "training": (1, "steps per epoch", False),
}


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("phase", list(PHASES))
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_sigterm_stops_the_host_within_10_s(
    mnist: Path, tmp_path: Path, launcher: str, phase: str
) -> None:
    hosts, marker, slow = PHASES[phase]
    epochs = 20 if phase == "training" else 1
    spec = dnn_job(
        mnist, tmp_path / "job", hosts, launcher=launcher, processes_per_host=1, epochs=epochs
    )
    command = (
        [sys.executable, "-c", SLOW_CHECK]
        if slow
        else [sys.executable, "-m", "smtune.entrypoints.dnn"]
    )
    with lone_leader(spec, command) as (process, tree):
        took = stop_and_time(process, spec.log_path("algo-1"), marker)
        assert took < STOP_WITHIN_S, f"{phase}: still running {took:.1f} s after SIGTERM"
        assert process.returncode == 0, spec.log_path("algo-1").read_text()[-3000:]
        assert not tree.failure.exists(), tree.failure.read_text()
