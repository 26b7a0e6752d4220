"""The shipped tuning job rehearsed locally, per bracket policy, against a full search.

By default this rehearses `tuning/jobs/xgboost-bank-hyperband.yaml` **as shipped**: bank
marketing, 3 hosts per job, process backend, 30 jobs, 3 at a time, MinResource 10,
MaxResource 200 = num_round; only `random_seed` changes, to each `--seeds` value (1729 is the
spec's own). An override (`--min-resource`, `--max-parallel`, `--nthread`) must be given
explicitly, and is printed first and in the table's title.

For each seed:
1. Rehearse the job once per bracket policy (`--policies`, default asha then hyperband). The
   policy does not change which configurations are drawn, so every policy tries the same 30.
2. Run those 30 configurations to MaxResource (a random search with the same draws, as many
   at a time as the rehearsal), reading each job's validation AUC after every round: its
   whole learning curve. The full search's best is the best final AUC.
3. Report per policy: Completed / Stopped / Failed, resource used as a share of the compute
   of running every job to MaxResource (`resource_used / resource_worst_case`: metric lines
   counted, over 30 x MaxResource), best AUC and its gap to the full search's best.

    .venv/bin/python bench/rehearsal_seed_job.py [--seeds 1729 7 42] [--policies asha hyperband]
        [--curves FILE.json] [--out PLOTS]

One run to MaxResource per configuration gives its AUC after every round; `--curves` keeps
them (JSON: seed -> job -> hyperparameters and AUC per round).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from smtune.containers.data.bank_marketing import prepare
from smtune.containers.local.job import JobSpec
from smtune.containers.local.process import ProcessBackend
from smtune.tuning.amt.brackets import rungs
from smtune.tuning.journal import Journal
from smtune.tuning.plan import TuningPlan
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal.accounting import Summary
from smtune.tuning.rehearsal.runner import Rehearsal
from smtune.tuning.report import rehearsal_report
from smtune.tuning.schedulers.bracket_policy import BracketPolicy
from smtune.tuning.spec import parse, read_data

SEED_SPEC = Path(__file__).resolve().parents[1] / "tuning" / "jobs" / "xgboost-bank-hyperband.yaml"


def spec_for(seed: int, overrides: dict[str, int]) -> dict:
    os.environ.setdefault("ACCOUNT", "123456789012")
    os.environ.setdefault("BUCKET", "my-bucket")
    data = copy.deepcopy(read_data(SEED_SPEC)[0])
    data["random_seed"] = seed
    if "min_resource" in overrides:
        data["strategy"]["min_resource"] = overrides["min_resource"]
    if "max_parallel" in overrides:
        data["limits"]["max_parallel_jobs"] = overrides["max_parallel"]
    if "nthread" in overrides:
        data["static_hyperparameters"]["nthread"] = overrides["nthread"]
    return data


def full_search(
    checked: TuningPlan, journal: Journal, data: Path, out: Path
) -> dict[str, list[float]]:
    """The same configurations, each trained to MaxResource: job name -> AUC after each round."""
    definition = checked.definition
    channels = Rehearsal(
        checked,
        {"train": data / "train", "validation": data / "validation"},
        out,
        journal,
        ProcessBackend(),
    ).channels
    objective = checked.objective_metric

    def train(record) -> tuple[str, list[float]]:
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
        curve = [
            v
            for line in result.leader_log.read_text().splitlines()
            if (v := objective.read(line)) is not None
        ]
        return record.name, curve

    with ThreadPoolExecutor(checked.limits.max_parallel_jobs) as pool:
        return dict(pool.map(train, journal.jobs()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1729, 7, 42])
    parser.add_argument(
        "--policies",
        nargs="+",
        choices=[p.value for p in BracketPolicy],
        default=[p.value for p in BracketPolicy],
    )
    parser.add_argument("--min-resource", type=int, help="OVERRIDE the spec's MinResource")
    parser.add_argument("--max-parallel", type=int, help="OVERRIDE the spec's max_parallel_jobs")
    parser.add_argument("--nthread", type=int, help="OVERRIDE: add XGBoost's nthread")
    parser.add_argument("--curves", type=Path, help="write the full search's curves here (JSON)")
    parser.add_argument("--out", type=Path, default=None, help="keep plots here")
    args = parser.parse_args()
    overrides = {
        k: v
        for k, v in (
            ("min_resource", args.min_resource),
            ("max_parallel", args.max_parallel),
            ("nthread", args.nthread),
        )
        if v is not None
    }
    spec_text = f"overridden: {overrides}" if overrides else "as shipped"
    print(f"spec {SEED_SPEC.name}, {spec_text}; policies {args.policies}", flush=True)
    rows = []
    curves_out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        data = prepare(None, root / "bank", shards=3).out
        for seed in args.seeds:
            checked = plan(parse(spec_for(seed, overrides)), registry="local")
            summaries: dict[str, tuple[Summary, Journal, float]] = {}
            for policy in args.policies:
                journal = Journal(root / f"journal-{seed}-{policy}.db")
                rehearsal = Rehearsal(
                    checked,
                    {"train": data / "train", "validation": data / "validation"},
                    root / f"{policy}-{seed}",
                    journal,
                    ProcessBackend(),
                    brackets=BracketPolicy(policy),
                )
                started = time.time()
                summary = rehearsal.run()
                summaries[policy] = (summary, journal, time.time() - started)
                print(f"seed {seed} {policy}: {summary.to_json()}", flush=True)
                if args.out:
                    assert checked.hyperband is not None  # the seed's job is Hyperband
                    rehearsal_report(
                        journal,
                        args.out / f"seed-{seed}-{policy}",
                        f"seed {seed}, {policy}",
                        rungs(checked.hyperband.min_resource, checked.hyperband.max_resource),
                        True,
                    )
            drawn = {p: [r.hyperparameters for r in j.jobs()] for p, (_, j, _) in summaries.items()}
            assert len({json.dumps(d, sort_keys=True) for d in drawn.values()}) == 1, (
                "the policies drew different configurations"
            )
            first = summaries[args.policies[0]][1]
            started = time.time()
            curves = full_search(checked, first, data, root / f"full-{seed}")
            full_wall = time.time() - started
            full_best = max(c[-1] for c in curves.values())
            curves_out[str(seed)] = {
                r.name: {"hyperparameters": r.hyperparameters, "auc": curves[r.name]}
                for r in first.jobs()
            }
            print(f"seed {seed} full search: best {full_best:.4f}, {full_wall:.0f} s", flush=True)
            for policy, (summary, _, wall) in summaries.items():
                rows.append(
                    {
                        "seed": seed,
                        "policy": policy,
                        "jobs": summary.to_json()["jobs"],  # by status value
                        "share": summary.resource_used / summary.resource_worst_case,
                        "best": summary.best_objective,
                        "full": full_best,
                        "wall": wall,
                        "full wall": full_wall,
                    }
                )
    if args.curves:
        args.curves.write_text(json.dumps(curves_out) + "\n")
    print(f"\nspec {SEED_SPEC.name}, {spec_text}\n")
    print(
        "| seed | policy | Completed / Stopped / Failed | resource used / worst case | "
        "best AUC, rehearsal | best AUC, full search | Δ | rehearsal wall | full search wall |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        jobs = r["jobs"]
        print(
            f"| {r['seed']} | {r['policy']} | {jobs.get('Completed', 0)} / "
            f"{jobs.get('Stopped', 0)} / {jobs.get('Failed', 0)} | {100 * r['share']:.1f}% | "
            f"{r['best']:.4f} | {r['full']:.4f} | {round(r['best'] - r['full'], 4) + 0.0:+.4f} | "
            f"{r['wall']:.0f} s | {r['full wall']:.0f} s |"
        )


if __name__ == "__main__":
    main()
