"""SDK v3's HyperparameterTuner from our spec creates the same tuning job (on moto).

Runs in .venv-sdk3 (`make test` does), where SDK v3 is installed; skipped elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smtune.tuning.planning.planner import plan
from smtune.tuning.request import build_request
from smtune.tuning.spec import load, parse, read_data
from tests.tuning.conftest import SCRIPT, SEED

pytestmark = pytest.mark.sdk3


def created_by_v3(monkeypatch: pytest.MonkeyPatch, checked: Any) -> dict[str, Any]:
    pytest.importorskip("sagemaker.train.tuner", reason="SDK v3 is not installed here")
    import boto3
    from moto import mock_aws
    from sagemaker.core.helper.session_helper import Session

    from smtune.tuning.sdk import v3_tuner

    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")  # moto has no such IAM role
    with mock_aws():
        session = Session(boto_session=boto3.Session(region_name="eu-west-1"))
        tuner, inputs = v3_tuner(checked, session)
        tuner.tune(inputs, job_name=checked.name, wait=False)
        client = boto3.client("sagemaker", region_name="eu-west-1")
        return dict(
            client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=checked.name)
        )


# The built-in XGBoost's spec, and a script's (the DNN image runs train.py in script mode).
@pytest.mark.parametrize("spec_file", [SEED, SCRIPT], ids=["xgboost", "script"])
def test_v3_tuner_creates_the_same_tuning_job(
    monkeypatch: pytest.MonkeyPatch, spec_file: Path
) -> None:
    ours = plan(load(spec_file), region="eu-west-1")
    described = created_by_v3(monkeypatch, ours)
    config, expected = (
        described["HyperParameterTuningJobConfig"],
        build_request(ours)["HyperParameterTuningJobConfig"],
    )
    for key in (
        "Strategy",
        "StrategyConfig",
        "HyperParameterTuningJobObjective",
        "TrainingJobEarlyStoppingType",
        "RandomSeed",
        "ParameterRanges",
    ):
        assert config[key] == expected[key], key
    definition = described["TrainingJobDefinition"]
    ours_definition = build_request(ours)["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == ours.definition.image_uri
    assert (
        definition["AlgorithmSpecification"]["MetricDefinitions"]
        == ours_definition["AlgorithmSpecification"]["MetricDefinitions"]
    )
    # Content type and ShardedByS3Key survive: v3 drops both from plain URIs.
    assert definition["InputDataConfig"] == ours_definition["InputDataConfig"]
    resources = definition.get("ResourceConfig") or definition["HyperParameterTuningResourceConfig"]
    assert resources["InstanceCount"] == {SEED: 3, SCRIPT: 2}[spec_file]
    # Every static hyperparameter as we send it (a script's sagemaker_* ones included).
    ours_static = ours_definition["StaticHyperParameters"]
    sent_static = definition["StaticHyperParameters"]
    assert {k: sent_static.get(k) for k in ours_static} == ours_static
    assert all(k.startswith(("_", "sagemaker_")) for k in set(sent_static) - set(ours_static))


def test_a_random_seed_of_zero_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:

    data = read_data(SEED)[0]
    data["random_seed"] = 0
    described = created_by_v3(monkeypatch, plan(parse(data)))
    assert described["HyperParameterTuningJobConfig"]["RandomSeed"] == 0


DEFINITIONS = SEED.with_name("synthetic-definitions.yaml")


def test_several_definitions_are_refused_with_what_to_use() -> None:
    pytest.importorskip("sagemaker.train.tuner", reason="SDK v3 is not installed here")
    from smtune.tuning.sdk import NotExpressible, v3_tuner

    with pytest.raises(NotExpressible) as error:
        v3_tuner(plan(load(DEFINITIONS)))
    assert str(error.value) == (
        "definitions: synthetic-definitions's named training job definitions (hosts-1, "
        "hosts-2, hosts-3) go as TrainingJobDefinitions, which SDK v3's HyperparameterTuner "
        "cannot send (its tune() writes one TrainingJobDefinition, from one ModelTrainer): "
        "use SDK v2 (tuning.sdk.v2_tuner) or `smtune tune submit`"
    )


def test_v3_itself_cannot_tune_several_model_trainers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Why the refusal above: v3's create() takes several ModelTrainers, but tune() builds one
    # definition from `model_trainer`, which create() leaves None. When this test fails, v3
    # has learnt it: build its tuner with create() instead of refusing.
    pytest.importorskip("sagemaker.train.tuner", reason="SDK v3 is not installed here")
    import boto3
    from moto import mock_aws
    from sagemaker.core import parameter
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute
    from sagemaker.train.tuner import HyperparameterTuner

    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    with mock_aws():
        session = Session(boto_session=boto3.Session(region_name="eu-west-1"))
        trainers = {
            f"hosts-{n}": ModelTrainer(
                training_image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:1",
                role="arn:aws:iam::123456789012:role/SageMakerExecutionRole",
                compute=Compute(instance_type="ml.m5.large", instance_count=n),
                sagemaker_session=session,
            )
            for n in (1, 2)
        }
        tuner = HyperparameterTuner.create(
            model_trainer_dict=trainers,
            objective_metric_name_dict=dict.fromkeys(trainers, "score"),
            hyperparameter_ranges_dict={
                n: {"x": parameter.ContinuousParameter(0, 1)} for n in trainers
            },
            metric_definitions_dict={n: [{"Name": "score", "Regex": "s=(.*)"}] for n in trainers},
            max_jobs=2,
        )
        assert tuner.model_trainer is None
        with pytest.raises(
            AttributeError, match="'NoneType' object has no attribute 'training_image'"
        ):
            tuner.tune(
                {name: "s3://my-bucket/train/" for name in trainers}, job_name="x", wait=False
            )
