"""Distributed XGBoost under the SageMaker contract.

`main` reads what SageMaker wrote, validates hyperparameters and data, joins the other
hosts (if any), and boosts round by round with its own loop rather than `xgboost.train`:
the loop agrees on SIGTERM across hosts before each round, prints the leader's metric line,
and, when the job has a CheckpointConfig, checkpoints so that a resumed job ends with the
model an uninterrupted one would have (see `Segments`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from smtune.entrypoints.contract.config import Channel, TrainingEnvironment
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.contract.hosts import LostHostWatch
from smtune.entrypoints.contract.lifecycle import StopFlag, crash_error, stoppable
from smtune.entrypoints.contract.metrics import MetricLine
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.contract.topology import Topology
from smtune.entrypoints.xgboost import checkpoints
from smtune.entrypoints.xgboost.data import Table, host_share, read_channel
from smtune.entrypoints.xgboost.distributed import cluster, collective_error
from smtune.entrypoints.xgboost.hyperparameters import (
    ENTRYPOINT_ONLY,
    EVAL_METRICS,
    SCHEMA,
    eval_metrics,
)
from smtune.entrypoints.xgboost.metrics import METRIC_SPECS

logger = logging.getLogger(__name__)

MODEL_NAME = "xgboost-model"
_LABEL_RULES = {  # objective prefix -> (low, high, rule); labels checked before training
    "binary:": (0.0, 1.0, "must be 0 <= label <= 1"),
    "reg:logistic": (0.0, 1.0, "must be 0 <= label <= 1"),
    "count:poisson": (0.0, math.inf, "must be label >= 0"),
    "reg:tweedie": (0.0, math.inf, "must be label >= 0"),
}


@dataclass
class HostData:
    """This host's share of each channel."""

    train: Table
    validation: Table | None

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for name, table in (("train", self.train), ("validation", self.validation)):
            if table is not None:
                info |= {
                    f"{name}_rows": table.rows,
                    f"{name}_columns": table.columns,
                    f"{name}_file": table.source,
                    f"{name}_sparse": table.sparse,
                }
        return info


def check_hyperparameters(hp: dict[str, Any], world_size: int) -> None:
    """Rules that span several hyperparameters, or depend on the cluster."""
    if hp["objective"].startswith("multi:") and hp["num_class"] is None:
        raise UserError(f"objective={hp['objective']} needs num_class: set num_class >= 2")
    if hp["tree_method"] == "exact" and world_size > 1:
        raise UserError(
            f"tree_method=exact does not train across hosts (this job has {world_size}): "
            "use tree_method=hist or approx"
        )


def load_host_data(env: TrainingEnvironment, hp: dict[str, Any]) -> HostData:
    resource = env.resource
    train_channel = env.required_channel("train")
    validation_channel = env.channels.get("validation")
    data = HostData(
        train=_read_share(train_channel, resource.rank, len(resource.hosts)),
        validation=(
            _read_share(validation_channel, resource.rank, len(resource.hosts))
            if validation_channel is not None
            else None
        ),
    )
    for name, table in (("train", data.train), ("validation", data.validation)):
        if table is not None:
            _check_labels(name, table, hp)
    return data


def _read_share(channel: Channel, rank: int, world_size: int) -> Table:
    return host_share(channel, read_channel(channel), rank, world_size)


def _check_labels(channel: str, table: Table, hp: dict[str, Any]) -> None:
    if not table.rows:
        return
    labels = table.labels
    if not np.isfinite(labels).all():
        raise UserError(f"{channel} data has a missing or infinite label: every row needs one")
    objective = hp["objective"]
    if objective.startswith("multi:"):
        bad = labels[(labels < 0) | (labels >= hp["num_class"]) | (labels != np.floor(labels))]
        if bad.size:
            raise UserError(
                f"{channel} label {bad[0]:g} does not fit objective={objective}: must be an "
                f"integer 0 <= label < num_class={hp['num_class']}"
            )
        return
    for prefix, (low, high, rule) in _LABEL_RULES.items():
        if objective.startswith(prefix):
            bad = labels[(labels < low) | (labels > high)]
            if bad.size:
                raise UserError(
                    f"{channel} label {bad[0]:g} does not fit objective={objective}: {rule}"
                )


