"""The rehearsal's journal: one SQLite file with every job, observation and decision.

Written as the rehearsal goes (each write is its own transaction, and the writes of one event
share one: `Journal.transaction`), so that a rehearsal killed at any moment, even by
`kill -9`, leaves a journal to resume from: the scheduler's state is rebuilt by replaying
suggestions, then observations in the order they were made.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from smtune.containers import lock
from smtune.containers.errors import BadInput
from smtune.containers.status import JobStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    number INTEGER PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,
    bracket INTEGER NOT NULL,
    hyperparameters TEXT NOT NULL,
    hosts INTEGER NOT NULL,
    status TEXT NOT NULL,            -- a JobStatus value
    reason TEXT,
    started REAL,
    ended REAL,
    pids TEXT,                       -- unused: kept so that older journals still open
    attempts INTEGER NOT NULL DEFAULT 1,  -- a retried job's attempts (tuning.rehearsal.failures)
    ended_after INTEGER              -- the observations journaled before its end
);
CREATE TABLE IF NOT EXISTS observations (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL REFERENCES jobs(name),
    resource INTEGER NOT NULL,
    value REAL NOT NULL,
    decision TEXT NOT NULL,
    time REAL NOT NULL,
    UNIQUE (job, resource)
);
-- Each job's training job definition, when the tuning job has named ones.
CREATE TABLE IF NOT EXISTS job_definitions (
    job TEXT PRIMARY KEY REFERENCES jobs(name),
    definition TEXT NOT NULL
);
"""


class ObservationRecord(NamedTuple):
    """One journaled result of a job, as the journal hands it out (frozen, by name or in
    order)."""

    job: str
    resource: int
    value: float
    decision: str  # the scheduler's Decision value
    time: float


class Point(NamedTuple):
    """One point of a learning curve: the resource reached and the objective there."""

    resource: int
    value: float


@dataclass(frozen=True)
class JobRecord:
    number: int
    name: str
    bracket: int
    hyperparameters: dict[str, Any]
    hosts: int
    status: JobStatus
    reason: str | None
    started: float | None
    ended: float | None
    attempts: int = 1  # more than 1: retried (tuning.rehearsal.failures); still one job
    # Ended after the first N observations: where a replay ends it (the median rule judges
    # a result by the jobs ended before it). None: still running, or an older journal.
    ended_after: int | None = None


class JournalError(BadInput):
    """A journal that cannot be used: damaged, or on a disk that takes no more writes."""


class JournalUnwritable(JournalError):
    """A journal its disk would not take a write of (full, or failing)."""


# SQLite's primary result codes for a disk that takes no more: full, or failing to write.
ADVICE = {
    sqlite3.SQLITE_FULL: ("the disk is full", "free space on its file system"),
    sqlite3.SQLITE_IOERR: (
        "its disk failed to write",
        "check the file system it lies on (room, the device, mounted read-write)",
    ),
}


def unwritable(path: Path, error: sqlite3.OperationalError) -> JournalUnwritable | None:
    """The error to give for `error` on the journal at `path`, if its disk refused a write;
    None for anything else. SQLite rolled the write back: the journal is whole, to resume."""
    said = ADVICE.get((getattr(error, "sqlite_errorcode", None) or 0) & 0xFF)  # extended: primary
    if said is None:
        return None
    what, fix = said
    return JournalUnwritable(
        f"the journal {path} could not be written: {what} ({error}): {fix}, then run the "
        "same command with --resume: what it recorded is kept"
    )


