"""Spec -> CreateHyperParameterTuningJob request: the seed's job as a golden, and bad specs."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from smtune.tuning.planning.planner import plan
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError, load, parse, read_data
from tests.tuning.conftest import ECR, SEED


def seed_data() -> dict[str, Any]:

    return read_data(SEED)[0]


def test_the_seed_job_plans_to_a_valid_hyperband_request() -> None:
    checked = plan(load(SEED))
    request = build_request(checked)
    config = request["HyperParameterTuningJobConfig"]
    definition = request["TrainingJobDefinition"]
    assert config["Strategy"] == "Hyperband"
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert config["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 10, "MaxResource": 200}
    }
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "validation:auc",
    }
    ranges = config["ParameterRanges"]
    names = [r["Name"] for kind in ranges.values() for r in kind]
    assert sorted(names) == sorted(
        ["eta", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "gamma", "alpha"]
    )
    assert "num_round" not in names and definition["StaticHyperParameters"]["num_round"] == "200"
    metrics = {
        m["Name"]: m["Regex"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]
    }
    assert set(metrics) == {"train:auc", "validation:auc"}
    assert definition["AlgorithmSpecification"]["TrainingImage"] == (f"{ECR}/smtune-xgboost:0.1.0")
    assert definition["ResourceConfig"]["InstanceCount"] == 3
    channels = {c["ChannelName"]: c for c in definition["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == (
        "ShardedByS3Key"
    )
    assert channels["validation"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == (
        "FullyReplicated"
    )
    assert {c["ContentType"] for c in channels.values()} == {"text/csv"}
    assert checked.warnings == ()
    assert checked.brackets[0].rungs == (10, 30, 90, 200)
    assert checked.worst_case_instance_seconds == 30 * 3 * 3600


def test_the_request_passes_botocore_and_a_stubbed_create_call() -> None:
    import boto3
    from botocore.stub import Stubber

    request = build_request(plan(load(SEED)))
    client = boto3.client(
        "sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        arn = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/x"
        stub.add_response(
            "create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": arn}, request
        )
        assert (
            client.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"] == arn
        )


def test_the_seeds_own_mistake_is_caught_and_the_fix_shown() -> None:
    data = seed_data()
    data["static_hyperparameters"].pop("num_round")
    data["ranges"]["num_round"] = {"type": "integer", "min": 100, "max": 200}
    data["strategy"]["max_resource"] = 30
    warnings = plan(parse(data)).warnings
    assert len(warnings) == 1
    assert (
        "num_round is tuned in [100, 200] but Hyperband stops every job after "
        "max_resource=30" in warnings[0]
    )
    assert (
        "Fix: make num_round static (num_round: 200) and set strategy.max_resource: 200"
        in (warnings[0])
    )


def mutate(path: str, value: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The seed (or `data`), with the value at a dotted path replaced (None deletes it)."""
    data = copy.deepcopy(seed_data() if data is None else data)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is None:
        node.pop(last)
    else:
        node[last] = value
    return data


