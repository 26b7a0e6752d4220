from __future__ import annotations

import pytest

from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.contract.hyperparameters import (
    Boolean,
    Categorical,
    CategoricalList,
    Continuous,
    HyperparameterSchema,
    Integer,
    Interval,
)

SCHEMA = HyperparameterSchema(
    [
        Integer("num_round", required=True, interval=Interval(1)),
        Continuous("eta", default=0.3, interval=Interval(0, 1)),
        Continuous("subsample", default=1.0, interval=Interval(0, 1, low_open=True)),
        Categorical("tree_method", default="hist", choices=("hist", "approx")),
        CategoricalList("eval_metric", default=None, choices=("auc", "logloss")),
        Boolean("verbose", default=False),
    ]
)


def test_strings_parse_to_declared_types_with_defaults() -> None:
    values = SCHEMA.parse({"num_round": "150", "eta": "0.1", "eval_metric": "auc,logloss"})
    assert values == {
        "num_round": 150,
        "eta": 0.1,
        "subsample": 1.0,
        "tree_method": "hist",
        "eval_metric": ("auc", "logloss"),
        "verbose": False,
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"num_round": "150", "eta": "1.7"}, "eta=1.7 is out of range: must be 0 <= eta <= 1"),
        ({"num_round": "0"}, "num_round=0 is out of range: must be 1 <= num_round"),
        ({"num_round": "abc"}, "num_round='abc' is not an integer"),
        ({"num_round": "1.5"}, "num_round='1.5' is not an integer"),
        ({}, "hyperparameter num_round is required"),
        ({"num_round": "1", "subsample": "0"}, "must be 0 < subsample <= 1"),
        ({"num_round": "1", "eta": "nan"}, "eta='nan' is not a finite number"),
        ({"num_round": "1", "tree_method": "gpu"}, "must be one of hist, approx"),
        ({"num_round": "1", "eval_metric": "auc,rmse"}, "holds 'rmse'"),
        ({"num_round": "1", "verbose": "maybe"}, "verbose='maybe' is not a boolean"),
        ({"num_round": "1", "etaa": "0.1"}, "'etaa' is unknown (did you mean 'eta'?)"),
    ],
)
def test_bad_values_name_the_field_the_value_and_the_rule(raw: dict, message: str) -> None:
    with pytest.raises(UserError) as error:
        SCHEMA.parse(raw)
    assert message in str(error.value)


def test_lists_accept_json_and_integers_accept_float_spelling() -> None:
    values = SCHEMA.parse({"num_round": "100.0", "eval_metric": '["logloss", "auc"]'})
    assert values["num_round"] == 100
    assert values["eval_metric"] == ("logloss", "auc")
