"""Script mode on smtune's XGBoost image: gradient-boosted trees on CSV channels, across hosts.

Channels `train` and, optionally, `validation`: CSV files, label in the first column, no
header (as SageMaker's built-in XGBoost reads them), every host given all of them. Each
host keeps its share of the rows (row i goes to rank i % world size) and joins XGBoost's
collective through `entrypoints.toolkit.collective`: XGBoost then sums the hosts' gradient
histograms and metrics, so N hosts grow the trees one host would grow on all the rows.

One metric line per round, from rank 0 only (`entrypoints.toolkit.metrics`):
`[3]<TAB>train-logloss:0.41<TAB>validation-logloss:0.43`; the model is saved by rank 0 to
SM_MODEL_DIR/xgboost-model. Every host logs the digest of the model it grew, on stderr.

Run it alone: SM_CHANNEL_TRAIN=data/train python xgboost_train.py --num_round 10
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import xgboost

from smtune.entrypoints.toolkit import collective, metrics

LOGLOSS = {
    name: metrics.MetricSpec(f"{name}:logloss", f"{name}-logloss", metrics.Direction.MINIMIZE)
    for name in ("train", "validation")
}


class MetricLines(xgboost.callback.TrainingCallback):
    """One metric line per round, as it ends (Hyperband reads them while the job runs).
    XGBoost's evaluations are already summed over the hosts: each host has the same."""

    def after_iteration(self, model: xgboost.Booster, epoch: int, evals_log: dict) -> bool:
        values = {LOGLOSS[name]: scores["logloss"][-1] for name, scores in evals_log.items()}
        metrics.report(epoch, values)  # printed by rank 0 only
        return False  # go on


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_round", type=int, default=20)
    parser.add_argument("--max_depth", type=int, default=4)
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--max_bin", type=int, default=256)
    parser.add_argument("--nthread", type=int, default=1)
    parser.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    return parser.parse_args(argv)


def read_rows(folder: str, rank: int, world: int) -> tuple[np.ndarray, np.ndarray]:
    """This rank's rows of every CSV file in `folder`, in the order of the sorted names."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix == ".csv")
    if not files:
        raise SystemExit(f"no .csv file in channel folder {folder}")
    table = np.vstack([np.loadtxt(p, delimiter=",", ndmin=2) for p in files])
    mine = table[rank::world]
    return mine[:, 1:], mine[:, 0]


def main(argv: list[str]) -> None:
    args = arguments(argv)
    with collective.joined() as place:  # rank 0 of 1 on a single host
        features, labels = read_rows(os.environ["SM_CHANNEL_TRAIN"], place.rank, place.world_size)
        sets = [(xgboost.DMatrix(features, label=labels), "train")]
        if "SM_CHANNEL_VALIDATION" in os.environ:
            folder = os.environ["SM_CHANNEL_VALIDATION"]
            features, labels = read_rows(folder, place.rank, place.world_size)
            sets.append((xgboost.DMatrix(features, label=labels), "validation"))
        params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "max_depth": args.max_depth,
            "eta": args.eta,
            "min_child_weight": args.min_child_weight,
            "max_bin": args.max_bin,
            "nthread": args.nthread,
        }
        booster = xgboost.train(
            params, sets[0][0], args.num_round, evals=sets, verbose_eval=False,
            callbacks=[MetricLines()],
        )  # fmt: skip
    model = booster.save_raw(raw_format="json")
    print(f"model sha256={hashlib.sha256(model).hexdigest()}", file=sys.stderr, flush=True)
    if place.rank == 0:
        Path(args.model_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.model_dir) / "xgboost-model").write_bytes(model)


if __name__ == "__main__":
    main(sys.argv[1:])
