"""Metric lines: printed by global rank 0 only, flushed, read back by their own regexes."""

from __future__ import annotations

import io
import re

import pytest

from smtune.entrypoints.contract.metrics import cloudwatch_form
from smtune.entrypoints.toolkit import metrics

ACCURACY = metrics.MetricSpec(
    "validation:accuracy", "validation-accuracy", metrics.Direction.MAXIMIZE
)
LOSS = metrics.MetricSpec("train:loss", "train-loss", metrics.Direction.MINIMIZE)


@pytest.fixture(autouse=True)
def no_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("RANK", "HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "SM_HOSTS", "SM_CURRENT_HOST"):
        monkeypatch.delenv(variable, raising=False)


def test_a_single_process_prints_the_line_that_the_definitions_read() -> None:
    out = io.StringIO()
    assert metrics.report(3, {LOSS: 0.25, ACCURACY: 1e-05}, stream=out)
    line = out.getvalue()
    assert line == "[3]\ttrain-loss:0.25\tvalidation-accuracy:1e-05\n"
    for definition, value in zip(metrics.definitions([LOSS, ACCURACY]), (0.25, 1e-05), strict=True):
        match = re.search(definition["Regex"], cloudwatch_form(line))
        assert match is not None and float(match.group(1)) == value
    assert [d["Name"] for d in metrics.definitions([LOSS, ACCURACY])] == [
        "train:loss",
        "validation:accuracy",
    ]


@pytest.mark.parametrize(
    ("environ", "prints"),
    [
        ({"RANK": "0", "WORLD_SIZE": "4"}, True),
        ({"RANK": "3", "WORLD_SIZE": "4"}, False),
        ({"HOROVOD_RANK": "1", "HOROVOD_SIZE": "2"}, False),
        ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "3"}, False),
        # One process per host: the leader is sorted(hosts)[0].
        ({"SM_HOSTS": '["algo-2", "algo-1"]', "SM_CURRENT_HOST": "algo-1"}, True),
        ({"SM_HOSTS": '["algo-2", "algo-1"]', "SM_CURRENT_HOST": "algo-2"}, False),
        # A launcher's rank wins over the host's: rank 1 may run on the leader host.
        ({"RANK": "1", "SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1"}, False),
    ],
)
def test_only_global_rank_0_prints(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], prints: bool
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    assert metrics.report(0, {ACCURACY: 0.97}, stream=out) is prints
    assert out.getvalue() == ("[0]\tvalidation-accuracy:0.97\n" if prints else "")


def test_a_bad_call_fails_on_every_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(TypeError, match="must be MetricSpec objects"):
        metrics.report(0, {"validation:accuracy": 0.97})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="iteration=-1 is out of range"):
        metrics.report(-1, {ACCURACY: 0.97})


def test_the_line_goes_to_stdout_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.report(1, {ACCURACY: 0.5})
    assert capsys.readouterr().out == "[1]\tvalidation-accuracy:0.5\n"
