"""The sagemaker_* hyperparameters and the script's own, read as sagemaker-training reads them."""

from __future__ import annotations

import json
import logging

import pytest

from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.script.settings import ScriptSettings, decode, flag_name_problem

SDK = {  # as SDK v2's PyTorch estimator writes them: every value JSON-encoded
    "sagemaker_program": json.dumps("train.py"),
    "sagemaker_submit_directory": json.dumps("s3://bucket/job/source/sourcedir.tar.gz"),
    "sagemaker_container_log_level": "20",
    "sagemaker_job_name": json.dumps("job-1"),
    "sagemaker_region": json.dumps("eu-west-1"),
    "sagemaker_torch_distributed_enabled": "true",
    "_tuning_objective_metric": json.dumps("loss"),
    "epochs": "3",
    "lr": "0.1",
    "optimizer": json.dumps("adam"),
    "nesterov": "true",
    "betas": json.dumps({"b1": 0.9, "b2": 0.99}),
    "n": "7",
    "note": "not json",
}


def settings(raw: dict[str, str]) -> ScriptSettings:
    return ScriptSettings.from_raw({k: decode(v) for k, v in raw.items()})


def test_the_sdk_hyperparameters_split_into_settings_framework_params_and_the_scripts() -> None:
    read = settings(SDK)
    assert read.program == "train.py"
    assert read.submit_directory == "s3://bucket/job/source/sourcedir.tar.gz"
    assert (read.log_level, read.job_name, read.region) == (logging.INFO, "job-1", "eu-west-1")
    assert read.framework_params == {"sagemaker_torch_distributed_enabled": True}
    assert sorted(read.hyperparameters) == [
        "betas", "epochs", "lr", "n", "nesterov", "note", "optimizer",
    ]  # fmt: skip
    assert read.hyperparameters["optimizer"] == "adam" and read.hyperparameters["lr"] == 0.1


def test_arguments_are_those_sagemaker_training_passes() -> None:
    mapping = pytest.importorskip("sagemaker_training.mapping")
    read = settings(SDK)
    assert read.arguments == mapping.to_cmd_args(read.hyperparameters)
    assert read.arguments[:4] == ["--betas", "b1=0.9,b2=0.99", "--epochs", "3"]
    assert read.arguments[6:8] == ["-n", "7"]  # a one-letter name as a short option
    assert read.arguments[8:10] == ["--nesterov", "True"]  # the toolkit's str(True)


@pytest.mark.parametrize("program", [None, "", 3])
def test_a_missing_program_is_refused(program: object) -> None:
    raw = {"sagemaker_program": program} if program is not None else {}
    with pytest.raises(UserError, match=r"sagemaker_program=.* must name the script"):
        ScriptSettings.from_raw(raw)


@pytest.mark.parametrize("name", ["learning rate", "-lr", "--lr", "lr=0.1", "1st", "é", ""])
def test_a_name_that_cannot_be_a_flag_is_refused_naming_it_and_the_rule(name: str) -> None:
    problem = flag_name_problem(name)
    assert problem is not None and repr(name) in problem and "must start with a letter" in problem
    with pytest.raises(UserError, match="cannot be a command-line flag"):
        ScriptSettings.from_raw({"sagemaker_program": "train.py", name: "1"})


@pytest.mark.parametrize("name", ["lr", "batch-size", "model.depth", "b_1", "x"])
def test_flag_names_are_accepted(name: str) -> None:
    assert flag_name_problem(name) is None


def test_underscore_names_are_the_platforms_and_never_reach_the_script() -> None:
    read = ScriptSettings.from_raw({"sagemaker_program": "t.py", "_secret": "1", "a": 1})
    assert read.hyperparameters == {"a": 1}
