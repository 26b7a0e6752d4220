"""Script mode in a tuning spec: the user's script, its metrics, and the static
hyperparameters SDK v2's tuner sends for it.

A spec names `entry_point` and `source_dir` (and optionally `distribution` and
`code_location`); its metrics are declared, since no image knows them. `plan` then builds the
request with these instead of the image's own rules and metrics.
"""

from __future__ import annotations

from pathlib import Path

from smtune.containers.script import (
    ARCHIVE,
    ScriptField,
    ScriptSpec,
    encode,
    hyperparameter_name_problem,
    script_problems,
)
from smtune.entrypoints.contract.metrics import MetricSpec
from smtune.tuning.metrics import Metric, PatternMetric, reads_its_own_line, regex_problems
from smtune.tuning.spec import KeyedMetric, ScriptDistribution, TuningJobSpec

SCRIPT_FIELDS = {
    ScriptField.ENTRY_POINT: "entry_point",
    ScriptField.SOURCE_DIR: "source_dir",
    ScriptField.DISTRIBUTION: "distribution.type",
    ScriptField.PROCESSES_PER_HOST: "distribution.processes_per_host",
}


def source_uri(spec: TuningJobSpec) -> str:
    """Where a script's folder goes, as SDK v2 names it when given a code_location:
    `<code_location>/<job name>/source/sourcedir.tar.gz`. Without one, the SDK uses the root
    of output_path's bucket; we default to output_path itself, the prefix the job's role
    already writes."""
    prefix = (spec.code_location or spec.output_path).rstrip("/")
    return f"{prefix}/{spec.name}/source/{ARCHIVE}"


def script_of(spec: TuningJobSpec) -> tuple[ScriptSpec | None, list[str]]:
    """The spec's script, or None; and the problems of its script fields."""
    if spec.entry_point is None and spec.source_dir is None:
        unused = [
            (bool(spec.metrics), "metrics", "the image's own metrics are known"),
            (spec.distribution != ScriptDistribution(), "distribution", "the image launches"),
            (spec.code_location is not None, "code_location", "there is no code to upload"),
        ]
        return None, [
            f"{name}: applies to a script (entry_point) only: {why}"
            for given, name, why in unused
            if given
        ]
    missing = [
        f"{name} is required with {other}: {what}"
        for name, other, what in [
            ("entry_point", "source_dir", "the script the image runs"),
            ("source_dir", "entry_point", "the folder uploaded as sourcedir.tar.gz"),
        ]
        if getattr(spec, name) is None
    ]
    if missing or spec.entry_point is None or spec.source_dir is None:
        return None, missing
    distribution = spec.distribution
    problems = script_problems(
        spec.entry_point,
        Path(spec.source_dir),
        distribution.type,
        distribution.processes_per_host,
        SCRIPT_FIELDS,
    )
    if problems:
        return None, problems
    script = ScriptSpec(
        spec.entry_point, Path(spec.source_dir), distribution.type, distribution.processes_per_host
    )
    return script, []


def check_script_hyperparameters(spec: TuningJobSpec) -> list[str]:
    """A script gets each hyperparameter as `--name value`: its names must be flags."""
    named = [("static_hyperparameters", n) for n in spec.static_hyperparameters]
    named += [("ranges", n) for n in spec.ranges]
    return [
        f"{where}.{name}: {problem}"
        for where, name in named
        if (problem := hyperparameter_name_problem(name))
    ]


def declared_metrics(spec: TuningJobSpec) -> tuple[tuple[Metric, ...], list[str]]:
    """A script's metrics, as its spec declares them, each checked."""
    if not spec.metrics:
        return (), [
            "metrics: a script's metrics must be declared, the objective's at least: "
            "{name, key, direction} for a line printed as the images print theirs, or "
            "{name, regex, sample}"
        ]
    metrics: list[Metric] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, declared in enumerate(spec.metrics):
        where = f"metrics.{index}"
        if declared.name in seen:
            problems.append(f"{where}.name: {declared.name!r} is declared twice: must be unique")
        seen.add(declared.name)
        if isinstance(declared, KeyedMetric):
            try:
                keyed = MetricSpec(declared.name, declared.key, declared.direction)
            except ValueError as error:
                problems.append(f"{where}.key: {error}")
                continue
            problems += reads_its_own_line(where, keyed)
            metrics.append(keyed)
            continue
        found = regex_problems(where, declared.regex, declared.sample)
        problems += found
        if not found:
            metrics.append(PatternMetric(declared.name, declared.regex, declared.direction))
    return tuple(metrics), problems


def static_hyperparameters(
    spec: TuningJobSpec, script: ScriptSpec, region: str | None
) -> dict[str, str]:
    """A script's StaticHyperParameters as SDK v2's tuner sends them: the spec's, JSON-encoded
    (`"adam"`, `6`, `true`), and the script's own (sagemaker_program, ...)."""
    given = {k: encode(v) for k, v in spec.static_hyperparameters.items()}
    own = script.hyperparameters(source_uri(spec), spec.name, region, spec.instance.type)
    return {**given, **own}
