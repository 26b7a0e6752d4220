"""The rehearsal journal's transactions: a kill inside one, even `kill -9`, leaves none of
its writes; an error inside one rolls it back; one inside another joins it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smtune.tuning.journal import Journal

REPO = Path(__file__).resolve().parents[2]

# Two writes of one event, then the process is killed before anything else can happen.
KILLED = """
import os, signal, sys
from pathlib import Path
from smtune.tuning.journal import Journal
journal = Journal(Path(sys.argv[1]))
{begin}
    journal.add_job(1, "j-001", 0, {{}}, 2, 1.0)
    journal.set_definition("j-001", "first")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_between_writes(path: Path, transaction: bool) -> None:
    begin = "with journal.transaction():" if transaction else "if True:"
    code = KILLED.format(begin=begin)
    ran = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, check=False)
    assert ran.returncode == -9


@pytest.mark.timeout(60)
def test_a_kill_inside_a_transaction_leaves_none_of_its_writes(tmp_path: Path) -> None:
    killed_between_writes(tmp_path / "inside.db", transaction=True)
    inside = Journal(tmp_path / "inside.db")
    assert inside.jobs() == [] and inside.definitions() == {}
    killed_between_writes(tmp_path / "outside.db", transaction=False)  # each write its own
    outside = Journal(tmp_path / "outside.db")
    assert [r.name for r in outside.jobs()] == ["j-001"]
    assert outside.definitions() == {"j-001": "first"}


def test_an_error_inside_a_transaction_rolls_it_back_and_an_inner_one_joins_it(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "journal.db")
    with pytest.raises(RuntimeError), journal.transaction():
        journal.add_job(1, "j-001", 0, {}, 2, 1.0)
        with journal.transaction():  # joins: its end commits nothing
            journal.set_definition("j-001", "first")
        raise RuntimeError("the event went wrong before its last write")
    assert journal.jobs() == [] and journal.definitions() == {}
    with journal.transaction():
        journal.add_job(1, "j-001", 0, {}, 2, 1.0)
    assert [r.name for r in Journal(tmp_path / "journal.db").jobs()] == ["j-001"]
