"""Tables and plots shared by `smtune tune analyze` (SageMaker) and `smtune tune rehearse`.

Both produce the same DataFrame: the columns of the SageMaker SDK's
HyperparameterTuningJobAnalytics (the tuned hyperparameters, TrainingJobName,
TrainingJobStatus, FinalObjectiveValue, TrainingStartTime, TrainingEndTime,
TrainingElapsedTimeSeconds) plus InstanceCount, BillableInstanceSeconds and SpotSavings; and,
for a tuning job of several training job definitions, TrainingJobDefinitionName (as
ListTrainingJobsForHyperParameterTuningJob names it), which `by_definition` groups by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smtune.containers.status import JobStatus
from smtune.tuning.amt.completion import CompletionCriteria
from smtune.tuning.amt.retry import RetryStrategy

if TYPE_CHECKING:
    from smtune.tuning.journal import Journal
    from smtune.tuning.plan import TuningPlan

COLUMNS = [
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
    "InstanceCount",
    "BillableInstanceSeconds",
    "SpotSavings",
]


DEFINITION = "TrainingJobDefinitionName"
HOSTS = COLUMNS[COLUMNS.index("InstanceCount")]  # the frame's column (not a request's key)


def best_job(frame: Any, objective_type: str) -> Any:
    """The row of the best completed job, or None."""
    done = frame[frame["FinalObjectiveValue"].notna()]
    if done.empty:
        return None
    index = (
        done["FinalObjectiveValue"].idxmax()
        if objective_type == "Maximize"
        else (done["FinalObjectiveValue"].idxmin())
    )
    return done.loc[index]


STATUS_COLOURS = {
    JobStatus.COMPLETED: "tab:green",
    JobStatus.STOPPED: "tab:orange",
    JobStatus.FAILED: "tab:red",
    JobStatus.IN_PROGRESS: "tab:blue",
    JobStatus.STOPPING: "tab:gray",
}


def colour(status: object) -> str:
    """The colour of a TrainingJobStatus, as the frame's column holds it (the API's text)."""
    try:
        return STATUS_COLOURS[JobStatus(str(status))]
    except ValueError:
        return "black"


def by_definition(frame: Any, objective_type: str) -> list[str]:
    """A Markdown table comparing the training job definitions of a tuning job: jobs by
    status, the best objective and job, billable instance-seconds (each job's elapsed time
    times its definition's hosts); [] when the frame has one unnamed definition."""
    if frame.empty or DEFINITION not in frame or frame[DEFINITION].isna().all():
        return []
    lines = [
        "| definition | hosts | jobs | completed | stopped | failed | best objective "
        "| best job | billable instance-seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, group in frame.groupby(DEFINITION, sort=False):
        status = group["TrainingJobStatus"].value_counts()
        best = best_job(group, objective_type)
        shown = "-" if best is None else f"{best['FinalObjectiveValue']:.6g}"
        lines.append(
            f"| {name} | {', '.join(str(h) for h in group[HOSTS].unique())} "
            f"| {len(group)} "
            + "".join(f"| {status.get(s.value, 0)} " for s in _COMPARED)
            + f"| {shown} | {'-' if best is None else best['TrainingJobName']} "
            f"| {group['BillableInstanceSeconds'].sum():,.1f} |"
        )
    return lines


_COMPARED = (JobStatus.COMPLETED, JobStatus.STOPPED, JobStatus.FAILED)


def plot(frame: Any, path: Path, title: str) -> None:
    """The objective of each job over time (its end), coloured by status."""
    plt = _matplotlib()

    figure, axes = plt.subplots(figsize=(8, 4.5))
    for status, group in frame.groupby("TrainingJobStatus"):
        axes.scatter(
            group["TrainingEndTime"],
            group["FinalObjectiveValue"],
            label=status,
            color=colour(status),
        )
    axes.set_title(title)
    axes.set_xlabel("training job end")
    axes.set_ylabel("final objective")
    axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _matplotlib() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here or on CI
    import matplotlib.pyplot as plt

    return plt


def journal_frame(journal: Journal) -> Any:
    """The rehearsal's jobs, one row each, in the columns `analyze` gives for SageMaker."""
    import pandas as pd

    final = {job: value for job, (_, value) in journal.last_observations().items()}
    named = journal.definitions()
    rows = []
    for record in journal.jobs():
        start = dt.datetime.fromtimestamp(record.started, dt.UTC) if record.started else None
        end = dt.datetime.fromtimestamp(record.ended, dt.UTC) if record.ended else None
        elapsed = (record.ended - record.started) if record.started and record.ended else None
        rows.append(
            {
                **record.hyperparameters,
                "TrainingJobName": record.name,
                "TrainingJobStatus": record.status.value,
                "FinalObjectiveValue": final.get(record.name),
                "TrainingStartTime": start,
                "TrainingEndTime": end,
                "TrainingElapsedTimeSeconds": elapsed,
                "InstanceCount": record.hosts,
                "BillableInstanceSeconds": elapsed * record.hosts if elapsed is not None else None,
                "SpotSavings": None,
                **({DEFINITION: named.get(record.name)} if named else {}),
            }
        )
    return pd.DataFrame(
        rows, columns=[*_tuned(journal), *COLUMNS, *([DEFINITION] if named else [])]
    )


def _tuned(journal: Journal) -> list[str]:
    names: dict[str, None] = {}
    for record in journal.jobs():
        names.update(dict.fromkeys(record.hyperparameters))
    return list(names)


def rehearsal_report(
    journal: Journal,
    folder: Path,
    title: str,
    rungs: tuple[int, ...],
    maximize: bool,
    notes: Sequence[str] = (),
) -> list[Path]:
    """PNG plots and a Markdown summary of a rehearsal; returns the files written. `notes`:
    paragraphs the summary adds after the counts (completion, retries)."""
    plt = _matplotlib()
    folder.mkdir(parents=True, exist_ok=True)
    frame = journal_frame(journal)
    status = dict(zip(frame["TrainingJobName"], frame["TrainingJobStatus"], strict=True))
    curves = journal.curves()
    times = [(row.time, row.value) for row in journal.observations()]
    written = []

    figure, axes = plt.subplots(figsize=(8, 4.5))
    for job, points in curves.items():
        axes.plot(
            *zip(*points, strict=True),
            color=colour(status[job]),
            alpha=0.7,
            linewidth=1,
        )
    for rung in rungs:
        axes.axvline(rung, color="gray", linestyle=":", linewidth=0.8)
    axes.set(
        title=f"{title}: learning curves (green completed, orange stopped; dotted: rungs)",
        xlabel="resource (objective lines)",
        ylabel="objective",
    )
    written.append(_save(plt, figure, folder / "learning-curves.png"))

    figure, axes = plt.subplots(figsize=(8, 4.5))
    if times:
        start = times[0][0]
        best: list[float] = []
        for _, value in times:
            best.append(value if not best else (max if maximize else min)(best[-1], value))
        axes.step([t - start for t, _ in times], best, where="post")
    axes.set(title=f"{title}: best objective so far", xlabel="seconds", ylabel="objective")
    written.append(_save(plt, figure, folder / "best-so-far.png"))

    summary = folder / "summary.md"
    done = frame[frame["FinalObjectiveValue"].notna()]
    best_row = best_job(frame, "Maximize" if maximize else "Minimize") if not done.empty else None
    lines = [f"# Rehearsal of {title}", "", "| status | jobs |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in frame["TrainingJobStatus"].value_counts().items()]
    if best_row is not None:
        lines += [
            "",
            f"Best job: {best_row['TrainingJobName']}, objective "
            f"{best_row['FinalObjectiveValue']:.6g}.",
        ]
    for note in notes:
        lines += ["", note]
    compared = by_definition(frame, "Maximize" if maximize else "Minimize")
    lines += ["", "## By training job definition", "", *compared] if compared else []
    lines += [
        "",
        "![learning curves](learning-curves.png)",
        "",
        "![best so far](best-so-far.png)",
        "",
        frame_markdown(frame),
    ]
    summary.write_text("\n".join(lines) + "\n")
    written.append(summary)
    return written


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table; a `|` inside a cell is escaped so it stays one cell."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *map(line, rows)])


def frame_markdown(frame: Any) -> str:
    """The jobs' frame as a Markdown table: numbers to 6 significant digits, times to the
    second, an empty cell where there is no value."""
    import pandas as pd

    def cell(value: Any) -> str:
        if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, float):
            return f"{value:.6g}"
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        return str(value)

    rows = [[cell(v) for v in row] for row in frame.astype(object).itertuples(index=False)]
    return markdown_table([str(c) for c in frame.columns], rows)


def _save(plt: Any, figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plan_lines(criteria: CompletionCriteria | None, retry: RetryStrategy | None) -> list[str]:
    """What `plan`'s summary says of the completion criteria and the retry strategy."""
    lines = []
    if criteria is not None:
        asked = []
        if criteria.target_objective_metric_value is not None:
            asked.append(f"objective reaches {criteria.target_objective_metric_value:g}")
        limit = criteria.max_number_of_training_jobs_not_improving
        if limit is not None:
            asked.append(f"{limit} jobs in a row not improving")
        if criteria.complete_on_convergence:
            asked.append("AMT detects convergence")
        lines.append(f"completion  at the first of: {', '.join(asked)}")
    if retry is not None:
        lines.append(
            f"retries     up to {retry.maximum_retry_attempts} per job failed for an internal "
            "error (the same job, counted once)"
        )
    return lines


def plan_summary(checked: TuningPlan, variables: str = "") -> str:
    """What `smtune tune plan` prints of a plan: one line a field, the brackets, the worst case."""
    definition = checked.definitions[0]
    if len(checked.definitions) > 1:  # several: each one's image, instances and ranges
        return _several_summary(checked, variables)
    script, limits = definition.script, checked.limits
    lines = [
        f"tuning job  {checked.name}",
        f"image       {definition.image_uri}",
        *(
            [
                f"script      {script.entry_point} from {script.source_dir} "
                f"({script.distribution.value}), uploaded to {definition.source_uri}"
            ]
            if script
            else []
        ),
        *([f"variables   {variables}"] if variables else []),
        f"instances   {definition.instance.count} x {definition.instance.type}"
        + (" (managed spot)" if definition.spot else ""),
        f"objective   {checked.objective.direction.value} {checked.objective.metric}",
        f"jobs        {checked.max_jobs or 'chosen by AMT'}, {limits.max_parallel_jobs} at a time, "
        f"at most {definition.max_runtime_s} s each",
        "ranges:",
        *(f"  {name:<20} {r.describe()}" for name, r in definition.ranges.items()),
    ]
    if checked.hyperband is not None:
        lines.append(
            f"Hyperband (eta=3) over {definition.resource}, "
            f"MinResource {checked.hyperband.min_resource}, "
            f"MaxResource {checked.hyperband.max_resource}:"
        )
        weights = sum(b.jobs for b in checked.brackets)
        for bracket in checked.brackets:
            rungs = " -> ".join(str(r) for r in bracket.rungs)
            share = f"{bracket.jobs} of every {weights} jobs with `rehearse --brackets hyperband`"
            lines.append(
                f"  bracket {bracket.index}: rungs {rungs} ("
                + ("every job by default, ASHA's one bracket; " if bracket.index == 0 else "")
                + f"{share})"
            )
    if checked.warm_start is not None:
        lines.append(
            f"warm start  {checked.warm_start.type.value} from "
            f"{', '.join(checked.warm_start.parents)} (submit and rehearse check them)"
        )
    lines += [_worst_case(checked), *_completion_lines(checked)]
    return "\n".join(lines)


def _worst_case(checked: TuningPlan) -> str:
    worst = checked.worst_case_instance_seconds
    if worst is None:
        return "worst case  unknown: AMT chooses the number of jobs (autotune)"
    return (
        f"worst case  {worst:,} billable instance-seconds "
        "(every job to its time limit, no early stopping"
        + (", on the costliest definition)" if len(checked.definitions) > 1 else ")")
    )


def _completion_lines(checked: TuningPlan) -> list[str]:
    return plan_lines(checked.completion, checked.definitions[0].retry)  # retry: every one's


def _several_summary(checked: TuningPlan, variables: str) -> str:
    """`plan_summary` of a tuning job of several training job definitions."""
    limits, hyperband = checked.limits, checked.hyperband
    lines = [
        f"tuning job  {checked.name}",
        *([f"variables   {variables}"] if variables else []),
        f"objective   {checked.objective.direction.value} {checked.objective.metric}",
        f"jobs        {limits.max_jobs}, {limits.max_parallel_jobs} at a time, shared among "
        f"{len(checked.definitions)} training job definitions:",
    ]
    for d in checked.definitions:
        lines += [
            f"  {d.name}: {d.instance.count} x {d.instance.type}"
            + (" (managed spot)" if d.spot else "")
            + f", {d.image_uri}, at most {d.max_runtime_s} s each",
            *(f"    {name:<20} {r.describe()}" for name, r in d.ranges.items()),
        ]
    if hyperband is not None:
        lines.append(
            f"Hyperband (eta=3), MinResource {hyperband.min_resource}, "
            f"MaxResource {hyperband.max_resource}, rungs shared by every definition"
        )
    lines += [_worst_case(checked), *_completion_lines(checked)]
    return "\n".join(lines)
