"""A study file: the validated model of `smtune study`'s YAML.

    name: xgboost-bank-study
    image: xgboost                     # the catalogue image, as the tuning job names it
    baseline:                          # the untuned job: what one runs without tuning
      hyperparameters: {num_round: 200, eta: 0.3, ...}
    sizes: [1, 2, 3, 4]                # cluster sizes (instance counts) to compare
    tuning: ../jobs/xgboost-bank-hyperband.yaml   # a tuning spec: a path (relative to
                                       # this file) or the spec itself, inline
    max_hosts: 8                       # the most instances a size may have
    rung_check: {configurations: 6, hosts: 1}     # run to MaxResource, to test the rungs
    tolerance: 0.005                   # objectives this close count as equally accurate

Loading it checks everything that can be known before anything runs, and lists every
problem at once, each naming the field, the value and the rule.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smtune.containers.catalogue import IMAGES, ImageSpec
from smtune.containers.errors import Problems
from smtune.entrypoints.contract.errors import UserError
from smtune.tuning.study import tuning_seam as seam


class StudyError(Problems):
    """A study that cannot run; `problems` lists every reason found."""

    kind = "study"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Baseline(_Strict):
    hyperparameters: dict[str, str | int | float | bool] = Field(min_length=1)


class RungCheck(_Strict):
    """Configurations run to MaxResource only to measure how far the rungs can be trusted."""

    configurations: int = Field(default=0, ge=0)
    hosts: int = Field(default=1, ge=1)


Size = Annotated[int, Field(ge=1)]


class StudyFile(_Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    image: str
    baseline: Baseline
    sizes: list[Size] = Field(min_length=1)
    tuning: str | dict[str, Any]
    max_hosts: int = Field(default=8, ge=1)
    rung_check: RungCheck = Field(default_factory=RungCheck)
    tolerance: float = Field(default=0.005, ge=0)


@dataclass(frozen=True)
class Study:
    """A checked study: everything `run` and `report` need."""

    name: str
    image: ImageSpec
    baseline: dict[str, str]
    sizes: tuple[int, ...]
    spec: seam.TuningJobSpec
    facts: seam.TuningFacts
    rung_check: RungCheck
    tolerance: float
    fingerprint: str  # what the out folder's journal must have been made with

    def plan_at(self, hosts: int, registry: str | None = "local") -> seam.Plan:
        return seam.check(seam.at_size(self.spec, hosts), registry)


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _problem(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    shown = error["type"] != "missing" and not isinstance(error["input"], dict)
    return f"{where}: {error['msg']}" + (f" (got {error['input']!r})" if shown else "")


def read(path: Path) -> Study:
    """Read and check a study file; a StudyError lists every problem."""
    try:
        data = seam.parse_yaml(Path(path).read_text())
    except OSError as error:
        raise StudyError(str(path), [f"cannot be read: {error.strerror}"]) from None
    except seam.YamlError as error:
        raise StudyError(str(path), [str(error)]) from None
    return parse(data, str(path), Path(path).parent)


def parse(data: Any, source: str = "study", base: Path = Path()) -> Study:
    """A checked study from plain data; `base` is where a tuning spec's path is relative to."""
    raw = data if isinstance(data, dict) else {}
    problems: list[str] = []
    failed: set[str] = set()
    try:
        StudyFile.model_validate(data)
    except ValidationError as error:
        problems += [_problem(e) for e in error.errors()]
        failed = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
    spec = _tuning_spec(raw.get("tuning"), base, problems)
    model = _rest(raw, failed)
    if model is not None:
        problems += _sizes(model, raw.get("sizes"))
    study = _check(model, spec, problems, failed) if model and spec else None
    if not problems and study is not None:
        return study
    raise StudyError(source, problems or ["tuning: a tuning spec is required"])


# Stand-ins for fields that failed, so that the other fields are still checked; the checks
# that depend on a failed field are skipped (its own problem is listed already).
_STAND_INS: dict[str, Any] = {
    "name": "study",
    "image": "",
    "baseline": {"hyperparameters": {"_": 0}},
    "tuning": "",
}


def _rest(raw: dict[str, Any], failed: set[str]) -> StudyFile | None:
    if "(top level)" in failed or not raw:
        return None
    rest = {k: v for k, v in raw.items() if k not in failed and k in StudyFile.model_fields}
    rest |= {k: v for k, v in _STAND_INS.items() if k in failed or k not in rest}
    if "sizes" in failed or "sizes" not in rest:
        given = raw.get("sizes")
        listed = given if isinstance(given, list) else []
        rest["sizes"] = [s for s in listed if isinstance(s, int) and s >= 1] or [1]
    try:
        return StudyFile.model_validate(rest)
    except ValidationError:
        return None


