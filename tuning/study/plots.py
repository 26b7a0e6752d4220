"""The study's plots: speed versus accuracy across cluster sizes, and learning curves."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smtune.tuning.study.analysis import hosts_text

if TYPE_CHECKING:
    from smtune.tuning.study.analysis import Choice
    from smtune.tuning.study.model import Study
    from smtune.tuning.study.run import StudyResult


@dataclass(frozen=True)
class Image:
    path: Path
    caption: str


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here or on CI
    import matplotlib.pyplot as plt

    return plt


def draw(study: Study, result: StudyResult, choice: Choice | None, folder: Path) -> list[Image]:
    plt = _pyplot()
    return [
        _speed_accuracy(plt, study, result, choice, folder / "speed-vs-accuracy.png"),
        _curves(plt, study, result, folder / "learning-curves.png"),
    ]


def _speed_accuracy(
    plt: Any, study: Study, result: StudyResult, choice: Choice | None, path: Path
) -> Image:
    speed = {b.hosts: b.wall_seconds for b in result.baselines}
    untuned = {b.hosts: b.objective for b in result.baselines}
    figure, axes = plt.subplots(figsize=(8, 5))
    for tuned in result.tuned:
        x = speed.get(tuned.hosts)
        if x is None or tuned.best_objective is None:
            continue
        chosen = choice is not None and choice.hosts == tuned.hosts
        axes.scatter(
            [x],
            [tuned.best_objective],
            marker="*" if chosen else "o",
            s=220 if chosen else 60,
            color="tab:red" if chosen else "tab:blue",
            zorder=3,
        )
        axes.annotate(
            hosts_text(tuned.hosts),
            (x, tuned.best_objective),
            xytext=(6, 6),
            textcoords="offset points",
        )
        if untuned.get(tuned.hosts) is not None:
            axes.scatter(
                [x], [untuned[tuned.hosts]], marker="o", facecolors="none", edgecolors="gray"
            )
    title = "tuned (filled) and untuned (hollow) objective by training time"
    if choice is not None:
        title += "\n" + "\n".join(textwrap.wrap(f"chosen: {choice.reason}", 95))
    axes.set_title(title, fontsize=8)
    axes.set_xlabel("full training at that size, wall seconds (the untuned job's)")
    axes.set_ylabel(study.facts.objective)
    _save(plt, figure, path)
    return Image(path, "speed versus accuracy across cluster sizes (star: the chosen size)")


def _curves(plt: Any, study: Study, result: StudyResult, path: Path) -> Image:
    sizes = [t.hosts for t in result.tuned] or [b.hosts for b in result.baselines] or [1]
    figure, panels = plt.subplots(
        1, len(sizes), figsize=(4 * len(sizes), 3.8), sharey=True, squeeze=False
    )
    baselines = {b.hosts: b for b in result.baselines}
    tuned = {t.hosts: t for t in result.tuned}
    for axes, hosts in zip(panels[0], sizes, strict=True):
        for curve in tuned[hosts].curves if hosts in tuned else ():
            axes.plot(*zip(*curve.points, strict=True), linewidth=0.8, alpha=0.6)
        base = baselines.get(hosts)
        if base is not None and base.curve.points:
            axes.plot(
                *zip(*base.curve.points, strict=True), color="black", linewidth=2, label="untuned"
            )
            axes.legend(fontsize=7)
        for rung in study.facts.rungs:
            axes.axvline(rung, color="gray", linestyle=":", linewidth=0.8)
        axes.set_title(hosts_text(hosts), fontsize=9)
        axes.set_xlabel(study.facts.resource)
    panels[0][0].set_ylabel(study.facts.objective)
    _save(plt, figure, path)
    return Image(
        path,
        "learning curves per size: tuning jobs (thin), untuned (black); dotted: Hyperband's rungs",
    )


def _save(plt: Any, figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
