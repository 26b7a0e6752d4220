"""Tuning a user's own script: the spec's script fields and metrics, the request's script-mode
hyperparameters, every bad metric a listed problem, submit's upload, a rehearsal's regexes."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from smtune.containers.local.process import ProcessBackend
from smtune.containers.script import ScriptSpec
from smtune.containers.status import JobStatus
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.journal import Journal
from smtune.tuning.metrics import PatternMetric
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal.runner import Rehearsal
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError, parse, read, read_data

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "tuning" / "jobs" / "script-mnist-hyperband.yaml"
EXAMPLE = REPO / "examples" / "script-mode"
# The image's script-mode runner, and the dispatch through which its `train` reaches it.
RUNNER_MISSING = any(
    importlib.util.find_spec(f"smtune.entrypoints.script.{name}") is None
    for name in ("runner", "dispatch")
)
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/x"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text("print('[0]\\tvalidation-accuracy:0.5')\n")
    (folder / "requirements.txt").write_text("")
    return folder


def script_data(source: Path, **changes: Any) -> dict[str, Any]:
    """The shipped spec's data (variables expanded), run from `source`, with `changes`."""
    data, _ = read_data(SHIPPED)
    data = copy.deepcopy(data)
    data["source_dir"] = str(source)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as error:
        plan(parse(data))
    return error.value.problems


# -- plan ---------------------------------------------------------------------------------


def test_the_shipped_script_spec_plans_to_a_valid_request() -> None:
    if not (EXAMPLE / "train.py").is_file():
        pytest.skip(f"{EXAMPLE}/train.py is not written yet (examples/script-mode)")
    loaded = read(SHIPPED)
    assert loaded.spec.source_dir == str(EXAMPLE)  # relative to the spec file
    checked = plan(loaded.spec, region="eu-west-1")  # botocore's validator passed it
    script = checked.definition.script
    assert script == ScriptSpec("train.py", EXAMPLE, script.distribution)
    definition = build_request(checked)["TrainingJobDefinition"]
    static = definition["StaticHyperParameters"]
    source_uri = "s3://my-bucket/script-mnist/output/script-mnist-hyperband/source/sourcedir.tar.gz"
    assert checked.definition.source_uri == source_uri
    assert {k: v for k, v in static.items() if k.startswith("sagemaker_")} == {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": json.dumps(source_uri),
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": '"script-mnist-hyperband"',
        "sagemaker_region": '"eu-west-1"',
        "sagemaker_torch_distributed_enabled": "true",
        "sagemaker_instance_type": '"ml.c5.2xlarge"',
    }
    names = [m["Name"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]]
    metrics = checked.definition.metrics
    assert names == [m.name for m in metrics] == ["validation:accuracy", "train:loss"]
    assert checked.objective.direction is Direction.MAXIMIZE


def test_a_script_spec_plans_with_its_own_hyperparameters_and_no_image_rules(
    source: Path,
) -> None:
    # `momentum_x` is no hyperparameter of the dnn image: a script's are its own.
    data = script_data(
        source,
        static_hyperparameters={"epochs": 6, "optimizer": "adam", "flag": True, "lr-x": 0.5},
        distribution={"type": "mpi", "processes_per_host": 2},
    )
    data["ranges"]["momentum_x"] = {"type": "categorical", "values": ["a", "b"]}
    checked = plan(parse(data))  # no region: sagemaker_region is left out
    static = build_request(checked)["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {
        "epochs": "6",
        "optimizer": '"adam"',
        "flag": "true",
        "lr-x": "0.5",
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": json.dumps(checked.definition.source_uri),
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": '"script-mnist-hyperband"',
        "sagemaker_mpi_enabled": "true",
        "sagemaker_mpi_num_of_processes_per_host": "2",
        "sagemaker_mpi_custom_mpi_options": '""',
    }
    assert checked.hyperband is not None and checked.hyperband.max_resource == 6


def test_a_code_location_moves_the_archive_as_the_sdks_does(source: Path) -> None:
    checked = plan(parse(script_data(source, code_location="s3://code-bucket/code/")))
    assert checked.definition.source_uri == (
        "s3://code-bucket/code/script-mnist-hyperband/source/sourcedir.tar.gz"
    )