BAD_SPECS = [
    # structure and types (pydantic, with field paths)
    ("name", "bad_name!", "name: String should match pattern"),
    ("role", "admin", "role: String should match pattern"),
    ("instance.count", 0, "instance.count: Input should be greater than or equal to 1"),
    (
        "limits.max_jobs",
        None,
        "limits.max_jobs is required with strategy.type='Hyperband': only a Grid search (one "
        "job per combination) or autotune: true leaves it to AMT",
    ),
    ("ranges.eta.min", "low", "ranges.eta.min: Input should be a valid number"),
    ("ranges.eta.type", "float", "ranges.eta: Input tag 'float' found using 'type' does not match"),
    ("channels.train.s3_uri", "/local/path", "channels.train.s3_uri: String should match pattern"),
    ("unknown_field", 1, "unknown_field: Extra inputs are not permitted"),
    ("ranges", {}, "ranges: Dictionary should have at least 1 item"),
    ("spot.max_wait_seconds", None, "spot.max_wait_seconds is required when spot.enabled is true"),
    # enums, read from the service model
    (
        "strategy.type",
        "Genetic",
        "strategy.type: 'Genetic' is not allowed: must be Bayesian, Random, Hyperband, Grid",
    ),
    ("ranges.eta.scaling", "Exponential", "ranges.eta.scaling: Input should be 'Auto', 'Linear'"),
    (
        "early_stopping",
        "Sometimes",
        "early_stopping: 'Sometimes' is not allowed: must be Off, Auto",
    ),
    ("instance.type", "m5.xlarge", "instance.type: 'm5.xlarge' is not allowed"),
    (
        "channels.train.distribution",
        "Sharded",
        "channels.train.distribution: 'Sharded' is not "
        "allowed: must be FullyReplicated, ShardedByS3Key",
    ),
    ("objective.type", "Best", "objective.type: Input should be 'Maximize' or 'Minimize'"),
    # Hyperband
    (
        "early_stopping",
        "Auto",
        "early_stopping: 'Auto' is not allowed with Hyperband: must be 'Off'",
    ),
    ("strategy.min_resource", None, "strategy.min_resource is required for Hyperband"),
    (
        "strategy.max_resource",
        None,
        "strategy.max_resource is required for Hyperband: set it, or "
        "a static hyperparameter epochs",
    ),
    (
        "strategy.max_resource",
        20_001,
        "strategy.max_resource: 20001 is out of range: must be max_resource <= 20000",
    ),
    (
        "strategy.min_resource",
        300,
        "strategy.min_resource: 300 is out of range: must be min_resource <= max_resource=200",
    ),
    # AMT limits
    (
        "limits.max_parallel_jobs",
        31,
        "limits.max_parallel_jobs: 31 is out of range: must be max_parallel_jobs <= max_jobs=30",
    ),
    (
        "ranges.tree_method",
        {"type": "categorical", "values": [f"v{i}" for i in range(31)]},
        "ranges.tree_method: 31 values: must be at most 30",
    ),
    (
        "spot.max_wait_seconds",
        60,
        "spot.max_wait_seconds: 60 is out of range: must be >= limits.max_runtime_seconds=3600",
    ),
    # the image's own rules
    (
        "ranges.colsample_bytree.min",
        0,
        "ranges.colsample_bytree: the image would reject it: "
        "colsample_bytree=0 is out of range: must be 0 < colsample_bytree <= 1",
    ),
    ("ranges.eta.max", 1.5, "ranges.eta: the image would reject it: eta=1.5 is out of range"),
    ("ranges.max_depth.max", 2, "ranges.max_depth: min=3 > max=2: must be min <= max"),
    ("ranges.gamma.scaling", "Logarithmic", "ranges.gamma: scaling Logarithmic needs min > 0"),
    (
        "ranges.learning_rate",
        {"type": "continuous", "min": 0.1, "max": 0.2},
        "ranges.learning_rate: the xgboost image has no hyperparameter 'learning_rate'",
    ),
    (
        "static_hyperparameters.tree_method",
        "gpu_hist",
        "static_hyperparameters.tree_method: the "
        "image would reject it: tree_method='gpu_hist' is not allowed",
    ),
    (
        "ranges.objective",
        {"type": "categorical", "values": ["binary:logistic"]},
        "ranges.objective: objective is also a static hyperparameter: keep one",
    ),
    # the objective and its regex
    (
        "objective.metric",
        "validation:rmse",
        "objective.metric: 'validation:rmse' is not a metric "
        "this job emits: must be one of train:auc, validation:auc",
    ),
    ("objective.type", "Minimize", "objective.type: Minimize contradicts validation:auc"),
    ("image", "my-own-image:1", "image: 'my-own-image:1' is not a smtune image"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), BAD_SPECS, ids=[f"{p}={v!r}"[:40] for p, v, _ in BAD_SPECS]
)
def test_bad_specs_fail_before_any_api_call(path: str, value: Any, message: str) -> None:
    with pytest.raises(SpecError) as error:
        plan(parse(mutate(path, value)))
    assert any(message in problem for problem in error.value.problems), error.value.problems


def test_max_resource_is_inferred_from_an_epochs_hyperparameter() -> None:
    data = mutate("strategy.max_resource", None)
    data["static_hyperparameters"]["epochs"] = 50  # the xgboost image would reject it...
    with pytest.raises(SpecError) as error:
        plan(parse(data))
    # ...but the Hyperband check read MaxResource from it, as AMT does.
    assert not any("max_resource is required" in p for p in error.value.problems)
    assert any("has no hyperparameter 'epochs'" in p for p in error.value.problems)


