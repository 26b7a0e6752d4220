"""Several training job definitions: the spec, `plan`'s checks, the request (Stubber), the
rehearsal (each job on its definition's hosts), the per-definition report and `analyze`."""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from smtune.containers.status import JobStatus
from smtune.tuning import commands, report, sagemaker
from smtune.tuning.amt.ranges import FloatRange, IntRange
from smtune.tuning.journal import Journal
from smtune.tuning.planning.planner import plan
from smtune.tuning.planning.service_model import allowed
from smtune.tuning.planning.several import effective_spec
from smtune.tuning.rehearsal.accounting import DefinitionSummary
from smtune.tuning.rehearsal.allocation import Allocation
from smtune.tuning.rehearsal.runner import RehearsalError
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError, load, parse, read, read_data
from tests.tuning.conftest import ECR, SCRIPT, SEED
from tests.tuning.test_rehearsal import rehearse
from tests.tuning.test_sagemaker import training_job

SPEC = SEED.with_name("synthetic-definitions.yaml")
NAMES = ["hosts-1", "hosts-2", "hosts-3"]


def spec_data() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(SPEC.read_text()))


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as error:
        plan(parse(data))
    return error.value.problems


# -- the spec and the plan -----------------------------------------------------------------


def test_each_definition_changes_what_it_gives_of_the_spec() -> None:
    data = spec_data()
    data["definitions"][1].update(
        image=f"{ECR}/smtune-synthetic:0.2.0",
        instance={"count": 2, "volume_gb": 50},
        static_hyperparameters={"x": 0.3},  # tuned at the top level: static here
        ranges={"epochs": {"type": "integer", "min": 9, "max": 27}},  # and the reverse
    )
    spec = parse(data)
    assert spec.definitions is not None
    one = effective_spec(spec, spec.definitions[1])
    assert one.definitions is None and one.image == f"{ECR}/smtune-synthetic:0.2.0"
    assert (one.instance.type, one.instance.count, one.instance.volume_gb) == (
        "ml.m5.large",
        2,
        50,
    )
    assert one.static_hyperparameters == {"seconds_per_epoch": 0.02, "x": 0.3}
    assert list(one.ranges) == ["y", "epochs"]
    plain = effective_spec(spec, spec.definitions[0])  # changes nothing
    assert plain == spec.model_copy(update={"definitions": None})


def test_the_example_plans_one_definition_per_cluster_size() -> None:
    checked = plan(load(SPEC))
    assert [d.name for d in checked.definitions] == NAMES
    assert [d.instance.count for d in checked.definitions] == [1, 2, 3]
    assert all(d.ranges["x"] == FloatRange(0, 1) for d in checked.definitions)
    assert checked.worst_case_instance_seconds == 12 * 3 * 600  # on the costliest
    with pytest.raises(ValueError, match="has 3 training job definitions: this reader handles"):
        checked.definition  # noqa: B018 -- a reader of one refuses several


def test_a_spec_without_definitions_sends_one_unnamed_definition_as_today() -> None:
    request = build_request(plan(load(SEED)))
    assert "TrainingJobDefinitions" not in request and "DefinitionName" not in str(request)
    config = request["HyperParameterTuningJobConfig"]
    assert {"HyperParameterTuningJobObjective", "ParameterRanges"} <= set(config)


def test_the_request_sends_training_job_definitions_through_a_stubbed_create() -> None:
    checked = plan(load(SPEC))
    request = build_request(checked)
    definition = build_request(plan(load(SPEC.with_name("synthetic-hyperband.yaml"))))[
        "TrainingJobDefinition"
    ]
    objective = {"Type": "Maximize", "MetricName": "validation:score"}
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0.0", "MaxValue": "1.0", "ScalingType": "Auto"},
            {"Name": "y", "MinValue": "0.1", "MaxValue": "10.0", "ScalingType": "Logarithmic"},
        ]
    }
    expected = {
        "HyperParameterTuningJobName": "synthetic-definitions",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Hyperband",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 12, "MaxParallelTrainingJobs": 3},
            "TrainingJobEarlyStoppingType": "Off",
            "StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}},
            "RandomSeed": 42,
        },
        "TrainingJobDefinitions": [
            {
                "DefinitionName": f"hosts-{count}",
                "TuningObjective": objective,
                "HyperParameterRanges": ranges,
                **definition,
                "ResourceConfig": {
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": count,
                    "VolumeSizeInGB": 30,
                },
            }
            for count in (1, 2, 3)
        ],
    }
    assert request == expected
    client = boto3.client("sagemaker", region_name="eu-west-1")
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/x"
    with Stubber(client) as stub:
        stub.add_response(
            "create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": arn}, expected
        )
        assert sagemaker.submit(client, checked) == arn
        stub.assert_no_pending_responses()


