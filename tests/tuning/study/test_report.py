"""The report from a fixed journal: its tables, study.json, the HTML page; and the rehearsal
summary's real Markdown table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from smtune.tuning.report import frame_markdown
from smtune.tuning.study import report
from smtune.tuning.study.model import read
from smtune.tuning.study.results import BaselineRun, Curve, TunedRun
from smtune.tuning.study.run import result
from smtune.tuning.study.steps import StudyJournal
from tests.tuning.study.conftest import synthetic_study


def fixed_journal(path: Path) -> StudyJournal:
    """A finished study as its journal holds it: the numbers the tables must show."""
    journal = StudyJournal(path)
    for hosts, objective, wall in [(1, 0.78, 60.0), (2, 0.63, 40.0)]:
        curve = Curve(f"baseline-{hosts}", ((1, objective - 0.1), (27, objective)))
        journal.record(
            f"baseline-{hosts}",
            BaselineRun(hosts, "Completed", objective, wall, wall * hosts, curve).to_json(),
            wall,
        )
    for hosts, best, billable, worst in [(1, 0.785, 300.0, 900.0), (2, 0.781, 500.0, 1500.0)]:
        curves = tuple(
            Curve(f"t{hosts}-{i}", tuple((r, 0.5 + i / 10 + r / 1000) for r in range(1, 28)))
            for i in range(3)
        )
        run = TunedRun(
            hosts, best, f"t{hosts}-2", 120, 324, billable, worst, 200.0 + hosts,
            {"Completed": 4, "Stopped": 8}, curves, {"x": 0.3},
        )  # fmt: skip
        journal.record(f"tuning-{hosts}", run.to_json(), 200.0)
    return journal


def test_the_report_shows_the_seeds_tables_from_a_fixed_journal(tmp_path: Path) -> None:
    study = read(synthetic_study(tmp_path))
    journal = fixed_journal(tmp_path / "study.db")
    written = report.write(study, result(journal), tmp_path / "report", plots=False)
    text = written[0].read_text()
    assert (
        "| hosts | untuned validation:score | tuned validation:score | improvement |\n"
        "|---|---|---|---|\n"
        "| 1 | 0.7800 | 0.7850 | +0.6 % |\n"
        "| 2 | 0.6300 | 0.7810 | +24.0 % |\n"
    ) in text
    assert (
        "| hosts | billable instance-s (Hyperband) | billable instance-s (to MaxResource) | "
        "saved | epochs used / worst case | tuning wall s | untuned training wall s | jobs |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| 1 | 300 | 900 | +66.7 % | 120 / 324 | 201.0 | 60.0 | completed 4, stopped 8 |\n"
        "| 2 | 500 | 1,500 | +66.7 % | 120 / 324 | 202.0 | 40.0 | completed 4, stopped 8 |\n"
    ) in text
    # 2 hosts is within the tolerance (0.005) of 1 host's 0.785, and faster: chosen.
    assert "Chosen: **2 hosts**. 2 hosts: the fastest full training (40.0 s)" in text
    # Every tuned curve ranks the same at each rung as at 27: correlation 1 over 6 jobs.
    assert "| 1 | 1.00 | 6 | 0 |\n| 3 | 1.00 | 6 | 0 |\n| 9 | 1.00 | 6 | 0 |" in text
    assert "Recommended MinResource: **1**: keep MinResource 1" in text
    data = json.loads(written[2].read_text())
    assert data["baseline"][1] == {
        "hosts": 2,
        "status": "Completed",
        "objective": 0.63,
        "wall_seconds": 40.0,
        "billable_seconds": 80.0,
    }
    assert data["tuned"][0]["billable_seconds_worst_case"] == 900.0
    assert data["choice"]["hosts"] == 2
    assert data["recommended_min_resource"]["min_resource"] == 1
    page = written[1].read_text()
    assert "<td>+24.0 %</td>" in page and "<strong>2 hosts</strong>" in page


def test_the_report_embeds_its_plots_in_the_html_page(tmp_path: Path) -> None:
    study = read(synthetic_study(tmp_path))
    written = report.write(study, result(fixed_journal(tmp_path / "study.db")), tmp_path / "r")
    assert [p.name for p in written[3:]] == ["speed-vs-accuracy.png", "learning-curves.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written[3:])
    page = written[1].read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "![learning curves per size" in written[0].read_text()


def test_the_rehearsal_summary_table_is_a_markdown_table() -> None:
    frame = pd.DataFrame(
        {
            "x": [0.123456789, None],
            "TrainingJobName": ["a|b", "c"],
            "TrainingEndTime": [pd.Timestamp("2026-01-02 03:04:05.6", tz="UTC"), None],
            "InstanceCount": [2, 2],
        }
    )
    assert frame_markdown(frame) == (
        "| x | TrainingJobName | TrainingEndTime | InstanceCount |\n"
        "|---|---|---|---|\n"
        "| 0.123457 | a\\|b | 2026-01-02 03:04:05 | 2 |\n"
        "|  | c |  | 2 |"
    )
