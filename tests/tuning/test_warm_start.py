"""Warm start: planned offline, checked against the parents on SageMaker (Stubber) and in a
rehearsal (earlier rehearsals' journals), sent, and used by the child rehearsal."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from smtune.containers.local.process import ProcessBackend
from smtune.containers.status import JobStatus, TuningJobStatus
from smtune.tuning import sagemaker
from smtune.tuning.amt.ranges import FloatRange
from smtune.tuning.amt.warm_start import Parent, ParentJob
from smtune.tuning.journal import Journal
from smtune.tuning.plan import TuningPlan, shape_of
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal import parent_journals
from smtune.tuning.rehearsal.runner import Rehearsal
from smtune.tuning.request import build_request
from smtune.tuning.schedulers.hyperband import HyperbandScheduler
from smtune.tuning.schedulers.median_stopping import MedianStoppingRule
from smtune.tuning.spec import SpecError, parse, read_data
from tests.tuning.conftest import SEED

REPO = Path(__file__).resolve().parents[2]
PARENT_SPEC = REPO / "tuning" / "jobs" / "synthetic-hyperband.yaml"
CHILD_SPEC = REPO / "tuning" / "jobs" / "synthetic-warm-start.yaml"
T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
WHERE = "WarmStartConfig.ParentHyperParameterTuningJobs[synthetic-hyperband]"


def seed_with(**warm: Any) -> dict[str, Any]:
    data = read_data(SEED)[0]
    data["warm_start"] = {"type": "TransferLearning", "parents": ["earlier-auc"], **warm}
    return data


# -- plan: what can be checked offline -----------------------------------------------------


def test_a_warm_start_is_planned_and_sent_as_a_warm_start_config() -> None:
    checked = plan(parse(seed_with(parents=["earlier-auc", "other-1"])))
    assert build_request(checked)["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": "earlier-auc"},
            {"HyperParameterTuningJobName": "other-1"},
        ],
        "WarmStartType": "TransferLearning",
    }
    assert "WarmStartConfig" not in build_request(plan(parse(read_data(SEED)[0])))


BAD_WARM_STARTS = [
    (
        {"parents": [f"parent-{i}" for i in range(6)]},
        ["warm_start.parents: 6 parents: must be 1 to 5"],
    ),
    ({"parents": []}, ["warm_start.parents: 0 parents: must be 1 to 5"]),
    (
        {"parents": ["ok", "bad_name!"]},
        [
            "warm_start.parents[1]: 'bad_name!' is no tuning job name: must match "
            "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31} (1 to 32 letters, digits and hyphens)"
        ],
    ),
    (
        {"parents": ["p-1", "p-1"]},
        ["warm_start.parents[1]: 'p-1' is named twice: name each parent once"],
    ),
    (
        {"parents": ["xgboost-bank-hyperband"]},
        [
            "warm_start.parents[0]: 'xgboost-bank-hyperband' is this tuning job: it cannot be "
            "its own parent"
        ],
    ),
    (
        {"type": "Identical", "parents": [f"p{i}" for i in range(7)]},  # every problem at once
        [
            "warm_start.parents: 7 parents: must be 1 to 5",
            "warm_start.type: 'Identical' is not allowed: must be IdenticalDataAndAlgorithm, "
            "TransferLearning",
        ],
    ),
]


@pytest.mark.parametrize(("given", "messages"), BAD_WARM_STARTS)
def test_bad_warm_starts_are_refused_offline(given: dict[str, Any], messages: list[str]) -> None:
    with pytest.raises(SpecError) as error:
        plan(parse(seed_with(**given)))
    assert error.value.problems == messages


def test_plan_shows_the_warm_start() -> None:
    from smtune.tuning.report import plan_summary as summary

    shown = summary(plan(parse(seed_with())))
    assert "warm start  TransferLearning from earlier-auc (submit and rehearse check them)" in shown


# -- submit: the parents described, the rules checked before create ------------------------


def described(checked: TuningPlan, name: str, status: str = "Completed") -> dict[str, Any]:
    """DescribeHyperParameterTuningJob of a parent created from `checked`'s request."""
    request = build_request(checked)
    definition = copy.deepcopy(request["TrainingJobDefinition"])
    definition["StaticHyperParameters"]["_tuning_objective_metric"] = "validation:auc"  # SDK's
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:"
        f"hyper-parameter-tuning-job/{name}",
        "HyperParameterTuningJobConfig": request["HyperParameterTuningJobConfig"],
        "TrainingJobDefinition": definition,
        "HyperParameterTuningJobStatus": status,
        "CreationTime": T0,
        "TrainingJobStatusCounters": {"Completed": 2},
        "ObjectiveStatusCounters": {"Succeeded": 2},
    }


