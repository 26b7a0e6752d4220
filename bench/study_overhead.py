"""What `smtune study` costs over the rehearsals and baseline jobs it runs.

The synthetic trainer (a job is little more than its processes starting) at sizes 1 and 2,
`--max-jobs` tuning jobs per size: (a) the parts alone, each baseline as `backend.run` and
each tuning job as a `Rehearsal`; (b) the whole study in process: the study file read and
checked at every size, the journal, the steps, the report with its plots. The difference,
per training job, is what the study adds. Runs alternate; medians are reported.

    .venv/bin/python bench/study_overhead.py [--repeats 3] [--max-jobs 8]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from smtune.containers.local.process import ProcessBackend
from smtune.tuning.study import report
from smtune.tuning.study import tuning_seam as seam
from smtune.tuning.study.model import read
from smtune.tuning.study.run import StudyRun, check_inputs, open_journal
from smtune.tuning.yaml_files import parse as parse_yaml

REPO = Path(__file__).resolve().parents[1]
SIZES = (1, 2)


def study_file(folder: Path) -> Path:
    spec = parse_yaml((REPO / "tuning" / "jobs" / "synthetic-hyperband.yaml").read_text())
    spec["static_hyperparameters"]["seconds_per_epoch"] = 0
    data = {
        "name": "overhead-study",
        "image": "synthetic",
        "baseline": {"hyperparameters": {"epochs": 27, "x": 0.9, "seconds_per_epoch": 0}},
        "sizes": list(SIZES),
        "tuning": spec,
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def parts(path: Path, channels: dict[str, Path], out: Path, max_jobs: int) -> float:
    """The baselines and rehearsals alone, as `smtune train` and `tune rehearse` run them."""
    study = read(path)  # not timed: the study's own checks are part of (b)
    started = time.perf_counter()
    backend = ProcessBackend()
    for hosts in SIZES:
        checked = study.plan_at(hosts)
        job = seam.baseline_job(checked, study.baseline, hosts, channels, out / f"b{hosts}")
        backend.run(job)
    for hosts in SIZES:
        seam.rehearse(
            study.plan_at(hosts), channels, out / f"t{hosts}", backend, max_jobs, lambda _: None
        )
    return time.perf_counter() - started


def whole(path: Path, channels: dict[str, Path], out: Path, max_jobs: int) -> float:
    started = time.perf_counter()
    study = read(path)
    check_inputs(study, channels, SIZES)
    journal = open_journal(study, out, resume=False)
    result = StudyRun(study, channels, out, journal, ProcessBackend(), SIZES, max_jobs).run()
    journal.close()
    report.write(study, result, out)
    return time.perf_counter() - started


def main() -> None:
    options = argparse.ArgumentParser()
    options.add_argument("--repeats", type=int, default=3)
    options.add_argument("--max-jobs", type=int, default=8)
    args = options.parse_args()
    jobs = len(SIZES) * (1 + args.max_jobs)  # a baseline and the tuning jobs per size
    alone, studied = [], []
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        (root / "train").mkdir()
        (root / "train" / "a.csv").write_text("1,1\n")
        channels = {"train": root / "train"}
        path = study_file(root)
        for repeat in range(args.repeats):
            alone.append(parts(path, channels, root / f"parts-{repeat}", args.max_jobs))
            studied.append(whole(path, channels, root / f"study-{repeat}", args.max_jobs))
    a, b = statistics.median(alone), statistics.median(studied)
    print(f"training jobs per run: {jobs}")
    print(f"parts alone: median {a:.2f} s  ({', '.join(f'{x:.2f}' for x in alone)})")
    print(f"whole study: median {b:.2f} s  ({', '.join(f'{x:.2f}' for x in studied)})")
    print(f"study overhead per training job: {(b - a) / jobs:.3f} s")


if __name__ == "__main__":
    main()
