"""Both SDKs' tuners send our WarmStartConfig: v2 in .venv-sdk2, v3 in .venv-sdk3 (each
test is skipped where its SDK is not installed)."""

from __future__ import annotations

import pytest

from smtune.tuning.plan import TuningPlan
from smtune.tuning.planning.planner import plan
from smtune.tuning.request import build_request
from smtune.tuning.spec import parse, read_data
from tests.tuning.conftest import SEED

PARENTS = ["earlier-auc", "earlier-auc-2", "other-3"]


def warm_plan(kind: str) -> TuningPlan:
    data = read_data(SEED)[0]
    data["warm_start"] = {"type": kind, "parents": PARENTS}
    return plan(parse(data))


@pytest.mark.sdk2
@pytest.mark.parametrize("kind", ["IdenticalDataAndAlgorithm", "TransferLearning"])
def test_v2_sends_the_same_warm_start_config(kind: str) -> None:
    from tests.tuning.test_sdk_v2 import sent_by_v2

    ours = warm_plan(kind)
    sent, _ = sent_by_v2(ours)
    expected = build_request(ours)["WarmStartConfig"]
    given = sent["WarmStartConfig"]
    assert given["WarmStartType"] == expected["WarmStartType"] == kind
    # v2 keeps its parents in a set: the same parents, in an order of its own.
    by_name = sorted(given["ParentHyperParameterTuningJobs"], key=str)
    assert by_name == sorted(expected["ParentHyperParameterTuningJobs"], key=str)
    assert len(given["ParentHyperParameterTuningJobs"]) == len(PARENTS)


@pytest.mark.sdk3
@pytest.mark.parametrize("kind", ["IdenticalDataAndAlgorithm", "TransferLearning"])
def test_v3_sends_the_same_warm_start_config(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    from tests.tuning.test_sdk_v3 import created_by_v3

    ours = warm_plan(kind)
    described = created_by_v3(monkeypatch, ours)
    # v3 keeps the parents' order: the whole block is ours.
    assert described["WarmStartConfig"] == build_request(ours)["WarmStartConfig"]