def listed(name: str, count: int) -> dict[str, Any]:
    return {
        "TrainingJobSummaries": [
            {
                "TrainingJobName": f"{name}-{i:03d}",
                "TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/"
                f"{name}-{i:03d}",
                "CreationTime": T0,
                "TrainingJobStatus": "Completed",
                "TunedHyperParameters": {"eta": "0.1"},
                "FinalHyperParameterTuningJobObjectiveMetric": {
                    "MetricName": "validation:auc",
                    "Value": 0.78 + i / 1000,
                },
            }
            for i in range(count)
        ]
    }


def expect_parent(stub: Any, description: dict[str, Any], jobs: int) -> None:
    name = description["HyperParameterTuningJobName"]
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        description,
        {"HyperParameterTuningJobName": name},
    )
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        listed(name, jobs),
        {"HyperParameterTuningJobName": name},
    )


def test_submit_describes_the_parents_then_creates_the_job() -> None:
    checked = plan(parse(seed_with(type="IdenticalDataAndAlgorithm")))
    parent_plan = plan(parse(read_data(SEED)[0]))  # the same job, earlier
    sm = boto3.client("sagemaker", region_name="eu-west-1")
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/x"
    with Stubber(sm) as stub:
        expect_parent(stub, described(parent_plan, "earlier-auc"), jobs=3)
        stub.add_response(
            "create_hyper_parameter_tuning_job",
            {"HyperParameterTuningJobArn": arn},
            build_request(checked),
        )
        assert sagemaker.submit(sm, checked) == arn
        stub.assert_no_pending_responses()


def test_submit_lists_every_broken_rule_and_creates_nothing() -> None:
    data = seed_with(parents=["earlier-auc", "running-one"], type="IdenticalDataAndAlgorithm")
    checked = plan(parse(data))
    other = read_data(SEED)[0]
    other["objective"] = {"metric": "train:auc"}
    other["static_hyperparameters"]["max_bin"] = 128  # one more hyperparameter
    other["channels"]["train"]["s3_uri"] = "s3://my-bucket/bank/older/train/"
    other_plan = plan(parse(other))
    sm = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(sm) as stub:
        expect_parent(stub, described(other_plan, "earlier-auc"), jobs=2)
        expect_parent(
            stub, described(plan(parse(read_data(SEED)[0])), "running-one", "InProgress"), 1
        )
        with pytest.raises(SpecError) as error:
            sagemaker.submit(sm, checked)  # no create response queued: none may be sent
        stub.assert_no_pending_responses()
    first = "WarmStartConfig.ParentHyperParameterTuningJobs[earlier-auc]"
    count = len(checked.definition.static_hyperparameters) + len(checked.definition.ranges)
    problems = error.value.problems
    assert problems[:2] == [
        f"{first}: objective Maximize train:auc differs from this job's Maximize "
        "validation:auc; warm start needs the same objective metric",
        f"{first}: {count + 1} static plus tunable hyperparameters, this job {count}; "
        "warm start keeps their total unchanged",
    ]
    assert problems[2] == (
        f"{first}: hyperparameter names differ (only in the parent: ['max_bin'], only here: "
        "[]); warm start keeps the same hyperparameters"
    )
    assert problems[3].startswith(f"{first}: input channels {{")
    assert problems[3].endswith(
        "IdenticalDataAndAlgorithm needs the same input data (TransferLearning allows other data)"
    )
    assert problems[4:] == [
        "WarmStartConfig.ParentHyperParameterTuningJobs[running-one]: status InProgress; a "
        "parent must have ended (Completed, Stopped or Failed)"
    ]


