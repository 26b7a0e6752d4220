"""The hyperparameters the XGBoost image accepts: the built-in algorithm's common ones."""

from __future__ import annotations

from smtune.entrypoints.contract.hyperparameters import (
    Boolean,
    Categorical,
    CategoricalList,
    Continuous,
    HyperparameterSchema,
    Integer,
    Interval,
)

UNIT = Interval(0, 1)
FRACTION = Interval(0, 1, low_open=True)  # (0, 1]: a sampling rate of 0 samples nothing
NON_NEGATIVE = Interval(0)
POSITIVE = Interval(0, low_open=True)

OBJECTIVES = (
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:logistic",
    "reg:pseudohubererror",
    "reg:absoluteerror",
    "reg:gamma",
    "reg:tweedie",
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
)

# Metric name -> larger is better. The image prints train-<m> and validation-<m> per round.
EVAL_METRICS = {
    "auc": True,
    "aucpr": True,
    "ndcg": True,
    "map": True,
    "logloss": False,
    "error": False,
    "rmse": False,
    "rmsle": False,
    "mae": False,
    "mape": False,
    "mphe": False,
    "mlogloss": False,
    "merror": False,
    "poisson-nloglik": False,
    "gamma-nloglik": False,
    "tweedie-nloglik": False,
}

SCHEMA = HyperparameterSchema(
    [
        Integer("num_round", required=True, interval=Interval(1)),
        Continuous("eta", default=0.3, interval=UNIT),
        Continuous("gamma", default=0.0, interval=NON_NEGATIVE),
        Integer("max_depth", default=6, interval=NON_NEGATIVE),
        Continuous("min_child_weight", default=1.0, interval=NON_NEGATIVE),
        Continuous("max_delta_step", default=0.0, interval=NON_NEGATIVE),
        Continuous("subsample", default=1.0, interval=FRACTION),
        Continuous("colsample_bytree", default=1.0, interval=FRACTION),
        Continuous("colsample_bylevel", default=1.0, interval=FRACTION),
        Continuous("colsample_bynode", default=1.0, interval=FRACTION),
        Continuous("lambda", default=1.0, interval=NON_NEGATIVE),
        Continuous("alpha", default=0.0, interval=NON_NEGATIVE),
        Categorical("tree_method", default="hist", choices=("auto", "exact", "approx", "hist")),
        Categorical("grow_policy", default="depthwise", choices=("depthwise", "lossguide")),
        Integer("max_leaves", default=0, interval=NON_NEGATIVE),
        Integer("max_bin", default=256, interval=Interval(2)),
        Categorical("objective", default="reg:squarederror", choices=OBJECTIVES),
        Integer("num_class", default=None, interval=Interval(2)),
        Continuous("base_score", default=None),
        Continuous("scale_pos_weight", default=1.0, interval=POSITIVE),
        Continuous("tweedie_variance_power", default=1.5, interval=Interval(1, 2, True, True)),
        CategoricalList("eval_metric", default=None, choices=tuple(EVAL_METRICS)),
        Integer("seed", default=0),
        Integer("early_stopping_rounds", default=None, interval=Interval(1)),
        Integer("nthread", default=None, interval=Interval(1)),
        # Rounds between checkpoints (written only when the job has a CheckpointConfig);
        # a killed job redoes at most this many minus one.
        Integer("checkpoint_frequency", default=10, interval=Interval(1)),
        Boolean("save_model_on_termination", default=True),
        Integer("verbosity", default=1, interval=Interval(0, 3)),
    ]
)

# Hyperparameters that are ours, not XGBoost's: they steer the entrypoint, not the booster.
ENTRYPOINT_ONLY = {
    "num_round",
    "early_stopping_rounds",
    "checkpoint_frequency",
    "save_model_on_termination",
}

DEFAULT_EVAL_METRIC = {
    "binary": "logloss",
    "multi": "mlogloss",
    "rank": "map",
    "count": "poisson-nloglik",
    "reg:gamma": "gamma-nloglik",
    "reg:tweedie": "tweedie-nloglik",
}


def eval_metrics(values: dict) -> tuple[str, ...]:
    """The eval_metric list, or XGBoost's default for the objective."""
    if values["eval_metric"]:
        return tuple(values["eval_metric"])
    objective = values["objective"]
    for prefix, metric in DEFAULT_EVAL_METRIC.items():
        if objective.startswith(prefix):
            return (metric,)
    return ("rmse",)
