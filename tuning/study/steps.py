"""The study's journal: one SQLite file in the out folder, one row per finished step.

A step (the baseline at a size, the tuning job at a size, the rung check) is written once it
has ended, in one transaction, so that a study killed at any moment (even by kill -9) keeps
every finished step; the tuning jobs' own rehearsal journals keep their finished training
jobs. The one row of `study` names the study (and the version of its file) the folder holds.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from smtune.containers.errors import BadInput

SCHEMA = """
CREATE TABLE IF NOT EXISTS study (
    one INTEGER PRIMARY KEY CHECK (one = 1),   -- a single row: whose folder this is
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    key TEXT PRIMARY KEY,        -- baseline-2, tuning-2, rung-check
    result TEXT NOT NULL,        -- the step's result, as JSON
    seconds REAL NOT NULL,       -- how long the step ran (for the estimate of what is left)
    ended REAL NOT NULL
);
"""
FILE = "study.db"


class StudyJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)  # autocommit: nothing buffered
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise BadInput(
                f"the study journal {path} is damaged ({error}): remove it to start over"
            ) from None

    def close(self) -> None:
        self.db.close()

    def owner(self) -> tuple[str, str] | None:
        """(name, fingerprint) of the study this journal belongs to; None when new."""
        row = self.db.execute("SELECT name, fingerprint FROM study").fetchone()
        return (row[0], row[1]) if row else None

    def claim(self, name: str, fingerprint: str) -> None:
        self.db.execute("INSERT INTO study VALUES (1, ?, ?)", (name, fingerprint))

    def record(self, key: str, result: dict[str, Any], seconds: float) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?)",
            (key, json.dumps(result), seconds, time.time()),
        )

    def steps(self) -> dict[str, tuple[dict[str, Any], float]]:
        """Every finished step: its result and its seconds, in the order they ended."""
        rows = self.db.execute("SELECT key, result, seconds FROM steps ORDER BY ended").fetchall()
        return {key: (json.loads(result), seconds) for key, result, seconds in rows}
