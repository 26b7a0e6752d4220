"""Random, Grid and Bayesian search and Autotune beside Hyperband: planned, sent (Stubber, exact
parameters), refused with exact messages, and rehearsed where the rehearsal can (Random, Grid)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from smtune.containers.local.process import ProcessBackend
from smtune.containers.status import JobStatus
from smtune.tuning.amt.strategy import EarlyStopping
from smtune.tuning.journal import Journal
from smtune.tuning.plan import Strategy, TuningPlan
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal.runner import Rehearsal, RehearsalError
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError, parse
from tests.tuning.conftest import ECR
from tests.tuning.test_request import mutate

JOBS = Path(__file__).resolve().parents[2] / "tuning" / "jobs"
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/x"


def spec_data(kind: str, **changes: Any) -> dict[str, Any]:
    """An example spec's data, with top-level or dotted fields changed (None deletes)."""
    data = yaml.safe_load((JOBS / f"synthetic-{kind}.yaml").read_text())
    for path, value in changes.items():
        data = mutate(path, value, data)
    return data


def planned(kind: str, **changes: Any) -> TuningPlan:
    return plan(parse(spec_data(kind, **changes)))


def config_of(kind: str) -> dict[str, Any]:
    return build_request(planned(kind))["HyperParameterTuningJobConfig"]


def test_there_is_one_strategy_enum_and_one_early_stopping_enum() -> None:
    import smtune.tuning.amt.strategy
    import smtune.tuning.plan

    assert smtune.tuning.plan.Strategy is smtune.tuning.amt.strategy.Strategy
    assert smtune.tuning.plan.EarlyStopping is smtune.tuning.amt.strategy.EarlyStopping


def test_random_plans_with_early_stopping_auto_and_no_strategy_config() -> None:
    checked = planned("random")
    assert (checked.strategy, checked.early_stopping) == (Strategy.RANDOM, EarlyStopping.AUTO)
    assert checked.hyperband is None and checked.brackets == () and not checked.autotune
    config = config_of("random")
    assert config["Strategy"] == "Random" and "StrategyConfig" not in config
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2}


def test_grid_without_max_jobs_leaves_it_to_amt_and_counts_its_combinations() -> None:
    checked = planned("grid")
    assert checked.strategy is Strategy.GRID and checked.limits.max_jobs is None
    assert checked.max_jobs == 6  # 3 x 2 combinations
    assert checked.worst_case_instance_seconds == 6 * 2 * 600
    config = config_of("grid")
    assert config["ResourceLimits"] == {"MaxParallelTrainingJobs": 3}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    # Given, it must be the number of combinations: then it is sent.
    exact = build_request(planned("grid", **{"limits.max_jobs": 6}))
    assert exact["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6


def test_autotune_sends_mode_enabled_and_leaves_out_what_amt_chooses() -> None:
    checked = planned("autotune")
    assert checked.autotune and checked.limits.max_jobs is None and checked.early_stopping is None
    assert checked.max_jobs is None and checked.worst_case_instance_seconds is None
    request = build_request(checked)
    assert request["Autotune"] == {"Mode": "Enabled"}
    config = request["HyperParameterTuningJobConfig"]
    assert config["ParameterRanges"]["AutoParameters"] == [{"Name": "y", "ValueHint": "1.0"}]
    assert checked.definition.auto_parameters == {"y": "1.0"}
    assert config["ResourceLimits"] == {"MaxParallelTrainingJobs": 2}
    assert "TrainingJobEarlyStoppingType" not in config and config["Strategy"] == "Bayesian"
    assert checked.warnings[-1] == (
        "autotune: AMT chooses limits.max_jobs (MaxNumberOfTrainingJobs), early_stopping "
        "(TrainingJobEarlyStoppingType); Strategy=Bayesian and MaxParallelTrainingJobs are "
        "required by the API and sent as given. AWS lists the strategy, the ranges, the limits "
        "and early stopping among what Autotune may set, but not what it does with a value it "
        "is given: the job AMT runs may differ from this plan"
    )
    given = planned("autotune", **{"limits.max_jobs": 10, "early_stopping": "Off"})
    assert given.warnings[-1].startswith("autotune: the spec leaves nothing out; Strategy=")
    assert "Autotune" not in build_request(planned("bayesian"))


@pytest.mark.parametrize("kind", ["random", "grid", "bayesian", "autotune"])
def test_a_stubbed_create_call_takes_each_strategys_request_as_is(kind: str) -> None:
    request = build_request(planned(kind))
    client = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response(
            "create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": ARN}, request
        )
        assert client.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]
        stub.assert_no_pending_responses()
    assert request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] == (
        f"{ECR}/smtune-synthetic:0.1.0"
    )


