"""The study file: the shipped studies load; bad input is listed at once, before anything runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from smtune.tuning.spec import read_data
from smtune.tuning.study.model import StudyError, parse, read

REPO = Path(__file__).resolve().parents[3]
STUDIES = REPO / "tuning" / "studies"


def xgboost_study(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load((STUDIES / "xgboost-bank.yaml").read_text())
    data["tuning"] = str(REPO / "tuning" / "jobs" / "xgboost-bank-hyperband.yaml")
    return {**data, **changes}


def inline_spec() -> dict[str, Any]:
    data, _ = read_data(REPO / "tuning" / "jobs" / "xgboost-bank-hyperband.yaml")
    return copy.deepcopy(data)


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(StudyError) as caught:
        parse(data, "study.yaml")
    return caught.value.problems


@pytest.mark.parametrize("name", ["xgboost-bank.yaml", "dnn-mnist.yaml"])
def test_the_shipped_studies_load(name: str) -> None:
    study = read(STUDIES / name)
    assert study.sizes == ((1, 2, 3, 4) if name.startswith("xgboost") else (1, 2, 4))
    assert study.facts.max_resource == (200 if name.startswith("xgboost") else 4)


def test_every_problem_of_a_study_file_is_listed_at_once() -> None:
    data = xgboost_study(
        sizes=[0, 2, 9, 2],
        baseline={"hyperparameters": {"num_round": 10, "eval_metric": "logloss"}},
        rung_check={"configurations": 2, "hosts": 12},
    )
    assert problems(data) == [
        "sizes.0: Input should be greater than or equal to 1 (got 0)",
        "sizes.2: 9 is out of range: must be <= max_hosts=8",
        "sizes: [2] given twice: each size must appear once",
        "rung_check.hosts: 12 is out of range: must be <= max_hosts=8",
        "baseline.hyperparameters: with these the xgboost image prints train:logloss, "
        "validation:logloss, not the tuning job's objective validation:auc: the untuned and "
        "tuned objectives must be the same metric (e.g. set its eval_metric)",
    ]


def test_baseline_hyperparameters_are_checked_against_the_image() -> None:
    data = xgboost_study(baseline={"hyperparameters": {"eta": 7, "depth": 3}})
    assert problems(data) == [
        "baseline.hyperparameters.eta: the image would reject it: eta=7 is out of range: "
        "must be 0 <= eta <= 1",
        "baseline.hyperparameters.depth: the xgboost image has no hyperparameter 'depth'",
        "baseline.hyperparameters.num_round is required by the xgboost image",
    ]


def test_a_tuning_job_that_is_not_hyperband_is_refused() -> None:
    spec = inline_spec()
    spec["strategy"] = {"type": "Bayesian"}
    found = problems(xgboost_study(tuning=spec))
    assert found == [
        "tuning.strategy.type: 'Bayesian' is not allowed: must be 'Hyperband' (the study "
        "compares the compute with and without early stopping, which only Hyperband's rungs "
        "give, and rehearses it locally)"
    ]


def test_channels_the_image_needs_are_required() -> None:
    spec = inline_spec()
    del spec["channels"]["validation"]
    spec["channels"]["extra"] = {"s3_uri": "s3://my-bucket/x/"}
    del spec["channels"]["train"]
    assert problems(xgboost_study(tuning=spec)) == [
        "tuning.channels.train is required: the xgboost image trains from it (the job has extra)",
        "tuning.channels.validation is required: the objective validation:auc is computed on "
        "it (the job has extra)",
    ]


def test_the_image_must_be_the_tuning_jobs() -> None:
    assert problems(xgboost_study(image="dnn")) == [
        "image: 'dnn' is not the tuning job's image (xgboost): the baseline and the tuning job "
        "must run the same image"
    ]
    assert problems(xgboost_study(image="nope"))[0].startswith("image: 'nope' is not in the")


def test_a_tuning_specs_own_problems_are_listed_with_the_studys() -> None:
    spec = inline_spec()
    spec["limits"]["max_jobs"] = 0
    spec["strategy"]["min_resource"] = 500
    found = problems(xgboost_study(tuning=spec, sizes=[0, 1]))
    assert found[0] == "sizes.0: Input should be greater than or equal to 1 (got 0)"
    assert any(p.startswith("tuning: limits.max_jobs:") for p in found)
    missing = problems(xgboost_study(tuning="no-such.yaml"))
    assert missing == ["tuning (no-such.yaml): cannot be read: No such file or directory"]


def test_the_spec_is_checked_at_every_size_and_a_problem_listed_once() -> None:
    spec = inline_spec()
    spec["strategy"]["min_resource"] = 500  # wrong at every size
    found = problems(xgboost_study(tuning=spec))
    assert found == [
        "tuning: strategy.min_resource: 500 is out of range: must be min_resource <= "
        "max_resource=200"
    ]
