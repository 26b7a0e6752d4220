"""`smtune study --on sagemaker`: the same study as SageMaker jobs, and the same report.

Submits, for every size, the untuned baseline (CreateTrainingJob) and the tuning job
(CreateHyperParameterTuningJob, as `tune submit` does); waits for all of them; then builds the
report from what SageMaker says: each baseline's final objective and billable time, and each
tuning job's training jobs as `tune analyze` lists them.

Two figures are estimates on SageMaker, said so in the report: AMT does not report how many
metric lines (resource) a stopped job used, nor what it would have cost run to MaxResource.
Both are estimated from time: a job's resource as MaxResource x its time / the mean time of
the jobs that ran to MaxResource (Completed), and its cost to MaxResource as that mean time.
Learning curves and the rung check need every job's metric lines (CloudWatch): not read here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from smtune.containers.status import JobStatus
from smtune.tuning.study import tuning_seam as seam
from smtune.tuning.study.model import Study
from smtune.tuning.study.results import BaselineRun, Curve, TunedRun
from smtune.tuning.study.run import StudyResult

TERMINAL = {s.value for s in JobStatus if s.ended}
ESTIMATED = (
    "On SageMaker: resource used and the cost to MaxResource are estimated from each job's "
    "time (AMT reports neither); learning curves and the rung check need the jobs' metric "
    "lines, which are not read from CloudWatch here: run the study locally for them."
)
POLL_S = 60.0


def baseline_name(study: Study, hosts: int) -> str:
    return f"{study.name[:50]}-base-h{hosts}"  # a training job's name: at most 63 characters


def submit(sm: Any, study: Study, sizes: Sequence[int], registry: str | None) -> list[str]:
    """Create every job of the study; returns their names (baselines, then tuning jobs)."""
    names = []
    for hosts in sizes:
        checked = study.plan_at(hosts, registry)
        name = baseline_name(study, hosts)
        sm.create_training_job(**seam.training_job_request(checked, name, study.baseline))
        names.append(name)
    for hosts in sizes:
        checked = study.plan_at(hosts, registry)
        seam.submit_tuning(sm, checked)
        names.append(seam.name_at(study.spec.name, hosts))
    return names


def wait_for_baseline(
    sm: Any, name: str, sleep: Callable[[float], None], poll_s: float = POLL_S
) -> dict[str, Any]:
    while True:
        job = dict(sm.describe_training_job(TrainingJobName=name))
        if job["TrainingJobStatus"] in TERMINAL:
            return job
        sleep(poll_s)


def baseline_run(study: Study, hosts: int, job: dict[str, Any]) -> BaselineRun:
    final = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
    count = job["ResourceConfig"]["InstanceCount"]
    seconds = float(job.get("TrainingTimeInSeconds", 0))
    billable = float(job.get("BillableTimeInSeconds", seconds)) * count
    return BaselineRun(
        hosts=hosts,
        status=job["TrainingJobStatus"],
        objective=final.get(study.facts.objective),
        wall_seconds=seconds,
        billable_seconds=billable,
        curve=Curve(job["TrainingJobName"], ()),
    )


def tuned_run(study: Study, hosts: int, description: dict[str, Any], frame: Any) -> TunedRun:
    facts = study.facts
    end = description.get("HyperParameterTuningEndTime")
    wall = (end - description["CreationTime"]).total_seconds() if end else 0.0
    rows = frame.to_dict("records") if not frame.empty else []
    elapsed = [r["TrainingElapsedTimeSeconds"] or 0.0 for r in rows]
    full = [
        e
        for e, r in zip(elapsed, rows, strict=True)
        if r["TrainingJobStatus"] == JobStatus.COMPLETED.value
    ]
    per_job = sum(full) / len(full) if full else 0.0
    scored = [r for r in rows if r["FinalObjectiveValue"] == r["FinalObjectiveValue"]]  # not NaN
    pick = max if facts.maximize else min
    best = pick(scored, key=lambda r: r["FinalObjectiveValue"]) if scored else None
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["TrainingJobStatus"]] = counts.get(row["TrainingJobStatus"], 0) + 1
    return TunedRun(
        hosts=hosts,
        best_objective=best["FinalObjectiveValue"] if best else None,
        best_job=best["TrainingJobName"] if best else None,
        resource_used=sum(
            round(min(1.0, e / per_job) * facts.max_resource) if per_job else 0 for e in elapsed
        ),
        resource_worst_case=len(rows) * facts.max_resource,
        billable_seconds=float(sum(r["BillableInstanceSeconds"] or 0.0 for r in rows)),
        billable_seconds_worst_case=float(per_job * hosts * len(rows)),
        wall_seconds=wall,
        jobs=counts,
        best_hyperparameters={k: v for k, v in best.items() if k in study.spec.ranges}
        if best
        else {},
    )


def collect(
    sm: Any,
    study: Study,
    sizes: Sequence[int],
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = POLL_S,
    on_progress: Callable[[str], None] = lambda _: None,
) -> StudyResult:
    """Wait for every job of the study, then read its results."""
    baselines = []
    for hosts in sizes:
        job = wait_for_baseline(sm, baseline_name(study, hosts), sleep, poll_s)
        baselines.append(baseline_run(study, hosts, job))
        on_progress(f"baseline at {hosts} host(s): {job['TrainingJobStatus']}")
    tuned = []
    for hosts in sizes:
        name = seam.name_at(study.spec.name, hosts)
        description = seam.wait_tuning(sm, name, sleep, poll_s)
        tuned.append(tuned_run(study, hosts, description, seam.tuning_jobs_frame(sm, name)))
        on_progress(f"tuning job {name}: {description['HyperParameterTuningJobStatus']}")
    return StudyResult(tuple(baselines), tuple(tuned), None, (ESTIMATED,))


def run_on_sagemaker(
    study: Study,
    sizes: Sequence[int],
    args: argparse.Namespace,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    from smtune.tuning.study import report

    sm = seam.sagemaker_client(args.region)
    if not args.resume:  # --resume: the jobs exist already; wait for them and report
        for name in submit(sm, study, sizes, args.registry):
            print(f"submitted {name}", flush=True)
    result = collect(sm, study, sizes, sleep, on_progress=lambda line: print(line, flush=True))
    for path in report.write(study, result, args.out):
        print(f"wrote {path}", file=sys.stderr)
    return 0
