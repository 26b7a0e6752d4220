"""A child process of the host whose stderr is streamed to the log and its tail remembered.

SageMaker's toolkit captures a failed script's stderr for the failure reason; here the
stream still reaches the host's log as it comes (chunks, not lines: a progress bar without
newlines must not wait), and only the last few KiB are kept for the failure file. stdout is
inherited untouched: metric lines reach the log exactly as the script prints them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smtune.entrypoints.workers import descendants

TAIL_BYTES = 4096
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Any:
    """A preexec_fn that makes the child SIGKILLed if this host's process dies first.

    The child leads a session of its own (so that a stop can signal everything it started),
    which a backend killing the host's process group no longer reaches.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not after
    except (OSError, AttributeError):  # not Linux
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def tail_text(data: bytes, max_chars: int) -> str:
    """The last whole lines of `data` that fit in `max_chars`, without trailing blanks."""
    text = data.decode(errors="replace").rstrip()
    if len(text) <= max_chars:
        return text
    cut = text[-max_chars:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < len(cut) - 1 else cut


class Child:
    """A started process in its own session, its stderr copied to ours as it comes.

    Args:
        command: What to run.
        env: Its whole environment.
        cwd: Its working directory.
        merge_stdout: Send its stdout into the same stream (for a tool's chatter, such as
            pip's, which has no business among the metric lines on stdout).
    """

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        merge_stdout: bool = False,
    ) -> None:
        self.command = list(command)
        self._tail = b""
        self._lock = threading.Lock()
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                self.command,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=write_end if merge_stdout else None,
                stderr=write_end,
                start_new_session=True,
                preexec_fn=_die_with_parent(),  # a single C call: safe between fork and exec
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)  # the child holds its own copy: EOF once it (and its own) end
        self._pump_thread = threading.Thread(target=self._pump, args=(read_end,), daemon=True)
        self._pump_thread.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self) -> int:
        return self.process.wait()

    def signal(self, signum: int) -> None:
        """Signal the child's whole process group: what it started gets it too. SIGKILL goes
        to every descendant as well, as `kill` does."""
        if signum == signal.SIGKILL:
            self.kill()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL its group and every descendant (some, like torchrun's workers, lead
        sessions of their own)."""
        tree = descendants(self.process.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def end(self) -> None:
        """Kill whatever is left of it, and collect it."""
        self.kill()
        self.process.wait()
        self.join()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait for its output to be copied (a grandchild may hold the pipe: not forever)."""
        self._pump_thread.join(timeout_s)

    def tail(self, max_chars: int) -> str:
        with self._lock:
            return tail_text(self._tail, max_chars)

    def _pump(self, fd: int) -> None:
        # os.read, not readline: whatever arrived is passed on at once.
        out = sys.stderr.fileno()
        try:
            while chunk := os.read(fd, 65536):
                with contextlib.suppress(OSError):  # our stderr gone: keep the tail anyway
                    _write_all(out, chunk)
                with self._lock:
                    self._tail = (self._tail + chunk)[-TAIL_BYTES:]
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