def smtune(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtune.tuning.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_plan_prints_summary_and_request() -> None:
    result = smtune("tune", "plan", str(SEED))
    assert result.returncode == 0, result.stderr
    assert "bracket 0: rungs 10 -> 30 -> 90 -> 200" in result.stdout
    assert "324,000 billable instance-seconds" in result.stdout
    request = json.loads(smtune("tune", "plan", str(SEED), "--json").stdout)
    assert request == build_request(plan(load(SEED)))


def test_cli_plan_of_a_bad_spec_exits_2_listing_every_problem(tmp_path: Path) -> None:
    data = mutate("early_stopping", "Auto")
    data["limits"]["max_parallel_jobs"] = 99
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(data))
    result = smtune("tune", "plan", str(spec))
    assert result.returncode == 2
    assert f"{spec} is not a valid tuning job:" in result.stderr
    assert "early_stopping: 'Auto' is not allowed with Hyperband" in result.stderr
    assert "limits.max_parallel_jobs: 99 is out of range" in result.stderr
    assert "Traceback" not in result.stderr


def test_metric_definitions_within_sagemaker_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from smtune.containers.catalogue import ImageSpec
    from smtune.entrypoints.contract.metrics import Direction, MetricSpec

    many = tuple(
        MetricSpec(f"m{i}:x" + "y" * (260 if i == 0 else 0), f"m{i}-x", Direction.MINIMIZE)
        for i in range(41)
    )
    auc = MetricSpec("validation:auc", "validation-auc", Direction.MAXIMIZE)
    monkeypatch.setattr(ImageSpec, "emitted_metrics", lambda self, static: (*many, auc))
    with pytest.raises(SpecError) as error:
        plan(load(SEED))
    problems = error.value.problems
    assert any("SageMaker takes at most 40 metric definitions" in p for p in problems), problems
    assert any("name must be <= 255 characters" in p for p in problems), problems


def test_variables_expand_from_the_environment_with_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BUCKET", "real-bucket")
    monkeypatch.delenv("ACCOUNT")
    data, variables = read_data(SEED)
    assert data["output_path"] == "s3://real-bucket/bank-marketing/output/"
    assert data["role"].startswith("arn:aws:iam::123456789012:role/")  # ${ACCOUNT:-...}'s default
    assert variables == ("BUCKET",)


def test_the_dnn_job_plans_with_epochs_as_the_resource() -> None:
    from smtune.entrypoints.contract.metrics import MetricLine, cloudwatch_form
    from smtune.entrypoints.dnn.metrics import METRIC_SPECS

    checked = plan(load(SEED.with_name("dnn-mnist-hyperband.yaml")))
    config = build_request(checked)["HyperParameterTuningJobConfig"]
    definition = build_request(checked)["TrainingJobDefinition"]
    assert config["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 8}
    }
    assert definition["StaticHyperParameters"]["epochs"] == "8"
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "validation:accuracy",
    }
    assert definition["AlgorithmSpecification"]["TrainingImage"] == f"{ECR}/smtune-dnn:0.1.0"
    regexes = {
        m["Name"]: m["Regex"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]
    }
    assert set(regexes) == {"train:loss", "validation:loss", "validation:accuracy"}
    # The regexes read the line the image prints, as CloudWatch shows it.
    line = MetricLine(METRIC_SPECS).format(
        3, {"train:loss": 0.05, "validation:loss": 1e-05, "validation:accuracy": 0.987}
    )
    import re

    found = {name: re.search(rx, cloudwatch_form(line)) for name, rx in regexes.items()}
    assert {name: float(m.group(1)) for name, m in found.items() if m} == {
        "train:loss": 0.05,
        "validation:loss": 1e-05,
        "validation:accuracy": 0.987,
    }
    categorical = config["ParameterRanges"]["CategoricalParameterRanges"]
    assert categorical == [{"Name": "lr_scaling", "Values": ["none", "linear", "sqrt"]}]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("strategy.min_resource", 0, "HyperbandStrategyConfig.MinResource"),
        ("tags", {"": "empty-key"}, "Tags[0].Key"),
    ],
)
def test_the_only_problem_botocore_finds_is_listed(path: str, value: Any, field: str) -> None:
    # botocore's report has no header line: its first line is its first problem.
    with pytest.raises(SpecError) as error:
        plan(parse(mutate(path, value)))
    assert any(field in problem for problem in error.value.problems), error.value.problems


def test_cli_plan_lists_every_problem_botocore_finds(tmp_path: Path) -> None:
    data = mutate("strategy.min_resource", 0)
    data["tags"] = {"": "empty-key"}
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(data))
    result = smtune("tune", "plan", str(spec))
    assert result.returncode == 2, result.stdout
    assert "HyperbandStrategyConfig.MinResource, value: 0" in result.stderr
    assert "Tags[0].Key" in result.stderr
    assert "Traceback" not in result.stderr
