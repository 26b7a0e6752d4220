"""The printed metric line and the MetricDefinition regex come from one object and agree."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtune.entrypoints.contract.metrics import (
    MAX_REGEX_LENGTH,
    Direction,
    MetricLine,
    MetricSpec,
    cloudwatch_form,
)

AUC = MetricSpec("validation:auc", "validation-auc", Direction.MAXIMIZE)
TRAIN_AUC = MetricSpec("train:auc", "train-auc", Direction.MAXIMIZE)
AUCPR = MetricSpec("validation:aucpr", "validation-aucpr", Direction.MAXIMIZE)
LINE = MetricLine([TRAIN_AUC, AUC, AUCPR])


@pytest.mark.parametrize("value", [0.78, 1e-05, -0.5, 12.5, 3.0, 1e300, -2.5e-12, 0.0])
def test_regex_reads_back_the_printed_value_in_both_log_forms(value: float) -> None:
    line = LINE.format(12, {"train:auc": 0.91, "validation:auc": value})
    assert AUC.read(line) == value
    assert AUC.read(cloudwatch_form(line)) == value
    assert "#011" in cloudwatch_form(line) and "\t" not in cloudwatch_form(line)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_float_round_trips(value: float) -> None:
    line = LINE.format(0, {"validation:auc": value})
    assert AUC.read(cloudwatch_form(line)) == value


def test_fields_are_told_apart() -> None:
    line = LINE.format(3, {"train:auc": 0.1, "validation:auc": 0.2, "validation:aucpr": 0.3})
    assert line == "[3]\ttrain-auc:0.1\tvalidation-auc:0.2\tvalidation-aucpr:0.3"
    assert (TRAIN_AUC.read(line), AUC.read(line), AUCPR.read(line)) == (0.1, 0.2, 0.3)


def test_regex_ignores_lines_that_are_not_metric_lines() -> None:
    assert AUC.read("INFO validation-auc:0.9 without the iteration tag") is None
    assert AUC.read("[3]\ttrain-auc:0.9") is None


def test_regex_is_valid_and_within_sagemaker_limit() -> None:
    assert len(AUC.regex) <= MAX_REGEX_LENGTH
    re.compile(AUC.regex)
    assert AUC.definition() == {"Name": "validation:auc", "Regex": AUC.regex}


def test_a_key_that_would_break_the_line_is_rejected() -> None:
    with pytest.raises(ValueError, match="key="):
        MetricSpec("x", "bad\tkey", Direction.MINIMIZE)
    with pytest.raises(ValueError, match="must be <= 500"):
        MetricSpec("x", "k" * 480, Direction.MINIMIZE)


def test_emit_writes_one_flushed_line() -> None:
    stream = io.StringIO()
    LINE.emit(7, {"validation:auc": 0.5}, stream=stream)
    assert stream.getvalue() == "[7]\tvalidation-auc:0.5\n"


def test_undeclared_metric_is_an_error() -> None:
    with pytest.raises(KeyError, match="not declared"):
        LINE.format(0, {"validation:rmse": 1.0})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_value_is_not_read_but_is_recognised_as_such(value: float) -> None:
    """The regex reads no number (CloudWatch gets no datapoint); `non_finite` names it."""
    line = LINE.format(7, {"validation:auc": value, "validation:aucpr": 0.5})
    for form in (line, cloudwatch_form(line)):
        assert AUC.read(form) is None
        assert AUC.non_finite(form) == repr(value)
        assert AUCPR.non_finite(form) is None  # a number there
        assert TRAIN_AUC.non_finite(form) is None  # not in the line
