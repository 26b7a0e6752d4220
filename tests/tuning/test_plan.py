"""The TuningPlan: the one model behind the request, the SDK tuners and the rehearsal.

Its invariants; the request written in one place and read back nowhere; planning with no
environment at all (a placeholder image URI and a warning) and submit's refusal of it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from smtune.tuning import sagemaker
from smtune.tuning.amt.ranges import Choice, FloatRange, IntRange, Scaling, api_ranges
from smtune.tuning.plan import UNSET_REGISTRY, HyperbandConfig, ImageNotResolved, Strategy
from smtune.tuning.planning.planner import plan
from smtune.tuning.planning.service_model import OPERATION, allowed, service_model
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError, load, parse
from tests.tuning.conftest import SEED
from tests.tuning.test_request import mutate

REPO = Path(__file__).resolve().parents[2]
# The request is written by tuning/request.py; tuning/sagemaker.py and the study's SageMaker
# path read AWS's own answers (DescribeHyperParameterTuningJob, DescribeTrainingJob), which
# share the request's names.
WRITES_OR_READS_AWS = {
    "tuning/request.py",
    "tuning/sagemaker.py",
    "tuning/study/on_sagemaker.py",
    "tuning/amt/ranges.py",  # a described job's ParameterRanges back to typed ranges
    "tuning/planning/checks.py",  # the service model's bounds, by member name
}
# Names too common to tell a request from any other mapping; each sits inside a distinctive one.
GENERIC = {"Name", "Key", "Value", "Values", "Type", "Mode", "Seed"}


def request_names() -> set[str]:
    """Every member name of the CreateHyperParameterTuningJob request, at any depth, but the
    GENERIC ones."""
    names: set[str] = set()
    seen: set[str] = set()

    def walk(shape: Any) -> None:
        if shape.name in seen:
            return
        seen.add(shape.name)
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                names.add(name)
                walk(member)
        elif shape.type_name == "list":
            walk(shape.member)
        elif shape.type_name == "map":
            walk(shape.value)

    walk(service_model().operation_model(OPERATION).input_shape)
    return names - GENERIC


def reads_of(source: str, where: str, names: set[str]) -> list[str]:
    """Where a module reads a request name: `x["Name"]`, `x.get("Name")`, `"Name" in x`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        keys: list[ast.expr] = []
        if isinstance(node, ast.Subscript):
            keys = [node.slice]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("get", "pop", "setdefault") and node.args:
                keys = [node.args[0]]
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) for op in node.ops
        ):
            keys = [node.left]
        found += [
            f"{where}:{node.lineno}: {key.value!r}"
            for key in keys
            if isinstance(key, ast.Constant) and key.value in names
        ]
    return found


def test_no_module_reads_the_request_back() -> None:
    names = request_names()
    assert {"HyperParameterTuningJobConfig", "TrainingJobDefinition", "ParameterRanges"} <= names
    modules = sorted((REPO / "tuning").rglob("*.py")) + sorted((REPO / "bench").glob("*.py"))
    offenders = [
        read
        for path in modules
        if (where := str(path.relative_to(REPO))) not in WRITES_OR_READS_AWS
        for read in reads_of(path.read_text(), where, names)
    ]
    assert offenders == [], "read the TuningPlan, not the request:\n" + "\n".join(offenders)


def test_the_scan_finds_each_kind_of_read_back() -> None:
    # The scan above is only as good as its patterns: each one is caught.
    source = (
        "def f(request, d):\n"
        "    a = request['HyperParameterTuningJobConfig']['ParameterRanges']\n"
        "    b = d.get('StaticHyperParameters'), d['TrainingJobName']\n"
        "    return 'CheckpointConfig' in d, a, b\n"
    )
    found = reads_of(source, "probe.py", request_names())
    assert sorted(found) == [
        "probe.py:2: 'HyperParameterTuningJobConfig'",
        "probe.py:2: 'ParameterRanges'",
        "probe.py:3: 'StaticHyperParameters'",
        "probe.py:4: 'CheckpointConfig'",
    ]


