"""`workers.supervise` when a peer host is lost: its own processes' failures still count."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from smtune.entrypoints import workers
from smtune.entrypoints.contract.lifecycle import StopFlag


def _python(code: str) -> workers.PopenWorker:
    return workers.PopenWorker(subprocess.Popen([sys.executable, "-c", code]))


@pytest.mark.timeout(60)
def test_a_process_already_ending_when_a_peer_is_lost_is_named_with_its_own_exit() -> None:
    # mpi script mode: a script's sys.exit(3) runs Horovod's shutdown first, which fails the
    # peer host's script, whose host then tells this one of a loss while its own process is
    # still ending. A SIGTERM then would hide the 3 (-15, or no failure at all).
    ending = _python("import time; time.sleep(0.5); raise SystemExit(3)")
    ended = workers.supervise({0: (0, ending)}, StopFlag(), 10.0, interrupted=lambda: True)
    assert ended == workers.WorkerExit(0, 0, 3)


@pytest.mark.timeout(60)
def test_a_process_that_does_not_end_after_a_peer_is_lost_is_ended_after_the_grace() -> None:
    hanging = _python("import time; time.sleep(600)")
    started = time.monotonic()
    ended = workers.supervise({0: (0, hanging)}, StopFlag(), 10.0, interrupted=lambda: True)
    took = time.monotonic() - started
    assert ended is None  # ended by us, for the peer: the peer's failure is the job's
    assert hanging.poll() == -15
    assert workers.PEER_LOSS_GRACE_S <= took < workers.PEER_LOSS_GRACE_S + 5