GRID_ONLY = (
    "Grid search takes categorical ranges only (AWS: 'Only categorical parameters are "
    "supported when using the grid search strategy')"
)
BAD = [
    (
        "grid",
        {"ranges.x": {"type": "continuous", "min": 0, "max": 1}},
        [f"ParameterRanges.x=FloatRange: {GRID_ONLY}"],
    ),
    (
        "grid",
        {"limits.max_jobs": 5},
        [
            "ResourceLimits.MaxNumberOfTrainingJobs=5: with Grid search it must be absent or "
            "equal the number of combinations, 6"
        ],
    ),
    (
        "random",
        {"strategy": {"type": "Hyperband", "min_resource": 1, "max_resource": 9}},
        [
            "early_stopping: 'Auto' is not allowed with Hyperband: must be 'Off' (Hyperband "
            "stops jobs early itself)"
        ],
    ),
    (
        "random",
        {"strategy.min_resource": 1, "strategy.max_resource": 9},
        [
            "strategy: min_resource and max_resource apply to Hyperband only, not to "
            "strategy.type='Random'"
        ],
    ),
    (
        "random",
        {"limits.max_jobs": None},
        [
            "limits.max_jobs is required with strategy.type='Random': only a Grid search (one "
            "job per combination) or autotune: true leaves it to AMT"
        ],
    ),
    (
        "autotune",
        {"early_stopping": "Sometimes", "autotune": False},
        [
            "early_stopping: 'Sometimes' is not allowed: must be Off, Auto",
            "auto_parameters: y given without autotune: true: AMT chooses ranges from example "
            "values only with Autotune",
            "limits.max_jobs is required with strategy.type='Bayesian': only a Grid search (one "
            "job per combination) or autotune: true leaves it to AMT",
        ],
    ),
    (
        "random",
        {"auto_parameters": {"y": 2}},
        [
            "auto_parameters: y given without autotune: true: AMT chooses ranges from example "
            "values only with Autotune"
        ],
    ),
    (
        "autotune",
        {"auto_parameters": {"epochs": 5, "x": 0.5, "depth": 3, "seconds_per_epoch": 99}},
        [
            "auto_parameters.depth: the synthetic image has no hyperparameter 'depth'",
            "auto_parameters.seconds_per_epoch: the image would reject it: seconds_per_epoch=99 "
            "is out of range: must be 0 <= seconds_per_epoch <= 60",
            "auto_parameters.epochs: epochs is also a static hyperparameter: keep one",
            "auto_parameters.x: x is also a tuned range: keep one",
        ],
    ),
]


@pytest.mark.parametrize(("kind", "changes", "problems"), BAD, ids=[str(c) for _, c, _ in BAD])
def test_bad_strategy_specs_list_every_problem_exactly(
    kind: str, changes: dict[str, Any], problems: list[str]
) -> None:
    with pytest.raises(SpecError) as error:
        planned(kind, **changes)
    assert error.value.problems == problems


# -- rehearsals ----------------------------------------------------------------------------


def rehearse(tmp_path: Path, checked: TuningPlan, **options: Any) -> tuple[Any, Journal]:
    (tmp_path / "train").mkdir(parents=True, exist_ok=True)
    (tmp_path / "train" / "a.csv").write_text("1,1\n")
    journal = Journal(tmp_path / "journal.db")
    rehearsal = Rehearsal(
        checked,
        {"train": tmp_path / "train"},
        tmp_path / "jobs",
        journal,
        ProcessBackend(),
        **options,
    )
    return rehearsal.run(), journal


def decisions(journal: Journal) -> dict[str, list[tuple[int, str]]]:
    observed: dict[str, list[tuple[int, str]]] = {}
    for job, resource, _, decision, _ in journal.observations():
        observed.setdefault(job, []).append((resource, decision))
    return observed


def test_grid_rehearses_every_combination_exactly_once(tmp_path: Path) -> None:
    checked = planned("grid", **{"static_hyperparameters.seconds_per_epoch": 0})
    summary, journal = rehearse(tmp_path, checked, max_jobs=100)  # no more than the grid
    jobs = journal.jobs()
    combos = sorted((j.hyperparameters["x"], j.hyperparameters["y"]) for j in jobs)
    assert combos == sorted(itertools.product(["0.1", "0.3", "0.6"], ["1", "3"]))
    assert all(j.status is JobStatus.COMPLETED for j in jobs)
    # No MaxResource: each job ran to its own end, 5 epochs, never stopped.
    assert {job: [r for r, _ in seen] for job, seen in decisions(journal).items()} == {
        j.name: [1, 2, 3, 4, 5] for j in jobs
    }
    assert summary.resource_used == summary.resource_worst_case == 6 * 5
    best = next(j for j in jobs if j.name == summary.best_job)
    assert (best.hyperparameters["x"], best.hyperparameters["y"]) == ("0.3", "3")  # known best