def test_the_strategies_are_amts() -> None:
    assert {s.value for s in Strategy} == set(allowed("HyperParameterTuningJobConfig", "Strategy"))


def test_a_hyperband_config_goes_with_hyperband_only() -> None:
    checked = plan(load(SEED))
    assert checked.hyperband == HyperbandConfig(10, 200)
    with pytest.raises(ValueError, match="a Hyperband config goes with the Hyperband strategy"):
        replace(checked, strategy=Strategy.RANDOM)
    with pytest.raises(ValueError, match="a Hyperband config goes with the Hyperband strategy"):
        replace(checked, hyperband=None)


def test_several_definitions_need_names_of_their_own() -> None:
    checked = plan(load(SEED))
    one = checked.definition
    with pytest.raises(ValueError, match="each with a name of its own"):
        replace(checked, definitions=(one, one))
    with pytest.raises(ValueError, match="a plan has one, or several"):
        replace(checked, definitions=())
    several = replace(
        checked, definitions=(replace(one, name="three-hosts"), replace(one, name="one-host"))
    )
    with pytest.raises(ValueError, match="has 2 training job definitions: this reader handles"):
        several.definition  # noqa: B018 -- a reader of one refuses several
    # The request sends them all, by name (tests/tuning/test_several_definitions.py).
    names = [d["DefinitionName"] for d in build_request(several)["TrainingJobDefinitions"]]
    assert names == ["three-hosts", "one-host"]


def test_a_script_and_its_upload_uri_go_together() -> None:
    definition = plan(load(SEED)).definition
    with pytest.raises(ValueError, match="a script needs the URI its folder is uploaded to"):
        replace(definition, source_uri="s3://my-bucket/x/sourcedir.tar.gz")


def test_the_ranges_are_typed_once_and_render_as_sent() -> None:
    ranges = plan(load(SEED)).definition.ranges
    assert ranges["eta"] == FloatRange(0.05, 0.5, Scaling.LOGARITHMIC)
    assert ranges["max_depth"] == IntRange(3, 10)
    assert api_ranges({"d": IntRange(3, 10), "t": Choice(("a", "b")), "e": FloatRange(0, 1)}) == {
        "IntegerParameterRanges": [
            {"Name": "d", "MinValue": "3", "MaxValue": "10", "ScalingType": "Auto"}
        ],
        "CategoricalParameterRanges": [{"Name": "t", "Values": ["a", "b"]}],
        "ContinuousParameterRanges": [
            {"Name": "e", "MinValue": "0", "MaxValue": "1", "ScalingType": "Auto"}
        ],
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # A strategy AMT lacks, and a tag botocore refuses.
        (
            {"strategy.type": "Genetic"},
            "strategy.type: 'Genetic' is not allowed: must be Bayesian, Random, Hyperband, Grid",
        ),
        # No MinResource, no direction for the objective: the plan is built with stand-ins.
        ({"strategy.min_resource": None}, "strategy.min_resource is required for Hyperband"),
        (
            {"ranges.eta.min": 0},
            "ranges.eta: scaling Logarithmic needs min > 0, got 0",
        ),
    ],
)
def test_a_problem_that_leaves_the_plan_unknown_still_lets_botocore_list_its_own(
    changes: dict[str, Any], expected: str
) -> None:
    data = mutate("tags", {"": "empty-key"})
    for path, value in changes.items():
        data = mutate(path, value, data)
    with pytest.raises(SpecError) as error:
        plan(parse(data))
    problems = error.value.problems
    assert any(expected in p for p in problems), problems
    assert any("Tags[0].Key" in p for p in problems), problems


def test_a_reverse_logarithmic_range_must_lie_below_one() -> None:
    data = mutate("ranges.subsample.scaling", "ReverseLogarithmic")
    with pytest.raises(SpecError) as error:
        plan(parse(data))
    assert error.value.problems == [
        "ranges.subsample: scaling ReverseLogarithmic needs 0 <= min <= max < 1, got [0.5, 1]"
    ]


