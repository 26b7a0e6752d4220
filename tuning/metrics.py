"""Metrics a tuning job reads from its training jobs' logs: the images' MetricSpecs, or a
script's own regexes.

A MetricSpec formats the line it reads, so it is right by construction. A script's regex is
the user's: `regex_problems` checks it the way SageMaker will use it (one capture group, read
from the CloudWatch form of a line the script prints), and `PatternMetric` reads it the way
the rehearsal reads an image's metrics.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

from smtune.entrypoints.contract.metrics import (
    MAX_REGEX_LENGTH,
    Direction,
    MetricLine,
    MetricSpec,
    cloudwatch_form,
)

MAX_NAME_LENGTH = 255  # SageMaker's limit on MetricDefinition.Name


class Metric(Protocol):
    """What a tuning job needs of a metric: its definition and how its regex reads a line."""

    @property
    def name(self) -> str: ...

    @property
    def regex(self) -> str: ...

    @property
    def direction(self) -> Direction | None: ...

    def definition(self) -> dict[str, str]: ...

    def read(self, line: str) -> float | None: ...

    def non_finite(self, line: str) -> str | None: ...


@dataclass(frozen=True)
class PatternMetric:
    """A metric defined by a regex alone, as a script's MetricDefinition is.

    Args:
        name: The MetricDefinition name; a tuning job's objective refers to it.
        regex: Its one capture group reads the value, from a line as CloudWatch shows it.
        direction: Whether larger values are better; None when the regex says nothing of it
            (the tuning job's objective then must).
    """

    name: str
    regex: str
    direction: Direction | None = None

    def definition(self) -> dict[str, str]:
        return {"Name": self.name, "Regex": self.regex}

    def _captured(self, line: str) -> str | None:
        match = re.search(self.regex, line)
        return match.group(1) if match else None

    def read(self, line: str) -> float | None:
        """The number the regex captures; None where it matches nothing, or captures text
        that is no number, or nan/inf (CloudWatch gets no datapoint from those)."""
        captured = self._captured(line)
        try:
            value = float(captured) if captured is not None else None
        except ValueError:
            return None
        return value if value is not None and math.isfinite(value) else None

    def non_finite(self, line: str) -> str | None:
        """The nan or inf the regex captures, which is no datapoint; None otherwise."""
        captured = self._captured(line)
        try:
            return captured if captured is not None and not math.isfinite(float(captured)) else None
        except ValueError:
            return None


def regex_problems(where: str, regex: str, sample: str | None) -> list[str]:
    """Why `regex` cannot be a script's MetricDefinition, checked on `sample`, a line the
    script prints (SageMaker applies it to the line's CloudWatch form, tab shown as #011)."""
    if len(regex) > MAX_REGEX_LENGTH:
        return [f"{where}.regex: {len(regex)} characters: must be at most {MAX_REGEX_LENGTH}"]
    try:
        compiled = re.compile(regex)
    except re.error as error:
        return [f"{where}.regex: {regex!r} does not compile: {error}"]
    if compiled.groups != 1:
        return [
            f"{where}.regex: {regex!r} has {compiled.groups} capture groups: must have exactly "
            "one, the value (write (?:...) for any other group)"
        ]
    if sample is None:
        return [
            f"{where}.sample is required with a regex: a line the script prints, on which the "
            "regex is checked (e.g. 'epoch 3 validation-accuracy=0.97')"
        ]
    return _sample_problems(where, regex, sample)


def _sample_problems(where: str, regex: str, sample: str) -> list[str]:
    metric = PatternMetric("sample", regex)
    seen = cloudwatch_form(sample)
    if metric.read(seen) is not None:
        return []
    captured = metric._captured(seen)
    if captured is not None:
        return [
            f"{where}.regex: {regex!r} captures {captured!r} from the sample: must capture a "
            "finite number"
        ]
    if metric.read(sample) is not None:
        return [
            f"{where}.regex: {regex!r} reads the sample as printed but not as CloudWatch shows "
            f"it, {seen!r}: must match it with each tab shown as #011 (write (?:\\t|#011))"
        ]
    return [f"{where}.regex: {regex!r} reads no number from the sample {sample!r}"]


def reads_its_own_line(where: str, chosen: MetricSpec) -> list[str]:
    """Whether a MetricSpec's regex reads the line it formats, printed and in CloudWatch."""
    problems = []
    sample = MetricLine([chosen]).format(7, {chosen.name: 0.8125})
    for form in (sample, cloudwatch_form(sample)):
        if chosen.read(form) != 0.8125:
            problems.append(
                f"{where}: the regex {chosen.regex!r} does not read the "
                f"line the image prints: {form!r}"
            )
    return problems