def test_random_rehearses_to_each_jobs_end_or_the_median_rule(tmp_path: Path) -> None:
    checked = planned("random", **{"static_hyperparameters.seconds_per_epoch": 0})
    # One job at a time: every earlier job has ended when a result comes, so the median rule
    # sees the same previous jobs on every run.
    summary, journal = rehearse(tmp_path, checked, max_parallel=1)
    jobs, observed = journal.jobs(), decisions(journal)
    assert len(jobs) == 8 and summary.resource_worst_case == 8 * 9
    for record in jobs:
        last, decision = observed[record.name][-1]
        if record.status is JobStatus.STOPPED:
            assert decision == "Stop" and last < 9
        else:
            assert record.status is JobStatus.COMPLETED and (last, decision) == (9, "Continue")
    stopped = [j for j in jobs if j.status is JobStatus.STOPPED]
    assert stopped and jobs[0] not in stopped  # the first job has no previous ones
    assert summary.resource_used < summary.resource_worst_case
    again, _ = rehearse(tmp_path / "again", checked, max_parallel=1)
    assert (again.best_job, again.jobs) == (summary.best_job, summary.jobs)


@pytest.mark.parametrize(
    ("kind", "changes", "message"),
    [
        (
            "bayesian",
            {},
            "Strategy=Bayesian cannot be rehearsed: AMT's Bayesian optimization is not public",
        ),
        (
            "autotune",
            {"limits.max_jobs": 4, "early_stopping": "Off", "strategy": {"type": "Random"}},
            "auto_parameters: AMT chooses the ranges of y from their example values, and its "
            "choice is not public: give them as ranges to rehearse the spec",
        ),
        (
            "random",
            {
                "static_hyperparameters.epochs": None,
                "ranges.epochs": {"type": "continuous", "min": 1, "max": 9},
            },
            "epochs=1.0: without Hyperband a job runs to its own end, so the rehearsal needs "
            "epochs as a positive integer (static, or tuned as an integer) to know its length",
        ),
        (
            "autotune",
            {"strategy": {"type": "Random"}, "auto_parameters": None},
            "autotune: true leaves limits.max_jobs (MaxNumberOfTrainingJobs), early_stopping "
            "(TrainingJobEarlyStoppingType) to AMT, whose choices are not public: give them in "
            "the spec to rehearse it (AMT may still choose otherwise)",
        ),
    ],
)
def test_what_the_rehearsal_cannot_run_is_refused_before_any_job(
    tmp_path: Path, kind: str, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(RehearsalError) as error:
        rehearse(tmp_path, planned(kind, **changes))
    assert str(error.value).startswith(message)
    assert not (tmp_path / "jobs").exists() and Journal(tmp_path / "journal.db").jobs() == []


def test_cli_rehearse_of_bayesian_exits_2_with_the_way_out(tmp_path: Path) -> None:
    spec, out = JOBS / "synthetic-bayesian.yaml", tmp_path / "out"
    command = ["tune", "rehearse", str(spec), "--channel", f"train={tmp_path}", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "smtune.tuning.cli", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Rehearse the same spec with Strategy=Random" in result.stderr
    assert "Traceback" not in result.stderr


def test_only_autotune_leaves_fields_unset_in_a_plan() -> None:
    from dataclasses import replace

    from smtune.tuning.plan import ResourceLimits

    random = planned("random")
    with pytest.raises(ValueError, match="early_stopping unset with strategy=Random: only"):
        replace(random, early_stopping=None)
    with pytest.raises(ValueError, match=r"limits\.max_jobs unset with strategy=Random: only"):
        replace(random, limits=ResourceLimits(None, 2))
    assert replace(random, limits=ResourceLimits(None, 2), autotune=True).max_jobs is None


def test_cli_plan_summarizes_what_amt_chooses() -> None:
    from smtune.tuning.report import plan_summary as summary

    lines = summary(planned("autotune")).splitlines()
    assert "jobs        chosen by AMT, 2 at a time, at most 600 s each" in lines
    assert lines[-1] == "worst case  unknown: AMT chooses the number of jobs (autotune)"
    grid = summary(planned("grid")).splitlines()
    assert "jobs        6, 3 at a time, at most 600 s each" in grid
    assert grid[-1].startswith("worst case  7,200 billable instance-seconds")


def test_a_tuned_length_is_each_jobs_own_worst_case(tmp_path: Path) -> None:
    checked = planned(
        "random",
        early_stopping="Off",
        **{
            "static_hyperparameters.epochs": None,
            "static_hyperparameters.seconds_per_epoch": 0,
            "ranges.epochs": {"type": "integer", "min": 2, "max": 6},
            "limits.max_jobs": 4,
        },
    )
    summary, journal = rehearse(tmp_path, checked)
    lengths = [int(j.hyperparameters["epochs"]) for j in journal.jobs()]
    assert len(set(lengths)) > 1  # the seed draws different lengths
    assert summary.resource_worst_case == summary.resource_used == sum(lengths)
    assert all(j.status is JobStatus.COMPLETED for j in journal.jobs())
