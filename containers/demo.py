"""`smtune demo`: the seed's experiment, done right.

The AWS study saw XGBoost's validation AUC fall from 0.78 to 0.63 when the same job went
from 1 to 3 instances. Here the bank-marketing job runs on 1 host and on 3 hosts with
the train channel sharded, and both should reach the same AUC.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smtune.containers.catalogue import image
from smtune.containers.data.bank_marketing import prepare
from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.config import S3DistributionType

# The seed notebook's static hyperparameters.
NOTEBOOK_HYPERPARAMETERS = {
    "num_round": "150",
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "eta": "0.3",
    "colsample_bylevel": "0.5",
    "colsample_bytree": "0.8",
    "tree_method": "hist",
}


@dataclass(frozen=True)
class DemoRow:
    hosts: int
    status: JobStatus
    wall_seconds: float
    validation_auc: float | None


def final_validation_auc(log: Path) -> float | None:
    spec = next(s for s in image("xgboost").metric_specs if s.name == "validation:auc")
    values = [v for line in log.read_text().splitlines() if (v := spec.read(line)) is not None]
    return values[-1] if values else None


def run_demo(out: Path, host_counts: tuple[int, ...] = (1, 3)) -> list[DemoRow]:
    data = prepare(None, out / "data", shards=max(host_counts))
    rows = []
    for hosts in host_counts:
        spec = JobSpec(
            image=image("xgboost"),
            host_count=hosts,
            channels={
                "train": ChannelSource(
                    "train", data.out / "train", S3DistributionType.SHARDED_BY_S3_KEY
                ),
                "validation": ChannelSource("validation", data.out / "validation"),
            },
            hyperparameters=NOTEBOOK_HYPERPARAMETERS,
            out=out / f"{hosts}-hosts",
        )
        result = ProcessBackend().run(spec)
        auc = final_validation_auc(result.leader_log)
        rows.append(DemoRow(hosts, result.status, result.wall_seconds, auc))
    return rows


def table(rows: list[DemoRow]) -> str:
    lines = ["| hosts | status | wall time (s) | final validation AUC |", "|---|---|---|---|"]
    for row in rows:
        auc = f"{row.validation_auc:.4f}" if row.validation_auc is not None else "n/a"
        lines.append(f"| {row.hosts} | {row.status.value} | {row.wall_seconds:.1f} | {auc} |")
    return "\n".join(lines)
