"""A rehearsal's journal on a full disk: a line saying where and what to do, exit 2, and a
journal that resumes once there is room again."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtune.containers.status import JobStatus
from smtune.tuning.journal import JobRecord, Journal, JournalUnwritable, unwritable
from tests.conftest import tiny_disk
from tests.tuning.test_rehearsal import ENDED_WELL, cli_rehearsal, hosts_under, run_cli, wait_until

DISK_BYTES = 2 * 1024 * 1024
# Room left beside the journal: its schema and the first few jobs' writes fit, the rest not.
HEADROOM = 256 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB disk of our own."""
    with tiny_disk(tmp_path / "disk", size=str(DISK_BYTES)) as disk:
        yield disk


def fill(disk: Path, leave: int) -> Path:
    """A filler file that leaves `leave` bytes of `disk` free."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - leave))
    return filler


def recorded(journal: Path) -> tuple[list[JobRecord], list[tuple[str, int]]]:
    """The journal's jobs and (job, resource) observations, closed again after reading."""
    opened = Journal(journal)
    try:
        return opened.jobs(), [(job, resource) for job, resource, *_ in opened.observations()]
    finally:
        opened.close()


def test_a_journal_on_a_full_disk_says_so_and_resumes_once_there_is_room(
    tmp_path: Path, small_disk: Path
) -> None:
    command, _ = cli_rehearsal(tmp_path, seconds_per_epoch=0)
    journal = small_disk / "journal.db"
    command += ["--journal", str(journal), "--max-jobs", "4"]  # the last --journal counts
    filler = fill(small_disk, HEADROOM)

    full = run_cli(command)
    assert full.returncode == 2, full.stderr[-2000:]
    assert "Traceback" not in full.stderr
    assert f"smtune: error: the journal {journal} could not be written: the disk is full" in (
        full.stderr
    )
    assert "free space on its file system, then run the same command with --resume" in full.stderr
    kept, _ = recorded(journal)
    assert kept  # it failed mid-rehearsal: jobs were recorded before the disk filled
    assert wait_until(lambda: not hosts_under(tmp_path))  # and nothing is left running

    still_full = run_cli(command, "--resume")  # no room yet: the same line, nothing lost
    assert still_full.returncode == 2 and "the disk is full" in still_full.stderr
    assert [(j.name, j.status) for j in recorded(journal)[0]] == [(j.name, j.status) for j in kept]

    filler.unlink()
    resumed = run_cli(command, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after, observations = recorded(journal)
    assert [j.name for j in after] == [f"synthetic-hyperband-00{n}" for n in range(1, 5)]
    assert all(j.status in ENDED_WELL for j in after)
    for record in kept:  # the jobs it had finished are kept, not run again
        if record.status is not JobStatus.IN_PROGRESS:
            assert next(j for j in after if j.name == record.name) == record
    assert len(observations) == len(set(observations))  # no unit of resource counted twice


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # as sqlite3 sets it (an extended code)
    return error


def test_a_failing_disk_is_named_too_and_other_errors_stay_bugs(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    failing = unwritable(journal, sqlite_error("disk I/O error", 778))  # SQLITE_IOERR_WRITE
    assert isinstance(failing, JournalUnwritable)
    assert str(failing) == (
        f"the journal {journal} could not be written: its disk failed to write (disk I/O "
        "error): check the file system it lies on (room, the device, mounted read-write), "
        "then run the same command with --resume: what it recorded is kept"
    )
    assert unwritable(journal, sqlite_error("no such table: jobs", 1)) is None  # a bug of ours
    assert unwritable(journal, sqlite3.OperationalError("no code")) is None
