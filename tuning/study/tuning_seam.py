"""The study's one seam into the tuning module: spec, plan, rehearsal, journal.

Everything the study knows of `tuning.spec`, `tuning.request`, `tuning.rehearsal.runner` and
`tuning.journal` is here, so that a change of their API (a typed plan, several metric
definitions) is adapted in this module alone (the SageMaker calls, through `tuning.sagemaker`,
at its end). What crosses the seam is the study's own typed values (`TuningFacts`,
`TunedRun`, `Curve`), and the tuning module's `Plan`, passed through unopened (of the spec
the study reads name, strategy.type and ranges).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtune.containers.catalogue import ImageSpec
from smtune.containers.local.job import Backend, JobSpec
from smtune.containers.local.layout import ChannelSource
from smtune.entrypoints.contract.metrics import Direction, MetricLine, cloudwatch_form
from smtune.tuning.amt.brackets import rungs
from smtune.tuning.journal import Journal
from smtune.tuning.plan import TuningPlan as Plan
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal.accounting import Summary
from smtune.tuning.rehearsal.runner import Rehearsal, RehearsalError
from smtune.tuning.request import baseline_training_job
from smtune.tuning.spec import SpecError, TuningJobSpec, parse, read
from smtune.tuning.study.results import Curve, TunedRun
from smtune.tuning.yaml_files import YamlError
from smtune.tuning.yaml_files import parse as parse_yaml

# The study names these through this module too (seam.Plan, ...).
__all__ = ["Plan", "RehearsalError", "SpecError", "TuningJobSpec", "YamlError", "parse_yaml"]

# Channels every catalogue image trains from (its training code requires them).
REQUIRED_CHANNELS = ("train",)
# Images whose `<channel>:<metric>` is computed on that channel (the synthetic trainer's
# validation:score is computed from its hyperparameters alone).
METRICS_FROM_CHANNELS = ("xgboost", "dnn")
NAME_LIMIT = 32  # a tuning job's name on SageMaker


@dataclass(frozen=True)
class TuningFacts:
    """What the study needs to know of a checked tuning job."""

    name: str
    image: ImageSpec
    objective: str
    direction: Direction
    resource: str  # the hyperparameter one objective line stands for (num_round, epochs)
    min_resource: int
    max_resource: int
    rungs: tuple[int, ...]
    channels: tuple[str, ...]
    max_parallel: int
    max_jobs: int
    max_runtime_s: int

    @property
    def maximize(self) -> bool:
        return self.direction is Direction.MAXIMIZE


def read_spec(path: Path) -> TuningJobSpec:
    return read(path).spec


def parse_spec(data: Any, source: str) -> TuningJobSpec:
    return parse(data, source)


def name_at(name: str, hosts: int, suffix: str = "") -> str:
    """The tuning job's name at `hosts`: unique per size, as SageMaker needs it."""
    tail = f"-h{hosts}{suffix}"
    return name[: NAME_LIMIT - len(tail)].rstrip("-") + tail


def at_size(spec: TuningJobSpec, hosts: int, suffix: str = "") -> TuningJobSpec:
    instance = spec.instance.model_copy(update={"count": hosts})
    return spec.model_copy(update={"instance": instance, "name": name_at(spec.name, hosts, suffix)})


def rung_check_spec(spec: TuningJobSpec, hosts: int, max_resource: int) -> TuningJobSpec:
    """The same job with every configuration run to MaxResource (MinResource = MaxResource:
    one rung, no early stop), and another seed, so that its configurations are new ones."""
    sized = at_size(spec, hosts, "-rc")
    strategy = spec.strategy.model_copy(
        update={"min_resource": max_resource, "max_resource": max_resource}
    )
    seed = (spec.random_seed or 0) + 1
    return sized.model_copy(update={"strategy": strategy, "random_seed": seed})


def check(spec: TuningJobSpec, registry: str | None = "local") -> Plan:
    """The checked plan (a SpecError lists every problem)."""
    return plan(spec, registry=registry, source=f"tuning job {spec.name}")


def facts(checked: Plan) -> TuningFacts:
    """What the study reads of a Hyperband plan (the study file requires Hyperband)."""
    definition, hyperband = checked.definition, checked.hyperband
    if hyperband is None or checked.max_jobs is None:
        raise ValueError(f"{checked.name}: a study's tuning job is Hyperband, with max_jobs")
    return TuningFacts(
        name=checked.name,
        image=definition.image,
        objective=checked.objective.metric,
        direction=checked.objective.direction,
        resource=definition.resource,
        min_resource=hyperband.min_resource,
        max_resource=hyperband.max_resource,
        rungs=rungs(hyperband.min_resource, hyperband.max_resource),
        channels=tuple(c.name for c in definition.channels),
        max_parallel=checked.limits.max_parallel_jobs,
        max_jobs=checked.max_jobs,
        max_runtime_s=definition.max_runtime_s,
    )


