"""One run at a time: a folder (or a journal) held by the run that writes it.

A flock on a small file, which the kernel lets go of when its holder ends, however it ends
(kill -9 included): a lock file a dead run left refuses nothing. The file holds the holder's
pid and start time, read back to name it; Python opens it close-on-exec, so the jobs a run
starts do not inherit the lock and cannot outlive it holding it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from smtune.containers.errors import BadInput

#: The file in an out folder that its run holds.
LOCK_FILE = ".smtune.lock"


class InUse(BadInput):
    """What a run would write is another run's still."""


@contextmanager
def exclusive(lock: Path, what: str, rule: str) -> Iterator[None]:
    """Hold `lock` while the block runs; if another process holds it, refuse at once with
    InUse: "`what` is in use by pid N since T: `rule`"."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            holder = holder or "another run, starting"
            raise InUse(f"{what} is in use by {holder}: {rule}") from None
        since = datetime.now().astimezone().isoformat(timespec="seconds")
        # The holder's name is for the message only; the flock is the lock. On a full disk
        # it may not be written: the run still holds, and its own writes say what is wrong.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {since}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # and with it the lock


def out_folder(folder: Path, what: str | None = None) -> contextlib.AbstractContextManager[None]:
    """Hold the out `folder` (made if missing) for one run: a second run into it is refused
    at once, naming the holder, instead of overwriting the first one's model and logs.
    `what` names the folder in the message (default: `--out FOLDER`)."""
    folder.mkdir(parents=True, exist_ok=True)
    return exclusive(
        folder / LOCK_FILE,
        what or f"--out {folder}",
        "a folder takes one run at a time: wait for it to end, or end it, or choose another --out",
    )