def with_definitions(definitions: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    data = spec_data()
    data["definitions"] = definitions
    data.update(top)
    return data


NAME_RULE = (
    "must be 1 to 64 letters, digits and inner hyphens (botocore: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,63})"
)
BAD_SPECS = [
    (
        "clashing names",
        with_definitions([{"name": "hosts-1"}, {"name": "Hosts-1", "instance": {"count": 2}}]),
        [
            "definitions[1].name='Hosts-1': the name of definitions[0] too; definition names "
            "must be unique"
        ],
    ),
    (
        "11 definitions",
        with_definitions([{"name": f"hosts-{n}"} for n in range(11)]),
        ["definitions: TrainingJobDefinitions has 11 definitions: must be 1 to 10"],
    ),
    (
        "a name AMT refuses",
        with_definitions([{"name": "two_hosts"}]),
        [f"definitions[0].name='two_hosts': {NAME_RULE}"],
    ),
    (
        "a name too long",
        with_definitions([{"name": "h" * 65}, {"name": "h"}]),
        [f"definitions[0].name='{'h' * 65}': {NAME_RULE}"],
    ),
    (
        "a definition's range the image rejects",
        with_definitions(
            [
                {"name": "hosts-1"},
                {"name": "hosts-2", "ranges": {"x": {"type": "continuous", "min": 0, "max": 2}}},
            ]
        ),
        [
            "definitions[1] (hosts-2): ranges.x: the image would reject it: x=2 is out of "
            "range: must be 0 <= x <= 1"
        ],
    ),
    (
        "a hyperparameter one definition's image lacks",
        with_definitions(
            [{"name": "hosts-1"}, {"name": "hosts-2", "static_hyperparameters": {"depth": 3}}]
        ),
        [
            "definitions[1] (hosts-2): static_hyperparameters.depth: the synthetic image has "
            "no hyperparameter 'depth'"
        ],
    ),
    (
        "early stopping Auto with several",
        with_definitions([{"name": "a"}, {"name": "b"}], early_stopping="Auto"),
        [
            "definitions: TrainingJobEarlyStoppingType=Auto with 2 training job definitions: "
            "early stopping is available only when tuning a single definition",
            "early_stopping: 'Auto' is not allowed with Hyperband: must be 'Off' (Hyperband "
            "stops jobs early itself)",
        ],
    ),
    (
        "Hyperband's resources differ between definitions",
        with_definitions(
            [{"name": "a"}, {"name": "b", "static_hyperparameters": {"epochs": 30}}],
            strategy={"type": "Hyperband", "min_resource": 1},
        ),
        [
            "strategy: the definitions give Hyperband different resources (a: 1..27, b: 1..30): "
            "MinResource and MaxResource are the tuning job's, one for every definition: set "
            "strategy.max_resource (or the same epochs in every definition)"
        ],
    ),
    (
        "every problem at once, shared ones once",
        with_definitions(
            [
                {"name": "a", "instance": {"type": "ml.nothing"}},
                {"name": "a"},
                {
                    "name": "c",
                    "ranges": {
                        "y": {"type": "continuous", "min": 0, "max": 1, "scaling": "Logarithmic"}
                    },
                },
            ],
            limits={"max_jobs": 2, "max_parallel_jobs": 3},
        ),
        [
            "definitions[1].name='a': the name of definitions[0] too; definition names must be "
            "unique",
            "limits.max_parallel_jobs: 3 is out of range: must be max_parallel_jobs <= max_jobs=2",
            "definitions[0] (a): instance.type: 'ml.nothing' is not allowed: must be one of "
            f"{len(allowed('TrainingJobDefinition', 'ResourceConfig', 'InstanceType'))} "
            "values (e.g. ml.m5.xlarge)",
            "definitions[2] (c): ranges.y: scaling Logarithmic needs min > 0, got 0",
        ],
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"), [(d, e) for _, d, e in BAD_SPECS], ids=[i for i, _, _ in BAD_SPECS]
)
def test_bad_definitions_are_refused_with_every_problem(
    data: dict[str, Any], expected: list[str]
) -> None:
    assert problems_of(data) == expected


def test_warm_start_with_several_definitions_is_refused_from_yaml() -> None:
    data = with_definitions(
        [{"name": "a"}, {"name": "b"}],
        warm_start={"type": "TransferLearning", "parents": ["synthetic-hyperband"]},
    )
    assert (
        "definitions: WarmStartConfig with 2 training job definitions: warm start is available "
        "only when tuning a single definition"
    ) in problems_of(data)


def test_plan_prints_each_definition(capsys: pytest.CaptureFixture[str]) -> None:
    text = report.plan_summary(plan(load(SPEC)))
    assert "jobs        12, 3 at a time, shared among 3 training job definitions:" in text
    assert f"  hosts-2: 2 x ml.m5.large, {ECR}/smtune-synthetic:0.1.0, at most 600 s each" in text
    assert text.count("    y                    continuous [0.1, 10] Logarithmic") == 3
    assert text.endswith(
        "(every job to its time limit, no early stopping, on the costliest definition)"
    )


# -- the rehearsal ---------------------------------------------------------------------------


def test_jobs_go_to_the_definitions_in_turn_with_their_own_draws() -> None:
    checked = plan(load(SPEC))
    allocation = Allocation(checked.definitions)
    assert [allocation.definition(n).name for n in range(1, 8)] == [*NAMES, *NAMES, "hosts-1"]
    assert set(allocation.space()) == {f"{n}/{k}" for n in NAMES for k in ("x", "y")}
    drawn = {f"{n}/{k}": i for i, (n, k) in enumerate((n, k) for n in NAMES for k in "xy")}
    assert allocation.own(2, drawn) == {"x": 2, "y": 3}
    with pytest.raises(ValueError, match="jobs are numbered from 1"):
        allocation.definition(0)
    single = Allocation(plan(load(SEED)).definitions)  # one unnamed: the space as it was
    assert single.space()["max_depth"] == IntRange(3, 10) and not single.several
    assert single.own(5, {"eta": 0.1}) == {"eta": 0.1}


def test_a_rehearsal_runs_each_job_on_its_definitions_hosts(tmp_path: Path) -> None:
    data = spec_data()
    data["static_hyperparameters"]["seconds_per_epoch"] = 0
    summary, journal = rehearse(tmp_path, data)
    jobs = journal.jobs()
    named = journal.definitions()
    assert len(jobs) == 12 and list(named) == [j.name for j in jobs]
    for job in jobs:
        name = NAMES[(job.number - 1) % 3]
        hosts = int(name.removeprefix("hosts-"))
        assert named[job.name] == name and job.hosts == hosts
        # Each host laid out its tree: as many as its definition has.
        trees = sorted(p.name for p in (tmp_path / "jobs" / job.name).glob("algo-*") if p.is_dir())
        assert trees == [f"algo-{i}" for i in range(1, hosts + 1)], job.name
        assert set(job.hyperparameters) == {"x", "y"}
    assert [d.name for d in summary.definitions] == NAMES
    last = journal.last_observations()
    for definition in summary.definitions:
        own = [j for j in jobs if named[j.name] == definition.name]
        assert definition.hosts == int(definition.name.removeprefix("hosts-"))
        assert sum(definition.jobs.values()) == len(own) == 4
        best = max((last[j.name][1], j.name) for j in own)
        assert (definition.best_objective, definition.best_job) == best
        billable = sum((j.ended or 0) - (j.started or 0) for j in own) * definition.hosts
        assert definition.billable_seconds == pytest.approx(billable, abs=0.01)
    assert sum(d.billable_seconds for d in summary.definitions) == pytest.approx(
        summary.billable_seconds, abs=0.01
    )
    assert summary.to_json()["definitions"][0]["jobs"] == {
        k.value: v for k, v in summary.definitions[0].jobs.items()
    }
    # The report: a column of each job's definition, and a table comparing them.
    frame = report.journal_frame(journal)
    assert list(frame[report.DEFINITION]) == [named[j.name] for j in jobs]
    written = report.rehearsal_report(journal, tmp_path / "report", "t", (1, 3, 9, 27), True)
    text = (tmp_path / "report" / "summary.md").read_text()
    assert tmp_path / "report" / "summary.md" in written
    for definition in summary.definitions:
        row = next(line for line in text.splitlines() if line.startswith(f"| {definition.name} |"))
        assert row.startswith(
            f"| {definition.name} | {definition.hosts} | 4 "
            f"| {definition.jobs[JobStatus.COMPLETED]} | {definition.jobs[JobStatus.STOPPED]} | 0 "
            f"| {definition.best_objective:.6g} | {definition.best_job} "
        )
    journal.close()


def test_a_journal_of_one_definition_shows_no_comparison(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    journal.add_job(1, "job-1", 0, {"x": 0.5}, 2, 10.0)
    assert journal.definitions() == {} and report.DEFINITION not in report.journal_frame(journal)
    from smtune.entrypoints.contract.metrics import Direction
    from smtune.tuning.rehearsal.accounting import by_definition

    assert by_definition(journal, Direction.MAXIMIZE) == ()
    journal.set_definition("job-1", "hosts-2")
    assert by_definition(journal, Direction.MAXIMIZE) == (
        DefinitionSummary(
            "hosts-2",
            2,
            {
                JobStatus.COMPLETED: 0,
                JobStatus.STOPPED: 0,
                JobStatus.FAILED: 0,
                JobStatus.IN_PROGRESS: 1,
            },
            None,
            None,
            0.0,
        ),
    )
    journal.close()


# -- analyze -----------------------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def listed(name: str, definition: str, value: float, minutes: int) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobDefinitionName": definition,
        "TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/{name}",
        "CreationTime": T0,
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"x": "0.5"},
        "TrainingStartTime": T0,
        "TrainingEndTime": T0 + dt.timedelta(minutes=minutes),
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "MetricName": "validation:score",
            "Value": value,
        },
    }


