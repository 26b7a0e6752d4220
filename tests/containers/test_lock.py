"""smtune.containers.lock: one run at a time in a folder, refused at once, never stale."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from smtune.containers.errors import BadInput, exit_for
from smtune.containers.lock import LOCK_FILE, InUse, exclusive, out_folder

HOLDER = re.compile(r"pid (\d+) since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d)")


@contextmanager
def held_in_child(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """A child process that holds `folder`, entered once it holds it (it says so on its
    stdout: no sleep stands in for that), killed when the block ends, however it ends."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from smtune.containers.lock import out_folder\n"
            f"with out_folder(Path({str(folder)!r})):\n"
            "    print('held', flush=True)\n"
            "    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        yield child
    finally:
        child.kill()  # nothing if the block killed it already
        child.wait()


def test_a_held_folder_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with held_in_child(out) as child:
        began = time.monotonic()
        with pytest.raises(InUse) as refused, out_folder(out):
            pytest.fail("a held folder was entered")
        assert time.monotonic() - began < 0.5  # it waited for nothing
    message = str(refused.value)
    assert message.startswith(f"--out {out} is in use by pid {child.pid} since ")
    assert HOLDER.search(message)
    assert "choose another --out" in message
    assert isinstance(refused.value, BadInput)  # exit 2, one line
    assert exit_for(refused.value) == (2, f"smtune: error: {message}")


def test_a_lock_left_by_a_killed_holder_refuses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with held_in_child(out) as child:
        os.kill(child.pid, signal.SIGKILL)  # no finally, no atexit: only the kernel lets go
        child.wait()
    left = (out / LOCK_FILE).read_text()
    assert left.startswith(f"pid {child.pid} since ")  # the file stays, naming the dead
    with out_folder(out):
        assert (out / LOCK_FILE).read_text().startswith(f"pid {os.getpid()} since ")


def test_the_lock_is_let_go_when_the_block_ends_by_an_error(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with pytest.raises(RuntimeError), exclusive(lock, "x", "rule"):
        raise RuntimeError("the run failed")
    with exclusive(lock, "x", "rule"):  # held again at once: the failed run let go
        pass


def test_one_process_cannot_hold_a_folder_twice(tmp_path: Path) -> None:
    # flock is per open file: a second open in the same process is refused too, so a run
    # cannot take a folder a block of its own already holds.
    refused = pytest.raises(InUse, match=f"pid {os.getpid()} since ")
    with out_folder(tmp_path), refused, out_folder(tmp_path):
        pytest.fail("a folder was held twice")