def _tuning_spec(given: Any, base: Path, problems: list[str]) -> seam.TuningJobSpec | None:
    if not isinstance(given, str | dict):
        return None  # the model's own error names it
    try:
        if isinstance(given, str):
            return seam.read_spec(base / given)
        return seam.parse_spec(given, "tuning")
    except seam.SpecError as error:
        where = f"tuning ({given})" if isinstance(given, str) else "tuning"
        problems += [f"{where}: {p}" for p in error.problems]
        return None


def _check(
    model: StudyFile, spec: seam.TuningJobSpec, problems: list[str], failed: set[str]
) -> Study | None:
    if spec.strategy.type != "Hyperband":
        problems.append(
            f"tuning.strategy.type: {spec.strategy.type!r} is not allowed: must be 'Hyperband' "
            "(the study compares the compute with and without early stopping, which only "
            "Hyperband's rungs give, and rehearses it locally)"
        )
        return None
    checked = _plans(model, spec, problems)
    if checked is None:
        return None
    facts = seam.facts(checked)
    if "image" in failed:
        return None
    image = IMAGES.get(model.image)
    if image is None:
        problems.append(
            f"image: {model.image!r} is not in the catalogue: must be one of {', '.join(IMAGES)}"
        )
        return None
    if image.name != facts.image.name:
        problems.append(
            f"image: {model.image!r} is not the tuning job's image ({facts.image.name}): the "
            "baseline and the tuning job must run the same image"
        )
        return None
    baseline = {k: _text(v) for k, v in model.baseline.hyperparameters.items()}
    if "baseline" not in failed:
        problems += _baseline(image, baseline, facts)
    problems += _channels(image, facts)
    canonical = json.dumps(
        {"study": model.model_dump(exclude={"sizes"}), "tuning": spec.model_dump(mode="json")},
        sort_keys=True,
    )
    return Study(
        name=model.name,
        image=image,
        baseline=baseline,
        sizes=tuple(model.sizes),
        spec=spec,
        facts=facts,
        rung_check=model.rung_check,
        tolerance=model.tolerance,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest()[:16],
    )


def _sizes(model: StudyFile, given: Any) -> list[str]:
    """Sizes above max_hosts or repeated, by their place in the file as given."""
    problems = []
    sizes = [s for s in given if isinstance(s, int)] if isinstance(given, list) else []
    for index, size in enumerate(given if isinstance(given, list) else []):
        if isinstance(size, int) and size > model.max_hosts:
            problems.append(
                f"sizes.{index}: {size} is out of range: must be <= max_hosts={model.max_hosts}"
            )
    repeated = sorted({s for s in sizes if sizes.count(s) > 1})
    if repeated:
        problems.append(f"sizes: {repeated} given twice: each size must appear once")
    if model.rung_check.hosts > model.max_hosts:
        problems.append(
            f"rung_check.hosts: {model.rung_check.hosts} is out of range: must be <= "
            f"max_hosts={model.max_hosts}"
        )
    return problems


def _plans(model: StudyFile, spec: seam.TuningJobSpec, problems: list[str]) -> seam.Plan | None:
    """The tuning job checked at every size: a problem found at several is listed once."""
    first: seam.Plan | None = None
    seen: set[str] = set()
    for size in dict.fromkeys(model.sizes):
        try:
            checked = seam.check(seam.at_size(spec, size))
        except seam.SpecError as error:
            fresh = [p for p in error.problems if p not in seen]
            seen.update(fresh)
            problems += [f"tuning: {p}" for p in fresh]
            continue
        if size > model.max_hosts:
            continue
        first = first or checked
    return first if not seen else None


def _baseline(image: ImageSpec, baseline: dict[str, str], facts: seam.TuningFacts) -> list[str]:
    problems = []
    declared = image.hyperparameters.declared
    for name, value in baseline.items():
        where = f"baseline.hyperparameters.{name}"
        if name not in declared:
            problems.append(f"{where}: the {image.name} image has no hyperparameter {name!r}")
            continue
        try:
            declared[name].parse(value)
        except UserError as error:
            problems.append(f"{where}: the image would reject it: {error.message}")
    for name, rule in declared.items():
        if rule.required and name not in baseline:
            problems.append(
                f"baseline.hyperparameters.{name} is required by the {image.name} image"
            )
    if problems:
        return problems
    printed = seam.emitted(image, baseline)
    if facts.objective not in printed:
        problems.append(
            f"baseline.hyperparameters: with these the {image.name} image prints "
            f"{', '.join(printed)}, not the tuning job's objective {facts.objective}: the "
            "untuned and tuned objectives must be the same metric (e.g. set its eval_metric)"
        )
    return problems


def _channels(image: ImageSpec, facts: seam.TuningFacts) -> list[str]:
    return [
        f"tuning.channels.{name} is required: {why} (the job has {', '.join(facts.channels)})"
        for name, why in seam.channels_needed(image, facts.objective).items()
        if name not in facts.channels
    ]
