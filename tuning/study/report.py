"""A study's report: report.md and report.html (plots inline), study.json, the plots.

Built from the journal's results alone, so that a finished or resumed study (or a test's
fixed journal) gives the same report. Markdown and HTML are rendered from the same blocks.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtune.tuning.report import markdown_table
from smtune.tuning.study.analysis import (
    Choice,
    Recommendation,
    RungTrust,
    choose,
    hosts_text,
    improvement_percent,
    recommend,
    rung_trust,
    saved_percent,
)
from smtune.tuning.study.model import Study
from smtune.tuning.study.plots import Image, draw
from smtune.tuning.study.run import StudyResult


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = str | Table | Image  # a str is a paragraph; "# ..." a heading


@dataclass(frozen=True)
class Findings:
    choice: Choice | None
    trust: list[RungTrust]
    recommendation: Recommendation


def findings(study: Study, result: StudyResult) -> Findings:
    facts = study.facts
    trust = rung_trust(result.tuned, result.rung_check, facts.rungs, facts.max_resource)
    return Findings(
        choose(result.baselines, result.tuned, facts.maximize, study.tolerance, facts.objective),
        trust,
        recommend(trust, facts.min_resource, facts.max_resource),
    )


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def objective_table(study: Study, result: StudyResult) -> Table:
    """The seed's first table: per size the untuned and tuned objective."""
    untuned = {b.hosts: b for b in result.baselines}
    rows = []
    for tuned in result.tuned:
        base = untuned.get(tuned.hosts)
        before = base.objective if base else None
        rows.append(
            (
                str(tuned.hosts),
                _number(before),
                _number(tuned.best_objective),
                _percent(improvement_percent(before, tuned.best_objective, study.facts.maximize)),
            )
        )
    objective = study.facts.objective
    return Table(
        ("hosts", f"untuned {objective}", f"tuned {objective}", "improvement"), tuple(rows)
    )


def compute_table(study: Study, result: StudyResult) -> Table:
    """The seed's second table: per size the compute and time, with and without stopping."""
    untuned = {b.hosts: b for b in result.baselines}
    rows = []
    for t in result.tuned:
        base = untuned.get(t.hosts)
        rows.append(
            (
                str(t.hosts),
                f"{t.billable_seconds:,.0f}",
                f"{t.billable_seconds_worst_case:,.0f}",
                _percent(saved_percent(t.billable_seconds, t.billable_seconds_worst_case)),
                f"{t.resource_used} / {t.resource_worst_case}",
                f"{t.wall_seconds:,.1f}",
                f"{base.wall_seconds:,.1f}" if base else "n/a",
                ", ".join(f"{k.lower()} {v}" for k, v in t.jobs.items()),
            )
        )
    resource = study.facts.resource
    return Table(
        (
            "hosts",
            "billable instance-s (Hyperband)",
            "billable instance-s (to MaxResource)",
            "saved",
            f"{resource} used / worst case",
            "tuning wall s",
            "untuned training wall s",
            "jobs",
        ),
        tuple(rows),
    )


def trust_table(trust: list[RungTrust], max_resource: int) -> Table:
    return Table(
        (
            "rung",
            f"rank correlation with {max_resource}",
            "tuning jobs",
            "run to MaxResource for the check",
        ),
        tuple(
            (
                str(t.rung),
                _number(t.rho, 2),
                str(t.from_tuning),
                str(t.from_check),
            )
            for t in trust
        ),
    )


