"""One status enum: no module spells a job's status as a string of its own."""

from __future__ import annotations

import ast
from pathlib import Path

from smtune.containers.status import JobStatus, TuningJobStatus

REPO = Path(__file__).resolve().parents[2]
SPELLINGS = {s.value for s in JobStatus} | {s.value for s in TuningJobStatus}
ENUMS = {"JobStatus", "TuningJobStatus"}


def literals_outside_the_enums(path: Path, root: Path = REPO) -> list[str]:
    tree = ast.parse(path.read_text())
    inside = {
        id(node)
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef) and cls.name in ENUMS
        for node in ast.walk(cls)
    }
    return [
        f"{path.relative_to(root)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in SPELLINGS and id(node) not in inside
    ]


def test_statuses_are_spelled_only_by_their_enums() -> None:
    found = [
        literal
        for package in ("containers", "tuning", "entrypoints")
        for path in sorted((REPO / package).rglob("*.py"))
        for literal in literals_outside_the_enums(path)
    ]
    assert found == []


def test_the_check_sees_a_literal(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text('class JobStatus:\n    A = "Stopped"\n\n\nDONE = "Completed"\n')
    assert literals_outside_the_enums(module, tmp_path) == ["probe.py:5: 'Completed'"]


def test_the_journal_stores_the_value_and_gives_back_the_enum(tmp_path: Path) -> None:
    from smtune.tuning.journal import Journal

    journal = Journal(tmp_path / "j.db")
    journal.add_job(1, "job-1", 0, {"x": 1}, 2, 10.0)
    assert journal.jobs()[0].status is JobStatus.IN_PROGRESS
    journal.end_job("job-1", JobStatus.STOPPED, "Hyperband", 12.0)
    stored = journal.db.execute("SELECT status FROM jobs").fetchone()[0]
    assert stored == JobStatus.STOPPED.value and journal.jobs()[0].status is JobStatus.STOPPED
