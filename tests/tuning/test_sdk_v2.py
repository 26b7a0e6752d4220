"""SDK v2's HyperparameterTuner from our spec sends the same job as our own request.

Runs in .venv-sdk2 (`make test` does), where SDK v2 is installed; skipped elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smtune.tuning.planning.planner import plan
from smtune.tuning.request import build_request
from smtune.tuning.spec import load
from tests.tuning.conftest import SCRIPT, SEED

pytestmark = pytest.mark.sdk2


def sent_by_v2(ours: Any, **fit: Any) -> tuple[dict[str, Any], Any]:
    """The CreateHyperParameterTuningJob parameters v2's tuner of `ours` sends (to a Stubber
    that takes any), and the inputs the tuner was given."""
    sagemaker = pytest.importorskip("sagemaker")
    version = getattr(sagemaker, "__version__", "3 or later")  # v3 has none
    if not version.startswith("2."):
        pytest.skip(f"SDK v2 test, found {version}")
    import boto3
    from botocore.stub import Stubber

    from smtune.tuning.sdk import v2_tuner

    client = boto3.client("sagemaker", region_name="eu-west-1")
    sent: dict[str, Any] = {}
    client.meta.events.register(
        "provide-client-params.sagemaker.CreateHyperParameterTuningJob",
        lambda params, **_: sent.update(params),
    )
    session = sagemaker.Session(
        boto_session=boto3.Session(region_name="eu-west-1"), sagemaker_client=client
    )
    tuner, inputs = v2_tuner(ours, session)
    with Stubber(client) as stub:
        stub.add_response(
            "create_hyper_parameter_tuning_job",
            {
                "HyperParameterTuningJobArn": "arn:aws:sagemaker:eu-west-1:"
                "123456789012:hyper-parameter-tuning-job/x"
            },
            None,  # the SDK adds keys of its own: compared field by field
        )
        tuner.fit(inputs, job_name=ours.name, wait=False, **fit)
    return sent, inputs


# The built-in XGBoost's spec, and a script's (the DNN image runs train.py in script mode).
@pytest.mark.parametrize("spec_file", [SEED, SCRIPT], ids=["xgboost", "script"])
def test_v2_tuner_creates_the_same_tuning_job(spec_file: Path) -> None:
    ours = plan(load(spec_file), region="eu-west-1")
    sent, _ = sent_by_v2(ours)
    expected = build_request(ours)
    config, definition = sent["HyperParameterTuningJobConfig"], sent["TrainingJobDefinition"]
    assert sent["HyperParameterTuningJobName"] == expected["HyperParameterTuningJobName"]
    for key in (
        "Strategy",
        "StrategyConfig",
        "HyperParameterTuningJobObjective",
        "TrainingJobEarlyStoppingType",
        "RandomSeed",
    ):
        assert config[key] == expected["HyperParameterTuningJobConfig"][key], key
    ours_ranges = expected["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert {
        k: sorted(v, key=lambda r: r["Name"]) for k, v in config["ParameterRanges"].items() if v
    } == {k: sorted(v, key=lambda r: r["Name"]) for k, v in ours_ranges.items()}
    ours_definition = expected["TrainingJobDefinition"]
    algorithm = definition["AlgorithmSpecification"]
    assert algorithm["TrainingImage"] == ours_definition["AlgorithmSpecification"]["TrainingImage"]
    assert (
        algorithm["MetricDefinitions"]
        == ours_definition["AlgorithmSpecification"]["MetricDefinitions"]
    )
    # v2 sends the newer HyperParameterTuningResourceConfig where we send ResourceConfig.
    resources = definition.get("ResourceConfig") or definition["HyperParameterTuningResourceConfig"]
    assert resources["InstanceCount"] == {SEED: 3, SCRIPT: 2}[spec_file]
    assert resources["InstanceType"] == ours_definition["ResourceConfig"]["InstanceType"]
    assert definition["InputDataConfig"] == ours_definition["InputDataConfig"]
    spot = ours_definition.get("EnableManagedSpotTraining", False)
    assert spot is (spec_file == SEED)  # the seed spec trains on spot instances
    assert definition.get("EnableManagedSpotTraining", False) is spot
    # Every static hyperparameter as we send it (a script's sagemaker_* ones included:
    # already JSON-encoded, v2's plain Estimator sends them as they are); SDK's own beside.
    ours_static = ours_definition["StaticHyperParameters"]
    sent_static = definition["StaticHyperParameters"]
    assert {k: sent_static.get(k) for k in ours_static} == ours_static
    assert all(k.startswith(("_", "sagemaker_")) for k in set(sent_static) - set(ours_static))


DEFINITIONS = SEED.with_name("synthetic-definitions.yaml")


def test_v2_tuner_creates_the_same_training_job_definitions() -> None:
    # Several definitions: v2's HyperparameterTuner.create, one estimator per definition.
    ours = plan(load(DEFINITIONS), region="eu-west-1")
    sent, inputs = sent_by_v2(ours, include_cls_metadata={})
    assert set(inputs) == {"hosts-1", "hosts-2", "hosts-3"}
    expected = build_request(ours)
    config, ours_config = (
        sent["HyperParameterTuningJobConfig"],
        expected["HyperParameterTuningJobConfig"],
    )
    assert "TrainingJobDefinition" not in sent
    # The objective and ranges go with each definition, as both of us send them.
    for absent in ("HyperParameterTuningJobObjective", "ParameterRanges"):
        assert absent not in config and absent not in ours_config, absent
    for key in ("Strategy", "StrategyConfig", "ResourceLimits", "RandomSeed"):
        assert config[key] == ours_config[key], key
    # v2 orders the definitions by name, we by the spec: compared by name.
    theirs = {d["DefinitionName"]: d for d in sent["TrainingJobDefinitions"]}
    mine = {d["DefinitionName"]: d for d in expected["TrainingJobDefinitions"]}
    assert list(mine) == ["hosts-1", "hosts-2", "hosts-3"] and set(theirs) == set(mine)
    for name, definition in mine.items():
        sent_definition = theirs[name]
        assert sent_definition["TuningObjective"] == definition["TuningObjective"], name
        assert {
            k: sorted(v, key=lambda r: r["Name"])
            for k, v in sent_definition["HyperParameterRanges"].items()
            if v
        } == definition["HyperParameterRanges"], name
        for key in ("AlgorithmSpecification", "InputDataConfig", "StoppingCondition", "RoleArn"):
            assert sent_definition[key] == definition[key], (name, key)
        resources = sent_definition["HyperParameterTuningResourceConfig"]
        assert resources == definition["ResourceConfig"], name
        assert resources["InstanceCount"] == int(name.removeprefix("hosts-"))
        static = sent_definition["StaticHyperParameters"]
        ours_static = definition["StaticHyperParameters"]
        assert {k: static.get(k) for k in ours_static} == ours_static, name
        assert all(k.startswith(("_", "sagemaker_")) for k in set(static) - set(ours_static))
        assert (
            sent_definition["OutputDataConfig"]["S3OutputPath"]
            == (definition["OutputDataConfig"]["S3OutputPath"])
        )
