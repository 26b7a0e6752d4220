"""One source of truth for metrics: the printed line and the MetricDefinition regex.

A training image prints one line per iteration, from the leader only:

    [12]<TAB>train-auc:0.91<TAB>validation-auc:0.78

SageMaker ships stdout to CloudWatch, where a tab shows as `#011`, and applies each
MetricDefinition's regex to those log lines. AMT Hyperband counts the objective's lines as
the resource, so a line printed twice (say by two hosts) is a wrong decision later. The
same `MetricSpec` both formats a field of that line and produces the regex that reads it,
so the two cannot drift apart.
"""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TextIO

MAX_REGEX_LENGTH = 500  # SageMaker's limit on MetricDefinition.Regex
_NUMBER = r"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
# What `field` prints for a value that is not a number: the regex reads none of these.
_NON_FINITE = r"([-+]?(?:nan|inf))(?![0-9A-Za-z.])"
_FIELD_SEPARATOR = r"(?:\t|#011)"  # a real tab on stdout, #011 in CloudWatch
_REGEX_SPECIAL = set(".^$*+?()[]{}|\\")
_TAG = re.compile(r"\[([0-9]+)\]")  # the iteration that starts a metric line


class Direction(enum.Enum):
    """The objective type of a tuning job, spelled as the API spells it."""

    MAXIMIZE = "Maximize"
    MINIMIZE = "Minimize"


def _escape(text: str) -> str:
    # re.escape would also escape '-' and ':', which is legal but makes the regex in the
    # tuning job's request hard to read; escape only what is special in Java and Python.
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


@dataclass(frozen=True)
class MetricSpec:
    """A metric an image prints.

    Args:
        name: The MetricDefinition name, e.g. `validation:auc` (as SageMaker's built-in
            XGBoost names it); a tuning job's objective refers to this name.
        key: The label in the printed line, e.g. `validation-auc`.
        direction: Whether larger or smaller values are better.
    """

    name: str
    key: str
    direction: Direction

    def __post_init__(self) -> None:
        if not self.key or any(c in self.key for c in "\t\n:#"):
            raise ValueError(
                f"key={self.key!r} must be non-empty, without tab, newline, ':' or '#'"
            )
        if len(self.regex) > MAX_REGEX_LENGTH:
            raise ValueError(
                f"regex of {self.name!r} has {len(self.regex)} characters: must be <= "
                f"{MAX_REGEX_LENGTH}"
            )

    @property
    def regex(self) -> str:
        return rf"\[[0-9]+\].*{_FIELD_SEPARATOR}{_escape(self.key)}:{_NUMBER}"

    def field(self, value: float) -> str:
        # repr() is the shortest text that reads back as the same float: 0.91, 1e-05, -0.5.
        return f"{self.key}:{float(value)!r}"

    def definition(self) -> dict[str, str]:
        """The MetricDefinitions entry of a training or tuning job."""
        return {"Name": self.name, "Regex": self.regex}

    def read(self, line: str) -> float | None:
        """The value this metric's regex captures from one log line, as SageMaker would."""
        match = re.search(self.regex, line)
        return float(match.group(1)) if match else None

    def non_finite(self, line: str) -> str | None:
        """The `nan` or `inf` this metric's field holds in a log line, which its regex does
        not read: on SageMaker CloudWatch gets no datapoint, and AMT neither sees nor counts
        that line. None where the field holds a number, or is not there."""
        pattern = rf"\[[0-9]+\].*{_FIELD_SEPARATOR}{_escape(self.key)}:{_NON_FINITE}"
        match = re.search(pattern, line)
        return match.group(1) if match else None


class MetricLine:
    """Formats and prints the one metric line of an iteration."""

    def __init__(self, specs: Iterable[MetricSpec]) -> None:
        self.specs = {spec.name: spec for spec in specs}

    def format(self, iteration: int, values: Mapping[str, float]) -> str:
        unknown = set(values) - set(self.specs)
        if unknown:
            raise KeyError(f"metrics {sorted(unknown)} are not declared: {sorted(self.specs)}")
        fields = [self.specs[name].field(value) for name, value in values.items()]
        return "\t".join([f"[{iteration}]", *fields])

    @staticmethod
    def iteration(line: str) -> int | None:
        """The iteration a line's tag gives (`[12]...` is 12), printed or as CloudWatch shows
        it; None for a line that starts with no tag."""
        tag = _TAG.match(line)
        return int(tag.group(1)) if tag else None

    def emit(
        self, iteration: int, values: Mapping[str, float], stream: TextIO | None = None
    ) -> None:
        stream = sys.stdout if stream is None else stream
        stream.write(self.format(iteration, values) + "\n")
        stream.flush()  # AMT reads the log as it grows; a buffered line is a late decision


def cloudwatch_form(line: str) -> str:
    """How a line appears in CloudWatch Logs, where SageMaker's regexes are applied."""
    return line.replace("\t", "#011")
