"""SDK v3's HyperparameterTuner from our spec creates the same tuning job (on moto).

Runs in .venv-sdk3 (`make test` does), where SDK v3 is installed; skipped elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tuning.conftest import SCRIPT, SEED
from tuning.request import build_request, plan
from tuning.spec import load, parse, read_data

pytestmark = pytest.mark.sdk3


def created_by_v3(monkeypatch: pytest.MonkeyPatch, checked: Any) -> dict[str, Any]:
    pytest.importorskip("sagemaker.train.tuner", reason="SDK v3 is not installed here")
    import boto3
    from moto import mock_aws
    from sagemaker.core.helper.session_helper import Session

    from tuning.sdk import v3_tuner

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