def test_a_missing_parent_is_named() -> None:
    checked = plan(parse(seed_with()))
    sm = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(sm) as stub:
        stub.add_client_error(
            "describe_hyper_parameter_tuning_job",
            "ResourceNotFound",
            "Amazon SageMaker can't find a tuning job with name earlier-auc",
            expected_params={"HyperParameterTuningJobName": "earlier-auc"},
        )
        assert sagemaker.parents_problems(sm, checked) == [
            "warm_start.parents: 'earlier-auc': Amazon SageMaker can't find a tuning job with "
            "name earlier-auc"
        ]


def test_analyze_names_the_parents_and_the_overall_best() -> None:
    description = {
        "WarmStartConfig": {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "earlier-auc"}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        },
        "OverallBestTrainingJob": {
            "TrainingJobName": "earlier-auc-004",
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "MetricName": "validation:auc",
                "Value": 0.7912,
            },
        },
    }
    assert sagemaker.warm_start_lines(description) == [
        "warm start: IdenticalDataAndAlgorithm from earlier-auc",
        "overall best (parents included): earlier-auc-004 validation:auc = 0.7912",
    ]
    assert sagemaker.warm_start_lines({}) == []


# -- what a child takes: pure ----------------------------------------------------------------


def parent_with(curves: dict[str, list[tuple[int, float]]]) -> Parent:
    checked = plan(parse(yaml.safe_load(PARENT_SPEC.read_text())), registry="local")
    shape = shape_of(checked, {"train": "/data"})
    observations = tuple(
        ParentJob(shape.name, job, {}, curve[-1][1], tuple(curve)) for job, curve in curves.items()
    )
    return Parent(shape, TuningJobStatus.COMPLETED, observations)


def test_parents_values_at_the_rungs_decide_whether_a_new_job_goes_on() -> None:
    space = {"x": FloatRange(0.0, 1.0)}
    good = parent_with({f"p{i}": [(1, 0.9), (2, 0.91), (3, 0.92)] for i in range(3)})

    def first_decision(parents: tuple[Parent, ...]) -> str:
        scheduler = HyperbandScheduler(space, 1, 9, maximize=True, seed=0)
        recorded = parent_journals.seed_hyperband(scheduler, parents)
        jobs = (scheduler.suggest(f"new-{i}") for i in range(100))
        job = next(s.job for s in jobs if s.bracket == 0)  # rungs 1, 3, 9
        return f"{recorded}:{scheduler.on_result(job, 1, 0.5).value}"

    at_rungs = HyperbandScheduler(space, 1, 9, maximize=True)  # brackets' rungs: 1 3 9, 3 9, 9
    assert [at_rungs.record_previous(r, 0.9) for r in (1, 2, 3, 9)] == [1, 0, 2, 0]
    # Cold, the first job at a rung is the best there; warm, three better parents stop it.
    assert first_decision(()) == "0:Continue"
    seeded = first_decision((good,))
    assert seeded.endswith(":Stop") and int(seeded.split(":")[0]) > 0


def test_parents_curves_are_previous_jobs_of_the_median_rule() -> None:
    good = parent_with({"p1": [(1, 0.9), (2, 0.95)], "p2": [(1, 0.8), (2, 0.85)]})
    cold, warm = MedianStoppingRule(maximize=True), MedianStoppingRule(maximize=True)
    parent_journals.seed_median_rule(warm, [good])
    assert cold.observe("new", 1, 0.5) is False  # no previous job: it goes on
    assert warm.observe("new", 1, 0.5) is True  # below the parents' median of 0.85


# -- rehearsals: parents from journals -------------------------------------------------------


def spec_data(path: Path, **changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    data["static_hyperparameters"]["seconds_per_epoch"] = 0
    data.update(changes)
    return data


def rehearse(
    folder: Path, data: dict[str, Any], train: Path, journals: tuple[Path, ...] = ()
) -> tuple[Any, Path]:
    checked = plan(parse(data), registry="local")
    parents = parent_journals.parents_from_journals(
        checked, {"train": str(train)}, journals, "spec"
    )
    folder.mkdir(exist_ok=True)
    path = folder / "journal.db"
    journal = Journal(path)
    try:
        summary = Rehearsal(
            checked, {"train": train}, folder / "jobs", journal, ProcessBackend(), parents=parents
        ).run()
    finally:
        journal.close()
    return summary, path


@pytest.fixture(scope="module")
def parent_journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Path]:
    """A rehearsal of synthetic-hyperband.yaml: the parent of the warm start example."""
    folder = tmp_path_factory.mktemp("parent")
    train = folder / "train"
    train.mkdir()
    (train / "a.csv").write_text("1,1\n")
    summary, path = rehearse(folder, spec_data(PARENT_SPEC), train)
    return summary, path, train