def described(name: str, hosts: int) -> dict[str, Any]:
    job = training_job(name, spot=False)
    return {**job, "ResourceConfig": {**job["ResourceConfig"], "InstanceCount": hosts}}


def test_analyze_compares_the_definitions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "synthetic-definitions"
    client = boto3.client("sagemaker", region_name="eu-west-1")
    request = build_request(plan(load(SPEC)))
    with Stubber(client) as stub:
        stub.add_response(
            "describe_hyper_parameter_tuning_job",
            {
                "HyperParameterTuningJobName": name,
                "HyperParameterTuningJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:"
                f"hyper-parameter-tuning-job/{name}",
                "HyperParameterTuningJobConfig": request["HyperParameterTuningJobConfig"],
                "TrainingJobDefinitions": request["TrainingJobDefinitions"],
                "HyperParameterTuningJobStatus": "Completed",
                "CreationTime": T0,
                "TrainingJobStatusCounters": {"Completed": 3},
                "ObjectiveStatusCounters": {"Succeeded": 3},
            },
            {"HyperParameterTuningJobName": name},
        )
        jobs = [
            ("j1", "hosts-1", 0.8, 10, 1),
            ("j2", "hosts-2", 0.9, 6, 2),
            ("j3", "hosts-1", 0.85, 5, 1),
        ]
        stub.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"TrainingJobSummaries": [listed(j, d, v, m) for j, d, v, m, _ in jobs]},
            {"HyperParameterTuningJobName": name},
        )
        for job, _, _, _, hosts in jobs:
            stub.add_response(
                "describe_training_job", described(job, hosts), {"TrainingJobName": job}
            )
        monkeypatch.setattr(sagemaker, "client", lambda region=None: client)
        commands._analyze(argparse.Namespace(name=name, region=None, csv=None, plot=None))
        stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert (
        "by training job definition:\n"
        "| definition | hosts | jobs | completed | stopped | failed | best objective | best job "
        "| billable instance-seconds |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        "| hosts-1 | 1 | 2 | 2 | 0 | 0 | 0.85 | j3 | 900.0 |\n"
        "| hosts-2 | 2 | 1 | 1 | 0 | 0 | 0.9 | j2 | 720.0 |\n"
    ) in out
    assert "best: j2 validation:score = 0.9" in out