def check_totals(infos: dict[str, dict[str, Any]]) -> None:
    """Rules over every host's data together: no rows at all, columns that disagree."""
    for channel in ("train", "validation"):
        shares = {h: i for h, i in infos.items() if f"{channel}_rows" in i}
        if not shares:
            continue
        if sum(i[f"{channel}_rows"] for i in shares.values()) == 0:
            raise UserError(
                f"channel {channel} has no rows on any host: check its S3 prefix holds data files"
            )
        widths = {i[f"{channel}_columns"] for i in shares.values() if i[f"{channel}_rows"]}
        if len(widths) > 1:
            described = ", ".join(
                f"{h}: {i[f'{channel}_columns']}"
                for h, i in sorted(shares.items())
                if i[f"{channel}_rows"]
            )
            raise UserError(
                f"channel {channel} has different feature counts on different hosts "
                f"({described}): every file must have the same columns"
            )
    _check_validation_width(infos)


def _check_validation_width(infos: dict[str, dict[str, Any]]) -> None:
    """Validation rows must have train's features, or XGBoost scores rows whose missing columns
    it takes for absent values: a number a tuning job would optimise. Dense (CSV): the same
    count. Sparse (libsvm), where a width is only the highest index used: no higher than train's.
    """
    train = [i for i in infos.values() if i.get("train_rows")]
    if not train:
        return
    width = max(i["train_columns"] for i in train)  # equal for CSV, checked above
    for info in infos.values():
        if not info.get("validation_rows"):
            continue
        columns, file = info["validation_columns"], info["validation_file"]
        if not info["validation_sparse"] and columns != width:
            raise UserError(
                f"channel validation file {file} has {columns} feature columns, train has "
                f"{width}: every channel must have train's columns, in its order"
            )
        if info["validation_sparse"] and columns > width:
            raise UserError(
                f"channel validation file {file} uses feature index {columns - 1}, train's "
                f"highest is {width - 1}: a libsvm validation row may leave out features, "
                "not use one train has none of"
            )


