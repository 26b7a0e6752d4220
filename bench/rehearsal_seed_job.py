"""The seed's tuning job rehearsed locally: Hyperband's resource and result vs a full search.

For each seed: rehearse the seed's job (bank marketing, 3 hosts per job, process backend,
30 jobs, 4 at a time, MinResource 1, MaxResource 200 = num_round), then run the same 30
configurations to the full 200 rounds (a random search with the same draws) and compare the
best validation AUC and the resource spent. Also reports the tuner's overhead per job: wall
time of the rehearsal not spent inside training processes.

    .venv/bin/python bench/rehearsal_seed_job.py [--seeds 1729 7 42] [--out DIR]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from containers.data.bank_marketing import prepare
from containers.local.job import JobSpec
from containers.local.process import ProcessBackend
from tuning.journal import Journal
from tuning.rehearsal import Rehearsal
from tuning.report import rehearsal_report
from tuning.request import plan
from tuning.spec import parse, read_data

SEED_SPEC = Path(__file__).resolve().parents[1] / "tuning" / "jobs" / "xgboost-bank-hyperband.yaml"


def spec_for(seed: int) -> dict:
    os.environ.setdefault("ACCOUNT", "123456789012")
    os.environ.setdefault("BUCKET", "my-bucket")
    data = read_data(SEED_SPEC)[0]
    data = copy.deepcopy(data)
    data["random_seed"] = seed
    data["strategy"] = {"type": "Hyperband", "min_resource": 1, "max_resource": 200}
    data["limits"]["max_parallel_jobs"] = 4
    data["static_hyperparameters"]["nthread"] = 1  # 12 hosts share 2 cores
    return data


def full_search(checked, journal: Journal, data: Path, out: Path) -> dict[str, float]:
    """The same configurations, each trained to MaxResource: the best a random search finds."""
    definition = checked.definition
    channels = Rehearsal(
        checked,
        {"train": data / "train", "validation": data / "validation"},
        out,
        journal,
        ProcessBackend(),
    ).channels
    objective = checked.objective_metric

    def train(record) -> tuple[str, float]:
        tuned = {
            k: repr(v) if isinstance(v, float) else str(v)
            for k, v in record.hyperparameters.items()
        }
        spec = JobSpec(
            image=definition.image,
            host_count=definition.instance.count,
            channels=channels,
            hyperparameters={**definition.static_hyperparameters, **tuned},
            out=out / record.name,
            checkpoints=definition.checkpoint_uri is not None,  # as the rehearsal's jobs
        )
        result = ProcessBackend().run(spec)
        values = [
            v
            for line in result.leader_log.read_text().splitlines()
            if (v := objective.read(line)) is not None
        ]
        return record.name, values[-1]

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(train, journal.jobs()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1729, 7, 42])
    parser.add_argument("--out", type=Path, default=None, help="keep plots here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        data = prepare(None, root / "bank", shards=3).out
        for seed in args.seeds:
            checked = plan(parse(spec_for(seed)), registry="local")
            journal = Journal(root / f"journal-{seed}.db")
            rehearsal = Rehearsal(
                checked,
                {"train": data / "train", "validation": data / "validation"},
                root / f"hb-{seed}",
                journal,
                ProcessBackend(),
            )
            started = time.time()
            summary = rehearsal.run()
            hyperband_wall = time.time() - started
            in_training = sum(((r.ended or 0) - (r.started or 0)) for r in journal.jobs())
            full = full_search(checked, journal, data, root / f"full-{seed}")
            rows.append(
                {
                    "seed": seed,
                    "jobs": summary.to_json()["jobs"],  # by status value
                    "resource %": 100 * summary.resource_used / summary.resource_worst_case,
                    "hyperband best": summary.best_objective,
                    "full search best": max(full.values()),
                    "hyperband wall s": hyperband_wall,
                    "overhead per job s": (hyperband_wall * 4 - in_training) / len(journal.jobs()),
                }
            )
            if args.out:
                rehearsal_report(
                    journal, args.out / f"seed-{seed}", f"seed {seed}", (1, 3, 9, 27, 81, 200), True
                )
            print(rows[-1], flush=True)
    print(
        "\n| seed | Completed / Stopped / Failed | resource used | best AUC, Hyperband | "
        "best AUC, full search | Δ | rehearsal wall |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        jobs = r["jobs"]
        print(
            f"| {r['seed']} | {jobs.get('Completed', 0)} / {jobs.get('Stopped', 0)} / "
            f"{jobs.get('Failed', 0)} | {r['resource %']:.1f}% | {r['hyperband best']:.4f} | "
            f"{r['full search best']:.4f} | {r['hyperband best'] - r['full search best']:+.4f} | "
            f"{r['hyperband wall s']:.0f} s |"
        )
    overheads = [r["overhead per job s"] for r in rows]
    print(
        f"\ntuner overhead per job (4 slots x wall - time inside jobs, per job): "
        f"median {statistics.median(overheads):.2f} s"
    )


if __name__ == "__main__":
    main()
