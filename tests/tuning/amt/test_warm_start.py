"""Warm start: AMT's documented rules, every problem at once, and the overall best."""

from __future__ import annotations

import dataclasses

from smtune.containers.status import TuningJobStatus
from smtune.tuning.amt.ranges import Choice, FloatRange, IntRange
from smtune.tuning.amt.warm_start import (
    Parent,
    ParentJob,
    TuningShape,
    WarmStartType,
    overall_best,
    warm_start_problems,
)

IDENTICAL = WarmStartType.IDENTICAL_DATA_AND_ALGORITHM
SHAPE = TuningShape(
    name="parent-a",
    objective_metric="validation:auc",
    maximize=True,
    static={"num_round": "200", "objective": "binary:logistic"},
    tunable={"eta": FloatRange(0.01, 0.5), "max_depth": IntRange(3, 10)},
    image="smtune-xgboost:0.1.0",
    channels={"train": "/data/bank/train", "validation": "/data/bank/validation"},
)
CHILD = dataclasses.replace(SHAPE, name="child")


def parent(
    shape: TuningShape = SHAPE, jobs: int = 0, status: TuningJobStatus = TuningJobStatus.COMPLETED
) -> Parent:
    observations = tuple(
        ParentJob(shape.name, f"{shape.name}-{i:03d}", {"eta": 0.1}, 0.7 + i / 100)
        for i in range(jobs)
    )
    return Parent(shape, status, observations)


def test_a_child_may_move_hyperparameters_between_static_and_tunable() -> None:
    child = dataclasses.replace(
        CHILD,
        static={"num_round": "200", "objective": "binary:logistic", "eta": "0.1"},
        tunable={"max_depth": IntRange(2, 12)},  # a new range is allowed
    )
    assert warm_start_problems(child, 30, [parent()], IDENTICAL) == []


def test_transfer_learning_may_change_image_and_data_but_identical_may_not() -> None:
    child = dataclasses.replace(CHILD, image="smtune-xgboost:0.2.0", channels={"train": "/new"})
    assert warm_start_problems(child, 30, [parent()], WarmStartType.TRANSFER_LEARNING) == []
    assert warm_start_problems(child, 30, [parent()], IDENTICAL) == [
        "WarmStartConfig.ParentHyperParameterTuningJobs[parent-a]: image "
        "'smtune-xgboost:0.1.0', this job 'smtune-xgboost:0.2.0'; IdenticalDataAndAlgorithm "
        "needs the same training image (TransferLearning allows another)",
        "WarmStartConfig.ParentHyperParameterTuningJobs[parent-a]: input channels {'train': "
        "'/data/bank/train', 'validation': '/data/bank/validation'}, this job {'train': "
        "'/new'}; IdenticalDataAndAlgorithm needs the same input data (TransferLearning allows "
        "other data)",
    ]


def test_six_parents_are_too_many_and_none_is_too_few() -> None:
    six = [parent(dataclasses.replace(SHAPE, name=f"p{i}")) for i in range(6)]
    assert warm_start_problems(CHILD, 30, six, IDENTICAL) == [
        "WarmStartConfig.ParentHyperParameterTuningJobs has 6 parents: must be 1 to 5"
    ]
    assert warm_start_problems(CHILD, 30, six[:5], IDENTICAL) == []
    assert warm_start_problems(CHILD, 30, [], IDENTICAL) == [
        "WarmStartConfig.ParentHyperParameterTuningJobs has 0 parents: must be 1 to 5"
    ]


def test_every_broken_rule_of_every_parent_at_once() -> None:
    renamed = dataclasses.replace(
        SHAPE,
        name="parent-b",
        objective_metric="validation:logloss",
        maximize=False,
        static={"num_round": "100"},
        tunable={
            "eta": IntRange(1, 5),
            "max_depth": IntRange(3, 10),
            "booster": Choice(("gbtree", "dart")),
        },
    )
    running = parent(
        dataclasses.replace(SHAPE, name="parent-c"), status=TuningJobStatus.IN_PROGRESS
    )
    where_b = "WarmStartConfig.ParentHyperParameterTuningJobs[parent-b]"
    assert warm_start_problems(CHILD, 30, [parent(renamed), running], IDENTICAL) == [
        f"{where_b}: objective Minimize validation:logloss differs from this job's Maximize "
        "validation:auc; warm start needs the same objective metric",
        f"{where_b}: hyperparameter names differ (only in the parent: ['booster'], only here: "
        "['objective']); warm start keeps the same hyperparameters",
        f"{where_b}: hyperparameter eta was integer, is continuous; warm start keeps each "
        "hyperparameter's type",
        "WarmStartConfig.ParentHyperParameterTuningJobs[parent-c]: status InProgress; a parent "
        "must have ended (Completed, Stopped or Failed)",
    ]


def test_the_total_number_of_hyperparameters_is_kept() -> None:
    child = dataclasses.replace(CHILD, static={"num_round": "200"})
    problems = warm_start_problems(child, 30, [parent()], WarmStartType.TRANSFER_LEARNING)
    assert problems[0] == (
        "WarmStartConfig.ParentHyperParameterTuningJobs[parent-a]: 4 static plus tunable "
        "hyperparameters, this job 3; warm start keeps their total unchanged"
    )


def test_more_than_ten_changes_are_refused() -> None:
    colours = tuple(f"c{i}" for i in range(9))
    wide = dataclasses.replace(SHAPE, tunable={**SHAPE.tunable, "colour": Choice(colours)})
    # colour: tunable with 9 values -> static (9) and num_round 200 -> 300 (2): 11 changes
    child = dataclasses.replace(
        CHILD, static={**SHAPE.static, "num_round": "300", "colour": "c1"}, tunable=SHAPE.tunable
    )
    assert warm_start_problems(child, 30, [parent(wide)], IDENTICAL) == [
        "WarmStartConfig.ParentHyperParameterTuningJobs[parent-a]: 11 changes (tunable to "
        "static, one per categorical value, and 2 per changed static value); warm start allows "
        "at most 10"
    ]
    child = dataclasses.replace(child, static={**child.static, "num_round": "200"})
    assert warm_start_problems(child, 30, [parent(wide)], IDENTICAL) == []  # 9 changes


def test_the_parents_jobs_count_against_the_limit() -> None:
    parents = [parent(dataclasses.replace(SHAPE, name=f"p{i}"), jobs=100) for i in range(4)]
    assert warm_start_problems(CHILD, 100, parents, IDENTICAL) == []
    assert warm_start_problems(CHILD, 101, parents, IDENTICAL) == [
        "ResourceLimits.MaxNumberOfTrainingJobs=101 plus the parents' 400 training jobs is "
        "501: at most 500, since the parents' jobs count against the limit"
    ]


def test_overall_best_spans_parents_and_child_and_skips_missing_objectives() -> None:
    jobs = [
        ParentJob("p", "p-1", {}, 0.71),
        ParentJob("p", "p-2", {}, None),
        ParentJob("c", "c-1", {}, 0.75),
        ParentJob("c", "c-2", {}, 0.75),
    ]
    assert overall_best(jobs, maximize=True) == jobs[2]
    assert overall_best(jobs, maximize=False) == jobs[0]
    assert overall_best(jobs[1:2], maximize=True) is None