def emitted(image: ImageSpec, hyperparameters: Mapping[str, str]) -> tuple[str, ...]:
    """The metric names a job of `image` with these hyperparameters prints."""
    return tuple(m.name for m in image.emitted_metrics(hyperparameters))


def channels_needed(image: ImageSpec, objective: str) -> dict[str, str]:
    """The channels a job of `image` with this objective cannot run without, and why."""
    needed = {name: f"the {image.name} image trains from it" for name in REQUIRED_CHANNELS}
    channel, sep, _ = objective.partition(":")
    if sep and image.name in METRICS_FROM_CHANNELS:
        needed.setdefault(channel, f"the objective {objective} is computed on it")
    return needed


def channel_sources(checked: Plan, channels: Mapping[str, Path]) -> dict[str, ChannelSource]:
    return {
        c.name: ChannelSource(c.name, channels[c.name], c.distribution, c.content_type)
        for c in checked.definition.channels
    }


def baseline_job(
    checked: Plan,
    hyperparameters: Mapping[str, str],
    hosts: int,
    channels: Mapping[str, Path],
    out: Path,
) -> JobSpec:
    """The untuned job at `hosts`: the tuning job's image and channels, the baseline's
    hyperparameters, its time limit."""
    return JobSpec(
        image=checked.definition.image,
        host_count=hosts,
        channels=channel_sources(checked, channels),
        hyperparameters=dict(hyperparameters),
        out=out,
        max_run_s=checked.definition.max_runtime_s,
    )


def read_curve(checked: Plan, job: str, log: Path) -> Curve:
    """The objective per iteration in a leader's log, read as the tuner reads it."""
    points: list[tuple[int, float]] = []
    if log.exists():
        for raw in log.read_text(errors="replace").splitlines():
            value = checked.objective_metric.read(cloudwatch_form(raw))
            if value is None:
                continue
            tag = MetricLine.iteration(raw)
            points.append((tag + 1 if tag is not None else len(points) + 1, value))
    return Curve(job, tuple(points))


def rehearse(
    checked: Plan,
    channels: Mapping[str, Path],
    out: Path,
    backend: Backend,
    max_jobs: int | None,
    on_progress: Callable[[str], None],
) -> TunedRun:
    """Rehearse the tuning job in `out` (journal: out/journal.db, resumed if there)."""
    out.mkdir(parents=True, exist_ok=True)
    journal = Journal(out / "journal.db")
    try:
        summary = Rehearsal(
            checked, channels, out, journal, backend, max_jobs=max_jobs, on_progress=on_progress
        ).run()
        return _tuned(checked.definition.instance.count, summary, journal)
    finally:
        journal.close()


def _tuned(hosts: int, summary: Summary, journal: Journal) -> TunedRun:
    curves = journal.curves()
    chosen = {r.name: r.hyperparameters for r in journal.jobs()}
    return TunedRun(
        hosts=hosts,
        best_objective=summary.best_objective,
        best_job=summary.best_job,
        resource_used=summary.resource_used,
        resource_worst_case=summary.resource_worst_case,
        billable_seconds=summary.billable_seconds,
        billable_seconds_worst_case=summary.billable_seconds_worst_case,
        wall_seconds=summary.wall_seconds,
        jobs=summary.to_json()["jobs"],  # by status value
        curves=tuple(Curve(job, tuple(points)) for job, points in curves.items()),
        best_hyperparameters=chosen.get(summary.best_job or "", {}),
    )


# -- SageMaker (boto3): what `--on sagemaker` needs -----------------------------------------


def training_job_request(
    checked: Plan, name: str, hyperparameters: Mapping[str, str]
) -> dict[str, Any]:
    """CreateTrainingJob for the untuned baseline (`tuning.request` writes it)."""
    return baseline_training_job(checked, name, hyperparameters)


def sagemaker_client(region: str | None) -> Any:
    from smtune.tuning import sagemaker

    return sagemaker.client(region)


def submit_tuning(sm: Any, checked: Plan) -> str:
    from smtune.tuning import sagemaker

    return sagemaker.submit(sm, checked)


def wait_tuning(
    sm: Any, name: str, sleep: Callable[[float], None], poll_s: float
) -> dict[str, Any]:
    from smtune.tuning import sagemaker

    return sagemaker.wait(sm, name, poll_s=poll_s, sleep=sleep)


def tuning_jobs_frame(sm: Any, name: str) -> Any:
    """One row per training job of a tuning job (`analyze`'s columns)."""
    from smtune.tuning import sagemaker

    return sagemaker.analytics(sm, name)