def test_a_regex_metric_without_direction_needs_the_objective_type(source: Path) -> None:
    metrics = [{"name": "acc", "regex": r"acc=([0-9.]+)", "sample": "epoch 1 acc=0.5"}]
    data = script_data(source, metrics=metrics, objective={"metric": "acc"})
    assert problems_of(data) == [
        "objective.type is required: the metric 'acc' has no direction: must be Maximize or "
        "Minimize (or give the metric a direction)"
    ]
    data["objective"]["type"] = "Maximize"
    checked = plan(parse(data))
    assert build_request(checked)["TrainingJobDefinition"]["AlgorithmSpecification"][
        "MetricDefinitions"
    ] == [{"Name": "acc", "Regex": r"acc=([0-9.]+)"}]


OBJECTIVE = {"name": "validation:accuracy", "key": "validation-accuracy", "direction": "Maximize"}


def with_metric(metric: dict[str, Any]) -> list[dict[str, Any]]:
    return [OBJECTIVE, {"name": "m", "sample": "[1]\tm=0.5", **metric}]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"metrics": with_metric({"regex": "m=([0-9"})},
            "metrics.1.regex: 'm=([0-9' does not compile: ",
        ),
        (
            {"metrics": with_metric({"regex": "m=[0-9.]+"})},
            "metrics.1.regex: 'm=[0-9.]+' has 0 capture groups: must have exactly one",
        ),
        (
            {"metrics": with_metric({"regex": "(m)=([0-9.]+)"})},
            "metrics.1.regex: '(m)=([0-9.]+)' has 2 capture groups: must have exactly one",
        ),
        (
            {"metrics": [OBJECTIVE, {"name": "m", "regex": "m=([0-9.]+)"}]},
            "metrics.1.sample is required with a regex: a line the script prints",
        ),
        (
            {"metrics": with_metric({"regex": "n=([0-9.]+)"})},
            "metrics.1.regex: 'n=([0-9.]+)' reads no number from the sample '[1]\\tm=0.5'",
        ),
        (
            {"metrics": with_metric({"regex": "(m)=[0-9.]+"})},
            "metrics.1.regex: '(m)=[0-9.]+' captures 'm' from the sample: must capture a "
            "finite number",
        ),
        (
            {"metrics": with_metric({"regex": r"\]\tm=([0-9.]+)"})},
            "metrics.1.regex: '\\\\]\\\\tm=([0-9.]+)' reads the sample as printed but not as "
            "CloudWatch shows it",
        ),
        (
            {"metrics": with_metric({"regex": "x" * 501})},
            "metrics.1.regex: 501 characters: must be at most 500",
        ),
        (
            {"metrics": [OBJECTIVE, {**OBJECTIVE, "key": "other"}]},
            "metrics.1.name: 'validation:accuracy' is declared twice: must be unique",
        ),
        (
            {"metrics": [{**OBJECTIVE, "key": "a:b"}]},
            "metrics.0.key: key='a:b' must be non-empty, without tab, newline, ':' or '#'",
        ),
        ({"metrics": []}, "metrics: a script's metrics must be declared, the objective's"),
        (
            {"metrics": [{**OBJECTIVE, "name": "other"}]},
            "objective.metric: 'validation:accuracy' is not a metric this job emits: must be "
            "one of other",
        ),
        (
            {"objective": {"metric": "validation:accuracy", "type": "Minimize"}},
            "objective.type: Minimize contradicts validation:accuracy",
        ),
        ({"entry_point": "nope.py"}, "entry_point='nope.py' is not a file in source_dir="),
        ({"entry_point": "../x.py"}, "entry_point='../x.py' is not allowed"),
        ({"entry_point": None}, "entry_point is required with source_dir"),
        ({"source_dir": None}, "source_dir is required with entry_point"),
        (
            {"distribution": {"type": "torch_distributed", "processes_per_host": 2}},
            "distribution.processes_per_host=2 applies to distribution.type mpi only",
        ),
        (
            {"static_hyperparameters": {"epochs": 6, "sagemaker_program": "x.py"}},
            "static_hyperparameters.sagemaker_program: hyperparameter 'sagemaker_program' is "
            "not allowed for a script",
        ),
        (
            {"static_hyperparameters": {"epochs": 6, "batch size": 64}},
            "static_hyperparameters.batch size: hyperparameter 'batch size' is not allowed for "
            "a script: it reaches the script as --batch size",
        ),
    ],
)
def test_every_bad_script_field_is_a_listed_problem(
    source: Path, changes: dict[str, Any], problem: str
) -> None:
    problems = problems_of(script_data(source, **changes))
    assert any(p.startswith(problem) for p in problems), problems