def decisions(path: Path) -> list[tuple[str, int, str]]:
    journal = Journal(path)
    try:
        return [
            (job, resource, decision) for job, resource, _, decision, _ in journal.observations()
        ]
    finally:
        journal.close()


def test_the_example_warm_starts_from_a_rehearsal_of_its_parent(
    parent_journal: tuple[Any, Path, Path], tmp_path: Path
) -> None:
    parent_summary, parent_path, train = parent_journal
    warm, warm_path = rehearse(tmp_path / "warm", spec_data(CHILD_SPEC), train, (parent_path,))
    cold_data = spec_data(CHILD_SPEC)
    del cold_data["warm_start"]
    cold, cold_path = rehearse(tmp_path / "cold", cold_data, train)
    # The summary shows the parent, its jobs, and the overall best over both jobs' jobs.
    assert warm.parents == ("synthetic-hyperband",) and warm.parent_jobs == 12
    assert warm.warm_start_type == "IdenticalDataAndAlgorithm"
    best = max(parent_summary.best_objective, warm.best_objective)
    assert warm.overall_best_objective == best
    assert warm.overall_best_job == (
        parent_summary.best_job if best == parent_summary.best_objective else warm.best_job
    )
    assert cold.parents == () and cold.overall_best_job is None
    # Same seed, same draws; the parent's values at the rungs stop jobs the cold run keeps.
    warm_decisions, cold_decisions = decisions(warm_path), decisions(cold_path)
    assert warm_decisions != cold_decisions
    assert warm.resource_used < cold.resource_used
    assert warm.jobs[JobStatus.STOPPED] > cold.jobs[JobStatus.STOPPED]
    # A resumed rehearsal needs the parents it began with.
    journal = Journal(warm_path)
    resumed = Rehearsal(
        plan(parse(spec_data(CHILD_SPEC)), registry="local"),
        {"train": train},
        tmp_path / "warm" / "jobs",
        journal,
        ProcessBackend(),
    )
    with pytest.raises(SpecError) as error:
        resumed.run()
    journal.close()
    assert error.value.problems == [
        "it was warm-started from synthetic-hyperband, now from no parent: resume with the "
        "--warm-start-from journals it began with"
    ]
    lines = parent_journals.report_lines(warm)
    assert lines[1] == (
        "Warm start (IdenticalDataAndAlgorithm) from synthetic-hyperband: 12 parent training jobs."
    )


def test_bad_parents_in_a_rehearsal_are_listed_at_once(
    parent_journal: tuple[Any, Path, Path], tmp_path: Path
) -> None:
    _, parent_path, train = parent_journal
    other_train = tmp_path / "other"
    other_train.mkdir()
    # A changed hyperparameter set and other data, under IdenticalDataAndAlgorithm.
    data = spec_data(CHILD_SPEC)
    data["static_hyperparameters"]["fail_at_epoch"] = 0
    checked = plan(parse(data), registry="local")
    with pytest.raises(SpecError) as error:
        parent_journals.parents_from_journals(
            checked, {"train": str(other_train)}, (parent_path,), "child.yaml"
        )
    assert error.value.problems == [
        f"{WHERE}: 4 static plus tunable hyperparameters, this job 5; warm start keeps their "
        "total unchanged",
        f"{WHERE}: hyperparameter names differ (only in the parent: [], only here: "
        "['fail_at_epoch']); warm start keeps the same hyperparameters",
        f"{WHERE}: input channels {{'train': '{train}'}}, this job {{'train': '{other_train}'}}; "
        "IdenticalDataAndAlgorithm needs the same input data (TransferLearning allows other data)",
    ]
    # TransferLearning allows other data.
    data["warm_start"]["type"] = "TransferLearning"
    del data["static_hyperparameters"]["fail_at_epoch"]
    transfer = plan(parse(data), registry="local")
    found = parent_journals.parents_from_journals(
        transfer, {"train": str(other_train)}, (parent_path,), "child.yaml"
    )
    assert [p.shape.name for p in found] == ["synthetic-hyperband"]


