"""Files that survive a crash whole or not at all: checkpoints a later job resumes from.

A file is written under a temporary name, flushed to the disk (fsync), renamed, and its
folder flushed too: without the fsyncs a power loss or a lost instance can leave the new
name pointing at an empty or partial file, the one a restarted job would pick first.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from smtune.entrypoints.contract.errors import PlatformError, TrainingError, UserError

# A full disk (or quota) is the user's to fix: the job's volume holds its data channels
# and its checkpoints, and its size is the job's VolumeSizeInGB; a rerun as it is fails alike.
_FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


def write_whole(path: Path, data: bytes, what: str = "checkpoint") -> None:
    """Write `data` to `path` atomically and durably; no temporary file is left on failure.

    Raises:
        UserError: the disk is full: the message says so and names `path`.
        PlatformError: any other failure of the disk.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        _write_synced(partial, data)
        os.replace(partial, path)
        _sync_folder(path.parent)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise _disk_error(exc, path, what) from exc


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        # A full disk may show only here, when delayed blocks are allocated.
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
            os.fsync(fd)
    finally:
        os.close(fd)


def _disk_error(exc: OSError, path: Path, what: str) -> TrainingError:
    if exc.errno in _FULL:
        return UserError(
            f"{_FULL[exc.errno]} while writing {what} {path}: free space there, or give the "
            "job a larger volume (VolumeSizeInGB)",
            caused_by=exc,
        )
    return PlatformError(f"could not write {what} {path}: {exc.strerror or exc}", caused_by=exc)