def booster_params(hp: dict[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in hp.items() if k not in ENTRYPOINT_ONLY and v is not None}
    params["eval_metric"] = list(eval_metrics(hp))
    if not hp["objective"].startswith("reg:tweedie"):
        params.pop("tweedie_variance_power")
    return params


def samples_randomly(hp: dict[str, Any]) -> bool:
    return any(hp[k] < 1 for k in ("subsample", *SAMPLING_RATES))


SAMPLING_RATES = ("colsample_bytree", "colsample_bylevel", "colsample_bynode")


def _parse_eval(text: str) -> dict[str, float]:
    """`[3]\ttrain-auc:0.91\tvalidation-auc:0.78` -> {"train:auc": 0.91, ...}."""
    values = {}
    for field in text.split("\t")[1:]:
        key, _, value = field.rpartition(":")
        channel, _, metric = key.partition("-")
        values[f"{channel}:{metric}"] = float(value)
    return values


class EarlyStop:
    """XGBoost's rule: stop when the last metric on validation has not improved for N rounds."""

    def __init__(self, rounds: int, metric: str) -> None:
        self.rounds = rounds
        self.name = f"validation:{metric}"
        self.maximize = EVAL_METRICS[metric]
        self.best_round = -1
        self.best: float | None = None

    def update(self, round_: int, values: dict[str, float]) -> bool:
        value = values[self.name]
        better = self.best is None or (value > self.best if self.maximize else value < self.best)
        if better:
            self.best, self.best_round = value, round_
        return round_ - self.best_round >= self.rounds


class Segments:
    """Owns the booster, so that a resumed job grows exactly the trees an uninterrupted one does.

    XGBoost's row and column samplers draw from random state that lives inside the booster
    and is not saved in a model file; `seed_per_iteration` does not reach it. So when the
    job samples, every checkpoint starts a new segment: a fresh booster, loaded from the
    checkpoint's bytes and seeded with seed + round. A job resumed from that checkpoint
    builds the very same booster. Without sampling, boosting continues from a loaded
    model exactly, and one booster serves the whole job.

    A fresh booster predicts every tree so far on its cached matrices at its first round,
    so segments cost time (a third more on bank marketing at 150 rounds, every 10): they
    exist only where the job checkpoints. Without a CheckpointConfig one booster serves the
    job, whose trees are then those of one `xgboost.train` call with the same seed.
    """

    def __init__(self, hp: dict[str, Any], cache: list[Any]) -> None:
        self.hp = hp
        self.cache = cache
        self.reseed = samples_randomly(hp)

    def start(self, round_: int, model: bytes | None) -> Any:
        import xgboost as xgb

        params = booster_params(self.hp)
        if self.reseed:
            params["seed"] = self.hp["seed"] + round_
        booster = xgb.Booster(params, self.cache)
        if model is not None:
            booster.load_model(bytearray(model))
        return booster

    def after_checkpoint(self, booster: Any, round_: int, model: bytes) -> Any:
        return self.start(round_, model) if self.reseed else booster


def boost(
    env: TrainingEnvironment,
    hp: dict[str, Any],
    data: HostData,
    stop: StopFlag,
    distributed: bool,
) -> None:
    import xgboost as xgb
    from xgboost import collective

    leader = env.resource.is_leader
    dtrain = xgb.DMatrix(data.train.features, label=data.train.labels, missing=np.nan)
    evals = [(dtrain, "train")]
    if data.validation is not None:
        dvalidation = xgb.DMatrix(
            data.validation.features, label=data.validation.labels, missing=np.nan
        )
        evals.append((dvalidation, "validation"))
    # Checkpoints only where the job has a CheckpointConfig, the only folder a later job can
    # resume from; with sampling each one restarts the booster (Segments), at a cost.
    checkpointing = env.checkpointing
    # Every host reads the leader's checkpoint, so that all resume from the same model.
    resume = checkpoints.newest(env.checkpoint_dir) if leader and checkpointing else None
    if distributed:
        resume = collective.broadcast((resume,), 0)[0]  # a bare None cannot be broadcast
    start, model = resume if resume is not None else (0, None)
    if resume is not None:
        logger.info("resuming from the checkpoint after round %d", start)
    segments = Segments(hp, [d for d, _ in evals])
    booster = segments.start(start, model)
    early = (
        EarlyStop(hp["early_stopping_rounds"], eval_metrics(hp)[-1])
        if hp["early_stopping_rounds"] and data.validation is not None
        else None
    )
    printer = MetricLine(METRIC_SPECS)
    for round_ in range(start, hp["num_round"]):
        if _stop_requested(stop, distributed):
            logger.warning("stopping before round %d: the job was asked to stop", round_)
            break
        booster.update(dtrain, iteration=round_)
        values = _parse_eval(booster.eval_set(evals, round_))
        if leader:
            printer.emit(round_, values)
        if early is not None and early.update(round_, values):
            logger.info("early stopping: best %s at round %d", early.name, early.best_round)
            booster.set_attr(best_iteration=str(early.best_round), best_score=str(early.best))
            break
        done = round_ + 1
        if checkpointing and done % hp["checkpoint_frequency"] == 0 and done < hp["num_round"]:
            snapshot = bytes(booster.save_raw("ubj"))
            if leader:
                checkpoints.save(env.checkpoint_dir, done, snapshot)
            booster = segments.after_checkpoint(booster, done, snapshot)
    final = bytes(booster.save_raw("ubj"))
    rounds = booster.num_boosted_rounds()
    if leader and checkpointing and not stop.is_set():
        # Saved as round num_round even after early stopping: a rerun has nothing left to do.
        checkpoints.save(env.checkpoint_dir, hp["num_round"], final)
    if leader and (not stop.is_set() or hp["save_model_on_termination"]):
        env.paths.model.mkdir(parents=True, exist_ok=True)
        (env.paths.model / MODEL_NAME).write_bytes(final)
        logger.info("saved the model after %d rounds", rounds)


def _stop_requested(stop: StopFlag, distributed: bool) -> bool:
    """Whether any host was asked to stop: all hosts must leave the loop at the same round."""
    if not distributed:
        return stop.is_set()
    from xgboost import collective

    flag = np.array([1.0 if stop.is_set() else 0.0])
    return bool(collective.allreduce(flag, collective.Op.MAX)[0])


def main(paths: ContainerPaths, stop: StopFlag) -> None:
    env = TrainingEnvironment.load(paths)
    topology = Topology.from_environment(env.resource)
    hp = SCHEMA.parse(env.hyperparameters)
    check_hyperparameters(hp, topology.world_size)
    if topology.world_size == 1:
        with stoppable():  # a long read has no round at which to check the flag
            data = load_host_data(env, hp)
        check_totals({env.resource.current_host: data.info()})
        boost(env, hp, data, stop, distributed=False)
        return
    try:
        with stoppable():
            data = load_host_data(env, hp)
    except Exception as exc:
        # Any error, not only bad input: join anyway, so that the other hosts fail now with
        # this reason, not at the rendezvous timeout blaming the network.
        error = crash_error(exc)
        with cluster(topology, paths, {}, error, check=check_totals):
            pass
        raise  # not reached: cluster() raises `error` after the rendezvous
    with cluster(topology, paths, data.info(), None, check=check_totals) as watch:
        _boost_or_name_the_lost_host(env, hp, data, stop, watch)


def _boost_or_name_the_lost_host(
    env: TrainingEnvironment,
    hp: dict[str, Any],
    data: HostData,
    stop: StopFlag,
    watch: LostHostWatch,
) -> None:
    from xgboost.core import XGBoostError

    try:
        boost(env, hp, data, stop, distributed=True)
    except XGBoostError as exc:
        raise collective_error(watch, exc) from exc