def test_a_resumed_rehearsal_gives_each_job_the_definition_it_had(tmp_path: Path) -> None:
    data = spec_data()
    data["static_hyperparameters"]["seconds_per_epoch"] = 0
    _, first = rehearse(tmp_path, data, max_jobs=4)
    before = {j.name: (j.hosts, j.hyperparameters) for j in first.jobs()}
    first.close()
    summary, journal = rehearse(tmp_path, data, max_jobs=6)  # replays the 4, adds 2
    after = {j.name: (j.hosts, j.hyperparameters) for j in journal.jobs()}
    assert {k: after[k] for k in before} == before and len(after) == 6
    assert list(journal.definitions().values()) == [*NAMES, *NAMES]
    assert [j.hosts for j in journal.jobs()] == [1, 2, 3, 1, 2, 3]
    assert [sum(d.jobs.values()) for d in summary.definitions] == [2, 2, 2]
    # Another allocation (the definitions reordered) is another rehearsal: refused.
    data["definitions"].reverse()
    with pytest.raises(RehearsalError, match="belongs to another spec, seed or bracket policy"):
        rehearse(tmp_path, data, max_jobs=6)
    journal.close()


def script_data(*definitions: dict[str, Any]) -> dict[str, Any]:
    data = read_data(SCRIPT)[0]
    data["source_dir"] = str((SCRIPT.parent / data["source_dir"]).resolve())
    data["definitions"] = list(definitions)
    return data