def exclusive(path: Path) -> AbstractContextManager[None]:
    """Hold the journal at `path` for one rehearsal: a second is refused at once, naming the
    holder, instead of ending the first one's hosts and laying out its jobs' folders again.

    The lock is containers.lock's flock, on `<journal>.lock`: gone with its holder, even by
    kill -9.
    """
    return lock.exclusive(
        path.with_name(f"{path.name}.lock"),
        f"journal {path}",
        "a journal takes one rehearsal at a time: wait for it to end, or end it, then --resume",
    )


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)  # autocommit: nothing buffered
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            # A truncated file can still open: check its pages before replaying from it.
            verdict = self.db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(verdict)
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(jobs)")}
            if "attempts" not in columns:  # a journal from before retries: one attempt each
                self.db.execute("ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1")
            if "ended_after" not in columns:  # from before: its replay goes by the times
                self.db.execute("ALTER TABLE jobs ADD COLUMN ended_after INTEGER")
        except sqlite3.DatabaseError as error:
            self.db.close()
            if isinstance(error, sqlite3.OperationalError) and (refused := unwritable(path, error)):
                raise refused from None  # a full disk, not a damaged journal
            raise JournalError(
                f"the journal {path} is damaged ({error}): --resume needs the journal whole: "
                f"remove it (with any {path.name}-wal and {path.name}-shm beside it) to start "
                "over, or put back a copy"
            ) from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The writes made inside are one transaction: a kill, even by `kill -9`, leaves all
        of them in the journal or none (SQLite drops an uncommitted WAL tail on the next
        open). Inside another one, it joins that one."""
        if self.db.in_transaction:
            yield
            return
        self._execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.in_transaction:  # SQLite may have rolled back already (a full disk)
                self.db.execute("ROLLBACK")
            raise
        self._execute("COMMIT")

    def _execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Every statement after opening: a disk that refuses a write is named, with what
        to do, instead of a traceback (outside `transaction`, a statement is its own one)."""
        try:
            return self.db.execute(sql, parameters)
        except sqlite3.OperationalError as error:
            refused = unwritable(self.path, error)
            if refused is None:
                raise
            raise refused from None

    def meta(self, key: str) -> str | None:
        row = self._execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def add_job(
        self,
        number: int,
        name: str,
        bracket: int,
        hyperparameters: dict[str, Any],
        hosts: int,
        started: float,
    ) -> None:
        self._execute(
            "INSERT INTO jobs (number, name, bracket, hyperparameters, hosts, status, started, "
            "pids) VALUES (?, ?, ?, ?, ?, ?, ?, '[]')",
            (
                number,
                name,
                bracket,
                json.dumps(hyperparameters),
                hosts,
                JobStatus.IN_PROGRESS.value,
                started,
            ),
        )

    def set_definition(self, job: str, definition: str) -> None:
        """Record the training job definition (its DefinitionName) `job` runs."""
        self._execute("INSERT OR REPLACE INTO job_definitions VALUES (?, ?)", (job, definition))

    def definitions(self) -> dict[str, str]:
        """Each job's definition name, in job order; empty for an unnamed definition."""
        return dict(
            self._execute(
                "SELECT d.job, d.definition FROM job_definitions d "
                "JOIN jobs j ON j.name = d.job ORDER BY j.number"
            ).fetchall()
        )

    def restart_job(self, name: str, started: float) -> None:
        self._execute("UPDATE jobs SET started = ? WHERE name = ?", (started, name))

    def retry_job(self, name: str) -> None:
        """Count a retry of `name`: the same job, restarted (its start stays the first's)."""
        self._execute("UPDATE jobs SET attempts = attempts + 1 WHERE name = ?", (name,))

    def attempts(self, name: str) -> int:
        """The attempts `name` has had, this one included."""
        row = self._execute("SELECT attempts FROM jobs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise KeyError(f"{name!r} is not a job of the journal {self.path}")
        return int(row[0])

    def end_job(self, name: str, status: JobStatus, reason: str | None, ended: float) -> None:
        self._execute(
            "UPDATE jobs SET status = ?, reason = ?, ended = ?, "
            "ended_after = (SELECT COUNT(*) FROM observations) WHERE name = ?",
            (status.value, reason, ended, name),
        )

    def observe(self, job: str, resource: int, value: float, decision: str, time: float) -> None:
        self._execute(
            "INSERT INTO observations (job, resource, value, decision, time) "
            "VALUES (?, ?, ?, ?, ?)",
            (job, resource, value, decision, time),
        )

    def jobs(self) -> list[JobRecord]:
        rows = self._execute(
            "SELECT number, name, bracket, hyperparameters, hosts, status, reason, started, "
            "ended, attempts, ended_after FROM jobs ORDER BY number"
        ).fetchall()
        return [
            JobRecord(
                number=r[0],
                name=r[1],
                bracket=r[2],
                hyperparameters=json.loads(r[3]),
                hosts=r[4],
                status=JobStatus(r[5]),
                reason=r[6],
                started=r[7],
                ended=r[8],
                attempts=r[9],
                ended_after=r[10],
            )
            for r in rows
        ]

    def last_observations(self) -> dict[str, Point]:
        """Each job's last point: its resource used and its final objective."""
        return {job: curve[-1] for job, curve in self.curves().items()}

    def curves(self) -> dict[str, list[Point]]:
        """Each job's learning curve, in the order its points were reported: the one reader
        of curves (reports, warm start's parents, a study's runs)."""
        curves: dict[str, list[Point]] = {}
        for row in self.observations():
            curves.setdefault(row.job, []).append(Point(row.resource, row.value))
        return curves

    def last_points_after(self, sequence: int) -> tuple[int, dict[str, Point]]:
        """(the last sequence number, each job's last point) of the observations journaled
        after `sequence`: what a reader that keeps each job's last point needs, without
        re-reading the ones it has."""
        rows = self._execute(
            "SELECT sequence, job, resource, value FROM observations WHERE sequence > ? "
            "ORDER BY sequence",
            (sequence,),
        ).fetchall()
        last = {job: Point(resource, value) for _, job, resource, value in rows}
        return (rows[-1][0] if rows else sequence), last

    def observations(self) -> list[ObservationRecord]:
        """Every observation, in the order they were made."""
        rows = self._execute(
            "SELECT job, resource, value, decision, time FROM observations ORDER BY sequence"
        ).fetchall()
        return [ObservationRecord(*row) for row in rows]


def ends_in_order(
    records: list[JobRecord], observations: list[ObservationRecord]
) -> list[tuple[int, str]]:
    """(how many observations were journaled before its end, job) of each ended job, in the
    order they ended: where a replay ends it. An older journal, without `ended_after`, places
    an end after the observations journaled by its time."""
    times = [row.time for row in observations]
    ends = []
    for record in records:
        if record.status is JobStatus.IN_PROGRESS:
            continue
        after = record.ended_after
        if after is None:
            after = len(times) if record.ended is None else bisect_right(times, record.ended)
        ends.append((after, record.ended or 0.0, record.number, record.name))
    return [(after, name) for after, *_, name in sorted(ends)]