def test_script_fields_without_a_script_are_refused() -> None:
    from tests.tuning.conftest import SEED

    data, _ = read_data(SEED)
    data["metrics"] = [OBJECTIVE]
    data["distribution"] = {"type": "mpi"}
    assert problems_of(data) == [
        "metrics: applies to a script (entry_point) only: the image's own metrics are known",
        "distribution: applies to a script (entry_point) only: the image launches",
    ]


def test_a_bad_metric_kind_is_named_at_its_field(source: Path) -> None:
    with pytest.raises(SpecError) as error:
        parse(script_data(source, metrics=[{"name": "m", "regex": "(x)", "bogus": 1}]))
    assert error.value.problems == ["metrics.0.bogus: Extra inputs are not permitted (got 1)"]


def test_source_dir_is_relative_to_the_spec_file(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_file = tmp_path / "jobs" / "spec.yaml"
    spec_file.parent.mkdir()
    text = SHIPPED.read_text().replace("../../examples/script-mode", "../src")
    spec_file.write_text(text)
    monkeypatch.chdir("/")
    assert read(spec_file).spec.source_dir == str(source)


def test_plan_names_the_region_it_read_from_the_environment(
    tmp_path: Path,
    source: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from smtune.tuning.cli import main

    monkeypatch.delenv("AWS_REGION", raising=False)  # AWS_DEFAULT_REGION: the conftest's

    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(SHIPPED.read_text().replace("../../examples/script-mode", "src"))
    assert main(["tune", "plan", str(spec_file)]) == 0
    out = capsys.readouterr().out
    assert "variables   ACCOUNT, AWS_DEFAULT_REGION, BUCKET, REGISTRY (from the env" in out
    assert f"script      train.py from {source} (torch_distributed), uploaded to s3://" in out
    assert '"sagemaker_region": "\\"eu-west-1\\""' in out


# -- metrics read like SageMaker reads them -----------------------------------------------


def test_a_pattern_metric_reads_numbers_only() -> None:
    metric = PatternMetric("loss", r"loss=(\S+)", Direction.MINIMIZE)
    assert metric.read("epoch 2 loss=1e-05") == 1e-05
    assert metric.read("epoch 2 loss=nan") is None
    assert metric.non_finite("epoch 2 loss=nan") == "nan"
    assert metric.read("epoch 2 loss=high") is None and metric.non_finite("loss=high") is None
    assert metric.definition() == {"Name": "loss", "Regex": r"loss=(\S+)"}


# -- submit -------------------------------------------------------------------------------


def test_submit_uploads_the_source_as_the_sdk_packs_it_before_creating_the_job(
    source: Path,
) -> None:
    import boto3
    from botocore.stub import Stubber
    from moto import mock_aws

    from smtune.tuning import sagemaker

    checked = plan(parse(script_data(source)))
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket="my-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        sm = boto3.client("sagemaker", region_name="eu-west-1")
        key = "script-mnist/output/script-mnist-hyperband/source/sourcedir.tar.gz"
        seen_at_create: list[bool] = []

        def uploaded_already(**_: Any) -> None:
            listed = s3.list_objects_v2(Bucket="my-bucket", Prefix=key)
            seen_at_create.append(listed.get("KeyCount", 0) == 1)

        sm.meta.events.register(
            "provide-client-params.sagemaker.CreateHyperParameterTuningJob", uploaded_already
        )
        with Stubber(sm) as stub:
            stub.add_response(
                "create_hyper_parameter_tuning_job",
                {"HyperParameterTuningJobArn": ARN},
                build_request(checked),
            )
            assert sagemaker.submit(sm, checked, s3) == ARN
            stub.assert_no_pending_responses()
        assert seen_at_create == [True]
        stored = s3.get_object(Bucket="my-bucket", Key=key)
        assert stored["ServerSideEncryption"] == "aws:kms"  # as SDK v2 uploads it
        body = stored["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["requirements.txt", "train.py"]


def test_submit_of_a_script_without_an_s3_client_is_refused(source: Path) -> None:
    from smtune.tuning import sagemaker

    with pytest.raises(ValueError, match="runs a script: submit needs an S3 client"):
        sagemaker.submit(object(), plan(parse(script_data(source))))


# -- rehearse -----------------------------------------------------------------------------


RUNS_THE_SCRIPT = """
import json, os, subprocess, sys
tree = os.environ["SAGEMAKER_BASE_DIR"]
params = json.load(open(os.path.join(tree, "input/config/hyperparameters.json")))
decoded = {}
for name, value in params.items():
    try:
        decoded[name] = json.loads(value)
    except ValueError:
        decoded[name] = value
folder = decoded["sagemaker_submit_directory"].removeprefix("file://")
args = [f"--{k}={v}" for k, v in decoded.items() if not k.startswith("sagemaker_")]
entry = os.path.join(folder, decoded["sagemaker_program"])
sys.exit(subprocess.call([sys.executable, entry, *args]))
"""

SCRIPT = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
parser.add_argument("--lr", type=float)
parser.add_argument("--momentum", type=float)
parser.add_argument("--batch-size", type=int)
args, _ = parser.parse_known_args()
for epoch in range(args.epochs):
    print(f"epoch {epoch} accuracy={args.lr * (epoch + 1):.4f}", flush=True)
"""


class ImageRunner(ProcessBackend):
    """Hosts that run the script the way the image's runner does, reduced to its core: the
    folder from sagemaker_submit_directory, the hyperparameters as --name=value."""

    def command(self, spec: Any) -> list[str]:
        return [sys.executable, "-c", RUNS_THE_SCRIPT]


def test_a_rehearsal_runs_the_script_from_its_folder_and_reads_its_regex(
    tmp_path: Path, source: Path
) -> None:
    (source / "train.py").write_text(SCRIPT)
    (tmp_path / "train").mkdir()
    (tmp_path / "validation").mkdir()
    metric = {"name": "acc", "regex": r"accuracy=([0-9.]+)", "sample": "epoch 3 accuracy=0.97"}
    data = script_data(
        source,
        metrics=[{**metric, "direction": "Maximize"}],
        objective={"metric": "acc"},
        distribution={"type": "none"},
        static_hyperparameters={"epochs": 3, "batch-size": 8},
        strategy={"type": "Hyperband", "min_resource": 1, "max_resource": 3},
        limits={"max_jobs": 2, "max_parallel_jobs": 2, "max_runtime_seconds": 60},
        instance={"type": "ml.c5.2xlarge", "count": 1},
    )
    journal = Journal(tmp_path / "journal.db")
    try:
        rehearsal = Rehearsal(
            plan(parse(data), registry="local"),
            {"train": tmp_path / "train", "validation": tmp_path / "validation"},
            tmp_path / "jobs",
            journal,
            ImageRunner(),
        )
        summary = rehearsal.run()
        observations = journal.observations()
    finally:
        journal.close()
    ended = summary.jobs.get(JobStatus.COMPLETED, 0) + summary.jobs.get(JobStatus.STOPPED, 0)
    assert ended == 2, summary
    assert not summary.flags
    # lr * epoch, read by the script's own regex from the leader's log: one line, one unit.
    for job, resource, value, *_ in observations:
        lr = float(json.loads(json.dumps(rehearsal.hyperparameters[job]["lr"])))
        assert value == pytest.approx(round(lr * resource, 4), abs=1e-4)
    sent = json.loads(
        (tmp_path / "jobs" / "script-mnist-hyperband-001" / "algo-1" / "input" / "config"
         / "hyperparameters.json").read_text()
    )  # fmt: skip
    # The folder as it was when the rehearsal began, as SageMaker's jobs get one archive.
    snapshot = tmp_path / "jobs" / "source"
    assert sent["sagemaker_submit_directory"] == json.dumps(snapshot.as_uri())
    assert (snapshot / "train.py").read_text() == SCRIPT
    assert sent["sagemaker_program"] == '"train.py"'
    assert sent["epochs"] == "3" and "lr" in sent


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(
    RUNNER_MISSING,
    reason="the image's script-mode runner (entrypoints/script/runner.py, dispatch.py) is not "
    "there yet",
)
def test_the_shipped_script_spec_rehearses_on_mnist(tmp_path: Path, shared_data: Path) -> None:
    """examples/script-mode/train.py under torchrun on 2 process hosts, 2 jobs, judged by
    Hyperband on the validation:accuracy its MetricSpec prints."""
    pytest.importorskip("torch")
    from smtune.containers.data.mnist import prepare

    prepare(shared_data / "mnist", tmp_path / "mnist", {"train": 3000, "validation": 500})
    journal = Journal(tmp_path / "journal.db")
    try:
        summary = Rehearsal(
            plan(read(SHIPPED).spec, registry="local"),
            {name: tmp_path / "mnist" / name for name in ("train", "validation")},
            tmp_path / "jobs",
            journal,
            ProcessBackend(),
            max_jobs=2,
        ).run()
    finally:
        journal.close()
    assert summary.jobs.get(JobStatus.FAILED, 0) == 0 and not summary.flags, summary
    assert summary.best_objective is not None and summary.best_objective > 0.5


def test_code_location_takes_a_bucket_variable(tmp_path: Path, source: Path) -> None:
    spec_file = tmp_path / "spec.yaml"
    text = SHIPPED.read_text().replace("../../examples/script-mode", "src")
    spec_file.write_text(text + "code_location: s3://${BUCKET}/code\n")
    checked = plan(read(spec_file).spec)
    assert (
        checked.definition.source_uri
        == "s3://my-bucket/code/script-mnist-hyperband/source/sourcedir.tar.gz"
    )


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.skipif(RUNNER_MISSING, reason="the image's script-mode runner is not there yet")
def test_the_docker_backend_rehearses_a_script_and_reads_its_declared_regex(
    tmp_path: Path, docker_image: str, no_leftover_containers: None
) -> None:
    """examples/script-mode/xgboost_train.py on 2 containers of the XGBoost image per job (it
    joins XGBoost's collective), 3 jobs, judged on the validation:logloss it prints."""
    from smtune.containers.local.docker import DockerBackend
    from tests.conftest import write_csv
    from tests.entrypoints.script.test_xgboost_collective import LOGLOSS

    source = tmp_path / "src"
    source.mkdir()
    (source / "xgboost_train.py").write_text((EXAMPLE / "xgboost_train.py").read_text())
    channels = {
        name: write_csv(tmp_path / name / "part-0.csv", rows, seed=seed).parent
        for name, rows, seed in (("train", 600, 0), ("validation", 200, 1))
    }
    data = script_data(
        source,
        image="xgboost",
        entry_point="xgboost_train.py",
        distribution={"type": "none"},
        metrics=[{"name": "validation:logloss", "key": "validation-logloss",
                  "direction": "Minimize"}],
        objective={"metric": "validation:logloss"},
        static_hyperparameters={"num_round": 4, "max_depth": 3},
        ranges={"eta": {"type": "continuous", "min": 0.1, "max": 0.6}},
        strategy={"type": "Hyperband", "min_resource": 1, "max_resource": 4},
        limits={"max_jobs": 3, "max_parallel_jobs": 2, "max_runtime_seconds": 120},
        channels={name: {"s3_uri": f"s3://my-bucket/{name}/", "content_type": "text/csv"}
                  for name in channels},
    )  # fmt: skip
    journal = Journal(tmp_path / "journal.db")
    try:
        summary = Rehearsal(
            plan(parse(data), registry="local"),
            channels,
            tmp_path / "jobs",
            journal,
            DockerBackend(docker_image),
        ).run()
        observations = journal.observations()
    finally:
        journal.close()
    assert summary.jobs.get("Failed", 0) == 0 and sum(summary.jobs.values()) == 3, summary
    assert not summary.flags, summary.flags
    assert summary.best_objective is not None and summary.best_objective < 0.6
    # Each observation is the value the leader printed at that round, read by the regex the
    # spec declared (the script's own MetricSpec): one line, one unit of resource.
    jobs = {job for job, *_ in observations}
    assert len(jobs) == 3  # every job printed lines the regex read
    for job in jobs:
        printed = [
            LOGLOSS["validation"].read(line)
            for line in (tmp_path / "jobs" / job / "algo-1.log").read_text().splitlines()
        ]
        printed = [value for value in printed if value is not None]
        seen = [(resource, value) for name, resource, value, *_ in observations if name == job]
        assert seen == [(i + 1, value) for i, value in enumerate(printed[: len(seen)])]
        assert len(seen) >= 1
