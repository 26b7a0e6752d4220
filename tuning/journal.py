"""The rehearsal's journal: one SQLite file with every job, observation and decision.

Written as the rehearsal goes (each write is its own transaction), so that a rehearsal
killed at any moment, even by `kill -9`, leaves a journal to resume from: the scheduler's
state is rebuilt by replaying suggestions, then observations in the order they were made.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    number INTEGER PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,
    bracket INTEGER NOT NULL,
    hyperparameters TEXT NOT NULL,
    hosts INTEGER NOT NULL,
    status TEXT NOT NULL,            -- InProgress, Completed, Stopped, Failed
    reason TEXT,
    started REAL,
    ended REAL,
    pids TEXT                        -- the hosts' process groups, to end after a crash
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
"""


@dataclass(frozen=True)
class JobRecord:
    number: int
    name: str
    bracket: int
    hyperparameters: dict[str, Any]
    hosts: int
    status: str
    reason: str | None
    started: float | None
    ended: float | None
    pids: list[int]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)  # autocommit: nothing buffered
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def add_job(
        self,
        number: int,
        name: str,
        bracket: int,
        hyperparameters: dict[str, Any],
        hosts: int,
        started: float,
    ) -> None:
        self.db.execute(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, 'InProgress', NULL, ?, NULL, '[]')",
            (number, name, bracket, json.dumps(hyperparameters), hosts, started),
        )

    def restart_job(self, name: str, started: float) -> None:
        self.db.execute("UPDATE jobs SET started = ? WHERE name = ?", (started, name))

    def set_pids(self, name: str, pids: list[int]) -> None:
        self.db.execute("UPDATE jobs SET pids = ? WHERE name = ?", (json.dumps(pids), name))

    def end_job(self, name: str, status: str, reason: str | None, ended: float) -> None:
        self.db.execute(
            "UPDATE jobs SET status = ?, reason = ?, ended = ? WHERE name = ?",
            (status, reason, ended, name),
        )

    def observe(self, job: str, resource: int, value: float, decision: str, time: float) -> None:
        self.db.execute(
            "INSERT INTO observations (job, resource, value, decision, time) "
            "VALUES (?, ?, ?, ?, ?)",
            (job, resource, value, decision, time),
        )

    def jobs(self) -> list[JobRecord]:
        rows = self.db.execute("SELECT * FROM jobs ORDER BY number").fetchall()
        return [
            JobRecord(
                number=r[0],
                name=r[1],
                bracket=r[2],
                hyperparameters=json.loads(r[3]),
                hosts=r[4],
                status=r[5],
                reason=r[6],
                started=r[7],
                ended=r[8],
                pids=json.loads(r[9] or "[]"),
            )
            for r in rows
        ]

    def last_observations(self) -> dict[str, tuple[int, float]]:
        """Each job's last (resource, value): its resource used and its final objective."""
        last = {}
        for job, resource, value, _, _ in self.observations():
            last[job] = (resource, value)
        return last

    def observations(self) -> list[tuple[str, int, float, str, float]]:
        """(job, resource, value, decision, time), in the order they were made."""
        return self.db.execute(
            "SELECT job, resource, value, decision, time FROM observations ORDER BY sequence"
        ).fetchall()