def test_a_scripts_definitions_share_it_and_each_may_declare_its_metrics() -> None:
    accuracy = {"name": "validation:accuracy", "key": "validation-accuracy"}
    checked = plan(
        parse(
            script_data(
                {"name": "two-hosts"},
                {
                    "name": "four-hosts",
                    "instance": {"count": 4},
                    "metrics": [{**accuracy, "direction": "Maximize"}],
                },
            )
        ),
        region="eu-west-1",
    )
    one, two = build_request(checked)["TrainingJobDefinitions"]
    assert (one["ResourceConfig"]["InstanceCount"], two["ResourceConfig"]["InstanceCount"]) == (
        2,
        4,
    )
    for key in ("sagemaker_program", "sagemaker_submit_directory"):  # one script, one upload
        assert one["StaticHyperParameters"][key] == two["StaticHyperParameters"][key]
    assert [m["Name"] for m in two["AlgorithmSpecification"]["MetricDefinitions"]] == [
        "validation:accuracy"
    ]
    # Their objective's directions must agree: AMT ranks all their jobs on it.
    problems = problems_of(
        script_data(
            {"name": "a"}, {"name": "b", "metrics": [{**accuracy, "direction": "Minimize"}]}
        )
    )
    assert problems == [
        "objective.type: the definitions' validation:accuracy disagree on which way is better "
        "(a: Maximize, b: Minimize): set objective.type"
    ]


def test_a_definitions_image_may_name_the_registry_by_variable(tmp_path: Path) -> None:
    data = spec_data()
    data["definitions"][2]["image"] = "${REGISTRY}/smtune-synthetic:0.2.0"
    data["definitions"][1]["static_hyperparameters"] = {"seconds_per_epoch": "${HOME}"}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as error:
        read(path)
    assert error.value.problems == [
        "definitions.1.static_hyperparameters.seconds_per_epoch: ${HOME} is not expanded here: "
        "variables are expanded only in role, image, channels.*.s3_uri, output_path, "
        "checkpoint_s3_uri, code_location, definitions.*.image"
    ]
    data["definitions"][1].pop("static_hyperparameters")
    path.write_text(yaml.safe_dump(data))
    loaded = read(path)
    assert loaded.variables == ("REGISTRY",)
    images = [d.image_uri for d in plan(loaded.spec).definitions]
    assert images == [f"{ECR}/smtune-synthetic:0.1.0"] * 2 + [f"{ECR}/smtune-synthetic:0.2.0"]


def test_the_shipped_example_rehearses_as_shipped_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.csv").write_text("1,1\n")
    options = (  # tmp_path has no spaces: the options split on them
        f"--channel train={tmp_path / 'train'} --out {tmp_path / 'out'} "
        f"--summary-json {tmp_path / 'summary.json'} --report {tmp_path / 'report'}"
    )
    command = [
        sys.executable,
        "-m",
        "smtune.tuning.cli",
        "tune",
        "rehearse",
        str(SPEC),
        *options.split(),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=SPEC.parents[2]
    )
    assert result.returncode == 0, result.stderr
    compared = json.loads((tmp_path / "summary.json").read_text())["definitions"]
    assert [(d["name"], d["hosts"], sum(d["jobs"].values())) for d in compared] == [
        ("hosts-1", 1, 4),
        ("hosts-2", 2, 4),
        ("hosts-3", 3, 4),
    ]
    jobs = sorted((tmp_path / "out" / "synthetic-definitions").glob("synthetic-definitions-*"))
    hosts = [len([p for p in job.glob("algo-*") if p.is_dir()]) for job in jobs]
    assert hosts == [1, 2, 3] * 4
    text = (tmp_path / "report" / "summary.md").read_text()
    assert "## By training job definition" in text
    for d in compared:
        assert f"| {d['name']} | {d['hosts']} | 4 |" in text