def crafted_journal(path: Path, parent: Parent, ended: bool = True) -> Path:
    """A journal as a rehearsal of `parent`'s shape leaves it (no jobs)."""
    journal = Journal(path)
    parent_journals.record_start(journal, parent.shape, ())
    if ended:
        parent_journals.record_end(journal)
    journal.close()
    return path


def test_another_objective_another_image_and_a_rehearsal_in_progress_are_refused(
    tmp_path: Path,
) -> None:
    checked = plan(parse(spec_data(CHILD_SPEC)), registry="local")
    shape = parent_with({}).shape
    other = replace(shape, objective_metric="validation:loss", image="local/other:1")
    journal = crafted_journal(tmp_path / "other.db", Parent(other, TuningJobStatus.COMPLETED))
    with pytest.raises(SpecError) as error:
        parent_journals.parents_from_journals(checked, {"train": "/data"}, (journal,), "child.yaml")
    assert error.value.problems == [
        f"{WHERE}: objective Maximize validation:loss differs from this job's Maximize "
        "validation:score; warm start needs the same objective metric",
        f"{WHERE}: image 'local/other:1', this job 'local/smtune-synthetic:0.1.0'; "
        "IdenticalDataAndAlgorithm needs the same training image (TransferLearning allows "
        "another)",
    ]
    running = crafted_journal(tmp_path / "running.db", parent_with({}), ended=False)
    with pytest.raises(SpecError) as error:
        parent_journals.parents_from_journals(checked, {"train": "/data"}, (running,), "child.yaml")
    assert error.value.problems == [
        f"{WHERE}: status InProgress; a parent must have ended (Completed, Stopped or Failed)"
    ]


def test_journals_must_match_the_named_parents(tmp_path: Path) -> None:
    checked = plan(parse(spec_data(CHILD_SPEC)), registry="local")
    stranger = replace(parent_with({}).shape, name="someone-else")
    journal = crafted_journal(tmp_path / "stranger.db", Parent(stranger, TuningJobStatus.COMPLETED))
    empty = tmp_path / "empty.db"
    Journal(empty).close()
    with pytest.raises(SpecError) as error:
        parent_journals.parents_from_journals(
            checked, {"train": "/data"}, (journal, empty, tmp_path / "none.db"), "child.yaml"
        )
    assert error.value.problems[:3] == [
        f"--warm-start-from {journal}: holds the tuning job 'someone-else', which "
        "warm_start.parents does not name (synthetic-hyperband)",
        f"--warm-start-from {empty}: the journal records no warm start shape (a rehearsal from "
        "before warm start was recorded, or not a rehearsal's journal): rehearse the parent "
        "again",
        f"--warm-start-from {tmp_path / 'none.db'}: no such journal: give the journal of an "
        "earlier rehearsal",
    ]
    with pytest.raises(SpecError) as error:
        parent_journals.parents_from_journals(checked, {"train": "/data"}, (), "child.yaml")
    assert error.value.problems[0] == (
        "warm_start.parents: 'synthetic-hyperband' has no journal: give --warm-start-from with "
        "the journal of its rehearsal"
    )
    cold = plan(parse(yaml.safe_load(PARENT_SPEC.read_text())), registry="local")
    with pytest.raises(SpecError) as error:
        parent_journals.parents_from_journals(cold, {"train": "/data"}, (journal,), "cold.yaml")
    assert error.value.problems == [
        "--warm-start-from is given but the spec has no warm_start: add one naming the parents"
    ]


def test_the_cli_refuses_a_parent_in_progress_before_any_job(tmp_path: Path) -> None:
    import subprocess

    from tests.tuning.test_rehearsal import cli_rehearsal

    command, journal = cli_rehearsal(tmp_path, seconds_per_epoch=0)  # the parent's, then:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_data(CHILD_SPEC)))
    here = replace(parent_with({}).shape, channels={"train": str((tmp_path / "train").resolve())})
    running = crafted_journal(
        tmp_path / "running.db", Parent(here, TuningJobStatus.COMPLETED), ended=False
    )
    done = subprocess.run(
        [*command, "--warm-start-from", str(running)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-2:] == [
        f"smtune: error: {spec} is not a valid tuning job:",
        f"  - {WHERE}: status InProgress; a parent must have ended (Completed, Stopped or Failed)",
    ]
    assert not journal.exists()  # refused before the rehearsal's journal, or any job
