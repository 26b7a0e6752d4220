"""A script's process: its stderr streamed and its tail kept; signals reach its whole group."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from smtune.entrypoints.script.processes import Child, tail_text


def test_tail_text_keeps_the_last_whole_lines() -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(100))
    assert tail_text(data, 20) == "line 98\nline 99"
    assert tail_text(b"short\n\n", 100) == "short"


def test_stderr_is_copied_as_it_comes_and_its_tail_kept(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = "import sys\nprint('metric=1', flush=True)\nfor i in range(500): print(f'err {i}', file=sys.stderr)\nsys.exit(3)\n"  # noqa: E501
    child = Child([sys.executable, "-c", code], dict(os.environ), tmp_path)
    assert child.wait() == 3
    child.join()
    captured = capfd.readouterr()
    assert captured.out == "metric=1\n"  # stdout untouched
    assert "err 0\n" in captured.err and "err 499\n" in captured.err
    assert child.tail(30).endswith("err 498\nerr 499")


@pytest.mark.timeout(20)
def test_a_signal_reaches_every_process_of_the_group(tmp_path: Path) -> None:
    # The script starts a grandchild; both must get SIGTERM.
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    pid_file = tmp_path / "out"
    with pid_file.open("w") as out:
        child = Child([sys.executable, "-c", code], dict(os.environ), tmp_path)
        del out
    try:
        deadline = time.monotonic() + 10
        grandchildren: list[int] = []
        while not grandchildren and time.monotonic() < deadline:
            grandchildren = [pid for pid in _children(child.pid)]
            time.sleep(0.05)
        assert grandchildren
        child.signal(signal.SIGTERM)
        assert child.wait() == -signal.SIGTERM
        time.sleep(0.2)
        assert not any(_alive(pid) for pid in grandchildren)
    finally:
        child.end()


@pytest.mark.timeout(20)
def test_kill_ends_what_ignores_sigterm(tmp_path: Path) -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\n"
    child = Child([sys.executable, "-c", code], dict(os.environ), tmp_path)
    try:
        time.sleep(0.5)
        child.signal(signal.SIGTERM)
        time.sleep(0.3)
        assert child.poll() is None
        child.signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        child.end()


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