def blocks(study: Study, result: StudyResult, found: Findings, plots: list[Image]) -> list[Block]:
    facts = study.facts
    sizes = ", ".join(str(t.hosts) for t in result.tuned)
    parts: list[Block] = [
        f"# Study {study.name}",
        f"{facts.image.name} image, objective {facts.objective} "
        f"({'larger' if facts.maximize else 'smaller'} is better); Hyperband over "
        f"{facts.resource} from {facts.min_resource} to {facts.max_resource} "
        f"(rungs {', '.join(map(str, facts.rungs))}); sizes {sizes or 'none yet'}.",
        "## Objective: untuned and tuned",
        objective_table(study, result),
        "## Compute and time",
        "Billable instance-seconds are each job's wall time times its hosts; "
        "'to MaxResource' is what the same jobs would have cost had none stopped early.",
        compute_table(study, result),
        "## Cluster size",
        (
            f"Chosen: **{hosts_text(found.choice.hosts)}**. {found.choice.reason}."
            if found.choice
            else "No size chosen: no size has both a finished baseline and a tuned objective."
        ),
        "## How far the rungs can be trusted",
        "Spearman's rank correlation between a configuration's objective at each rung and at "
        f"MaxResource, over the tuning jobs that reached both and the "
        f"{study.rung_check.configurations} configurations run to MaxResource for this check "
        f"(at {hosts_text(study.rung_check.hosts)}).",
        trust_table(found.trust, facts.max_resource),
        f"Recommended MinResource: **{found.recommendation.min_resource}**: "
        f"{found.recommendation.reason}.",
    ]
    if result.notes:
        parts.append("## Notes")
        parts += list(result.notes)
    if plots:
        parts.append("## Plots")
        parts += plots
    return parts


def render_markdown(parts: list[Block], folder: Path) -> str:
    lines = []
    for part in parts:
        if isinstance(part, Table):
            lines.append(markdown_table(part.headers, part.rows))
        elif isinstance(part, Image):
            lines.append(f"![{part.caption}]({part.path.relative_to(folder)})")
        else:
            lines.append(part)
        lines.append("")
    return "\n".join(lines)


def render_html(parts: list[Block], title: str) -> str:
    body = []
    for part in parts:
        if isinstance(part, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in part.headers)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in part.rows
            )
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif isinstance(part, Image):
            data = base64.b64encode(part.path.read_bytes()).decode()
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="'
                f'{html.escape(part.caption)}"><figcaption>{html.escape(part.caption)}'
                "</figcaption></figure>"
            )
        elif part.startswith("#"):
            level = len(part) - len(part.lstrip("#"))
            body.append(f"<h{level}>{html.escape(part.lstrip('# '))}</h{level}>")
        else:
            text = html.escape(part)
            while "**" in text:  # the one emphasis the report uses
                text = text.replace("**", "<strong>", 1).replace("**", "</strong>", 1)
            body.append(f"<p>{text}</p>")
    style = "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def study_json(study: Study, result: StudyResult, found: Findings) -> dict[str, Any]:
    return {
        "study": study.name,
        "objective": study.facts.objective,
        "direction": study.facts.direction.value,
        "baseline": [
            {
                "hosts": b.hosts,
                "status": b.status,
                "objective": b.objective,
                "wall_seconds": b.wall_seconds,
                "billable_seconds": b.billable_seconds,
            }
            for b in result.baselines
        ],
        "tuned": [
            {
                "hosts": t.hosts,
                "best_objective": t.best_objective,
                "best_job": t.best_job,
                "best_hyperparameters": t.best_hyperparameters,
                "resource_used": t.resource_used,
                "resource_worst_case": t.resource_worst_case,
                "billable_seconds": t.billable_seconds,
                "billable_seconds_worst_case": t.billable_seconds_worst_case,
                "wall_seconds": t.wall_seconds,
                "jobs": t.jobs,
            }
            for t in result.tuned
        ],
        "choice": {"hosts": found.choice.hosts, "reason": found.choice.reason}
        if found.choice
        else None,
        "rung_trust": [
            {"rung": t.rung, "rho": t.rho, "tuning_jobs": t.from_tuning, "checked": t.from_check}
            for t in found.trust
        ],
        "recommended_min_resource": {
            "min_resource": found.recommendation.min_resource,
            "reason": found.recommendation.reason,
        },
    }


def write(study: Study, result: StudyResult, folder: Path, plots: bool = True) -> list[Path]:
    """report.md, report.html, study.json and the plots in `folder`; returns them."""
    folder.mkdir(parents=True, exist_ok=True)
    found = findings(study, result)
    images = draw(study, result, found.choice, folder) if plots else []
    parts = blocks(study, result, found, images)
    written = [folder / "report.md", folder / "report.html", folder / "study.json"]
    written[0].write_text(render_markdown(parts, folder))
    written[1].write_text(render_html(parts, f"Study {study.name}"))
    written[2].write_text(json.dumps(study_json(study, result, found), indent=2) + "\n")
    return written + [image.path for image in images]
