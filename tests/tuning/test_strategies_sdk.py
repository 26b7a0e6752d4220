"""Each strategy and Autotune through SDK v2's and v3's HyperparameterTuner: the tuning job
config they create is ours, field by field; what an SDK cannot express is refused.

Run in .venv-sdk2 and .venv-sdk3 (`make test` does); each SDK's test skips elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from smtune.tuning.plan import TuningPlan
from smtune.tuning.request import build_request
from smtune.tuning.sdk import AutotuneNotExpressible, v2_tuner, v3_tuner
from tests.tuning.test_sdk_v2 import sent_by_v2
from tests.tuning.test_sdk_v3 import created_by_v3
from tests.tuning.test_strategies import planned

# The example specs; the autotuned one with the two fields both SDKs always send, and for
# SDK v3, which drops AutoParameters, without its auto parameter.
CASES = {
    "random": {},
    "grid": {},
    "bayesian": {},
    "autotune": {"limits.max_jobs": 10, "early_stopping": "Auto"},
}
V3_CASES = {**CASES, "autotune": {**CASES["autotune"], "auto_parameters": None}}
CONFIG_KEYS = (
    "Strategy",
    "StrategyConfig",
    "ResourceLimits",
    "ParameterRanges",
    "TrainingJobEarlyStoppingType",
    "RandomSeed",
    "HyperParameterTuningJobObjective",
)


def same_config(theirs: dict[str, Any], checked: TuningPlan) -> None:
    ours = build_request(checked)["HyperParameterTuningJobConfig"]
    # A Grid's left-out number of jobs goes to the SDKs as the number of combinations.
    ours["ResourceLimits"]["MaxNumberOfTrainingJobs"] = checked.max_jobs
    for key in CONFIG_KEYS:
        mine, sent = ours.get(key), theirs.get(key)
        if key == "ParameterRanges":  # an SDK may send empty lists of the kinds we leave out
            sent = {k: v for k, v in sent.items() if v}
        assert sent == mine, key


@pytest.mark.sdk2
@pytest.mark.parametrize("kind", CASES)
def test_v2_sends_each_strategy_as_we_do(kind: str) -> None:
    ours = planned(kind, **CASES[kind])
    sent, _ = sent_by_v2(ours)
    same_config(sent["HyperParameterTuningJobConfig"], ours)
    assert sent.get("Autotune") == build_request(ours).get("Autotune")
    # Autotune: every static hyperparameter stays static; the auto parameters, and only they,
    # are AutoParameters (compared with the ranges above) and not static.
    static = sent["TrainingJobDefinition"]["StaticHyperParameters"]
    assert {k: static.get(k) for k in ours.definition.static_hyperparameters} == dict(
        ours.definition.static_hyperparameters
    )
    assert not set(static) & set(ours.definition.auto_parameters)


@pytest.mark.sdk3
@pytest.mark.parametrize("kind", V3_CASES)
def test_v3_creates_each_strategy_as_we_do(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    ours = planned(kind, **V3_CASES[kind])
    described = created_by_v3(monkeypatch, ours)
    same_config(described["HyperParameterTuningJobConfig"], ours)
    assert described.get("Autotune") == build_request(ours).get("Autotune")


def test_an_autotuned_plan_leaving_fields_to_amt_is_refused_by_both_sdks() -> None:
    checked = planned("autotune")
    for tuner in (v2_tuner, v3_tuner):  # refused before the SDK is imported
        with pytest.raises(AutotuneNotExpressible) as error:
            tuner(checked)
        assert str(error.value) == (
            "autotune: synthetic-autotune leaves limits.max_jobs (MaxNumberOfTrainingJobs), "
            "early_stopping (TrainingJobEarlyStoppingType) to AMT, but "
            "the SDK tuners always send them (MaxNumberOfTrainingJobs=1, "
            "TrainingJobEarlyStoppingType=Off when not given): give them in the spec, or submit "
            "it with `smtune tune submit`"
        )


def test_sdk_v3_refuses_auto_parameters_it_would_drop() -> None:
    with pytest.raises(AutotuneNotExpressible) as error:
        v3_tuner(planned("autotune", **CASES["autotune"]))  # before SDK v3 is imported
    assert str(error.value) == (
        "auto_parameters: SDK v3's tuner drops AutoParameters (y): build synthetic-autotune "
        "with SDK v2's (`v2_tuner`), or submit it with `smtune tune submit`"
    )