# -- no environment ------------------------------------------------------------------------


def test_a_catalogue_image_without_registry_plans_with_a_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REGISTRY")
    checked = plan(load(SEED))
    definition = checked.definition
    assert definition.image_uri == f"{UNSET_REGISTRY}/smtune-xgboost:0.1.0"
    assert definition.placeholder_image
    assert checked.warnings == (
        "image: 'xgboost' is a catalogue name and no registry is set: the request shows "
        "<REGISTRY>/smtune-xgboost:0.1.0; before submit, set REGISTRY (e.g. "
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com), pass --registry, or write the image's "
        "full URI",
    )
    request = build_request(checked)  # botocore's validator passed it, in `plan`
    algorithm = request["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert algorithm["TrainingImage"] == "<REGISTRY>/smtune-xgboost:0.1.0"
    assert not plan(load(SEED), registry="registry.example.com:5000").definition.placeholder_image


def test_submit_refuses_a_placeholder_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY")
    checked = plan(load(SEED))
    sm = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(sm) as stub, pytest.raises(ImageNotResolved) as error:
        sagemaker.submit(sm, checked)  # a call would fail the Stubber: none is expected
    stub.assert_no_pending_responses()
    assert str(error.value) == (
        "image: '<REGISTRY>/smtune-xgboost:0.1.0' is a placeholder: xgboost-bank-hyperband was "
        "planned without a registry for the catalogue image 'xgboost': set REGISTRY (e.g. "
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com), pass --registry, or write the image's "
        "full URI in the spec"
    )


def test_the_sdk_tuners_refuse_a_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    from smtune.tuning.sdk import v2_tuner, v3_tuner

    monkeypatch.delenv("REGISTRY")
    checked = plan(load(SEED))
    for tuner in (v2_tuner, v3_tuner):  # before the SDK is imported: it need not be here
        with pytest.raises(ImageNotResolved, match="is a placeholder"):
            tuner(checked)


def bare_environment() -> dict[str, str]:
    """No REGISTRY, ACCOUNT, BUCKET or AWS settings: only what runs Python."""
    keep = ("PATH", "HOME", "PYTHONPATH", "LANG", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


def smtune(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtune.tuning.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_cli_plan_needs_no_environment_and_submit_says_what_is_missing(tmp_path: Path) -> None:
    env = bare_environment()
    planned = smtune("tune", "plan", str(SEED), env=env)
    assert planned.returncode == 0, planned.stderr
    assert "image       <REGISTRY>/smtune-xgboost:0.1.0" in planned.stdout.splitlines()
    assert "variables" not in planned.stdout  # nothing came from the environment
    assert planned.stderr.startswith("WARNING: image: 'xgboost' is a catalogue name and no ")
    as_json = smtune("tune", "plan", str(SEED), "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    request = yaml.safe_load(as_json.stdout)  # JSON is YAML
    assert request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] == (
        "<REGISTRY>/smtune-xgboost:0.1.0"
    )
    # Nothing listens at this endpoint: submit must refuse before it calls AWS at all.
    env |= {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    env |= {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    submitted = smtune("tune", "submit", str(SEED), "--region", "eu-west-1", env=env)
    assert submitted.returncode == 2, submitted.stderr
    assert "smtune: error: image: '<REGISTRY>/smtune-xgboost:0.1.0' is a placeholder" in (
        submitted.stderr
    )
    assert "AWS error" not in submitted.stderr and "Traceback" not in submitted.stderr


def test_another_strategy_plans_without_hyperband_config_or_strategy_config() -> None:
    checked = plan(parse(mutate("strategy", {"type": "Random"})))
    assert checked.strategy is Strategy.RANDOM and checked.hyperband is None
    assert checked.brackets == ()
    config = build_request(checked)["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random" and "StrategyConfig" not in config
