"""Several training job definitions: every broken rule reported at once."""

from __future__ import annotations

from smtune.tuning.amt.definitions import Definition, definitions_problems
from smtune.tuning.amt.strategy import EarlyStopping


def test_one_definition_may_go_without_a_name_and_with_warm_start() -> None:
    one = [Definition(None, 2, "ml.m5.xlarge")]
    assert definitions_problems(one, warm_start=True, early_stopping=EarlyStopping.AUTO) == []


def test_two_definitions_with_different_cluster_sizes_are_fine() -> None:
    two = [Definition("one-host", 1, "ml.m5.xlarge"), Definition("three-hosts", 3, "ml.m5.xlarge")]
    assert definitions_problems(two, warm_start=False, early_stopping=EarlyStopping.OFF) == []


def test_every_problem_at_once() -> None:
    bad = [
        Definition("small", 1, "ml.m5.xlarge"),
        Definition("Small", 2, "ml.m5.xlarge"),
        Definition(None, 1, "ml.m5.xlarge"),
        Definition("-dash", 0, "ml.m5.xlarge"),
        Definition("x" * 65, 1, "ml.m5.xlarge"),
    ]
    assert definitions_problems(bad, warm_start=True, early_stopping=EarlyStopping.AUTO) == [
        "TrainingJobDefinitions[1].DefinitionName='Small': the name of "
        "TrainingJobDefinitions[0] too; definition names must be unique",
        "TrainingJobDefinitions[2].DefinitionName is missing: with several definitions each "
        "needs a name",
        "TrainingJobDefinitions[3].DefinitionName='-dash': must be 1 to 64 letters, digits and "
        "inner hyphens (botocore: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,63})",
        "TrainingJobDefinitions[3].ResourceConfig.InstanceCount=0: must be >= 1",
        f"TrainingJobDefinitions[4].DefinitionName='{'x' * 65}': must be 1 to 64 letters, "
        "digits and inner hyphens (botocore: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,63})",
        "WarmStartConfig with 5 training job definitions: warm start is available only when "
        "tuning a single definition",
        "TrainingJobEarlyStoppingType=Auto with 5 training job definitions: early stopping is "
        "available only when tuning a single definition",
    ]


def test_at_most_ten_definitions_and_at_least_one() -> None:
    eleven = [Definition(f"d{i}", 1, "ml.m5.xlarge") for i in range(11)]
    assert definitions_problems(eleven, False, EarlyStopping.OFF) == [
        "TrainingJobDefinitions has 11 definitions: must be 1 to 10"
    ]
    assert definitions_problems([], False, EarlyStopping.OFF) == [
        "TrainingJobDefinitions has 0 definitions: must be 1 to 10"
    ]
    assert definitions_problems(eleven[:10], False, EarlyStopping.OFF) == []
