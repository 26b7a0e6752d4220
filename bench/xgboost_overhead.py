"""How much `smtune train xgboost --hosts 1` costs over plain `xgboost.train` on the same data.

Measures, interleaving the variants and repeating each, for a small and a bank-size dataset:

- wall: whole-process wall time of `smtune train xgboost --hosts 1 --quiet` vs a minimal
  script (np.loadtxt, DMatrix, xgboost.train with verbose_eval=True);
- first line: time from process start to the first `[0]\\t...` metric line on stdout;
- wall with `--checkpoints`: what a CheckpointConfig costs (with sampling, a fresh booster
  at every checkpoint);

and, for explaining the difference, the start-up costs of a Python interpreter and the
imports each variant needs. Both variants run with the same OMP_NUM_THREADS.

    .venv/bin/python bench/xgboost_overhead.py [--repeats 5] [--threads N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smtune.containers.demo import NOTEBOOK_HYPERPARAMETERS

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("entrypoints", "containers", "tuning")
CHECKPOINTED = "smtune --checkpoints"
SMTUNE = str(Path(PYTHON).with_name("smtune"))
FIRST_LINE = re.compile(r"^\[0\]\t")
# The seed notebook's hyperparameters, but the number of rounds (set per data size).
PARAMS = {k: v for k, v in NOTEBOOK_HYPERPARAMETERS.items() if k != "num_round"}
SIZES = {"small": (2000, 500, 20), "bank": (None, None, 150)}  # train rows, validation rows, rounds

BASELINE = """\
import json, sys
import numpy as np
import xgboost as xgb

train, validation, params, rounds = sys.argv[1:]


def load(path):
    array = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
    return xgb.DMatrix(array[:, 1:], label=array[:, 0], missing=np.nan)


dtrain, dvalidation = load(train), load(validation)
evals = [(dtrain, "train"), (dvalidation, "validation")]
xgb.train(json.loads(params), dtrain, int(rounds), evals=evals, verbose_eval=True)
"""

STARTUP = {  # name -> command; what each variant pays before it reads any data
    "python -c pass": [PYTHON, "-c", "pass"],
    "python -c 'import xgboost'": [PYTHON, "-c", "import xgboost"],
    # The same without Python's teardown, as the image's process ends (exit_process).
    "python -c 'import xgboost; os._exit(0)'": [
        PYTHON,
        "-c",
        "import os, xgboost; os._exit(0)",
    ],
    "python -c 'import smtune.tuning.cli' (smtune CLI)": [PYTHON, "-c", "import smtune.tuning.cli"],
    "python -c 'import smtune.entrypoints.xgboost.train'": [
        PYTHON,
        "-c",
        "import smtune.entrypoints.xgboost.train",
    ],
    "smtune --help": [SMTUNE, "--help"],
}


def make_data(root: Path) -> dict[str, tuple[Path, Path, int]]:
    """Each size -> (train file, validation file, rounds), sliced from bank-marketing."""
    bank = root / "bank-marketing"
    subprocess.run(
        [SMTUNE, "data", "bank-marketing", "--out", str(bank), "--shards", "1"],
        check=True,
        capture_output=True,
    )
    data = {}
    for size, (train_rows, validation_rows, rounds) in SIZES.items():
        files = []
        for channel, rows in (("train", train_rows), ("validation", validation_rows)):
            source = next((bank / channel).glob("*.csv"))
            target = root / size / channel / source.name
            target.parent.mkdir(parents=True)
            lines = source.read_text().splitlines(keepends=True)
            target.write_text("".join(lines[:rows]))
            files.append(target)
        data[size] = (files[0], files[1], rounds)
    return data


def commands(
    variant: str, data: tuple[Path, Path, int], root: Path, out: str, quiet: bool
) -> list[str]:
    train, validation, rounds = data
    if variant == "baseline":
        return [PYTHON, str(root / "baseline.py"), str(train), str(validation),
                json.dumps(PARAMS), str(rounds)]  # fmt: skip
    hps = [f"--hp={k}={v}" for k, v in {"num_round": rounds, **PARAMS}.items()]
    return [SMTUNE, "train", "xgboost", "--hosts", "1", "--backend", "process",
            "--train", str(train.parent), "--validation", str(validation.parent),
            *hps, "--out", str(root / out), *(["--quiet"] if quiet else []),
            *(["--checkpoints"] if variant == CHECKPOINTED else [])]  # fmt: skip


def wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def first_line(command: list[str], env: dict[str, str]) -> float:
    """Seconds from start to the first `[0]\\t` line on stdout; the process then runs out."""
    start = time.perf_counter()
    found = None
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if found is None and FIRST_LINE.match(line):
                found = time.perf_counter() - start
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"{command[:3]} exited {process.returncode}, first line {found}")
    return found


def measure(repeats: int, threads: int, root: Path) -> dict[tuple[str, ...], list[float]]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    # Current bytecode for the project, as an installed package has: where
    # PYTHONDONTWRITEBYTECODE is set, a stale .pyc would be recompiled on every run.
    subprocess.run([PYTHON, "-m", "compileall", "-q", *PACKAGES], cwd=ROOT, check=True)
    (root / "baseline.py").write_text(BASELINE)
    data = make_data(root)
    samples: dict[tuple[str, ...], list[float]] = {}
    runs = 0
    for size in SIZES:  # one untimed run of each: page cache and bytecode warm for all
        for variant in ("smtune", "baseline"):
            wall(commands(variant, data[size], root, f"warm-{size}-{variant}", True), env)
    for repeat in range(repeats):
        # Alternate which variant goes first, so drift on a noisy machine hits both alike.
        variants = ("smtune", "baseline") if repeat % 2 == 0 else ("baseline", "smtune")
        for size in SIZES:
            for variant in variants:
                for what, run, quiet in (("wall", wall, True), ("first line", first_line, False)):
                    runs += 1
                    command = commands(variant, data[size], root, f"out-{runs}", quiet)
                    samples.setdefault((size, what, variant), []).append(run(command, env))
            # What a CheckpointConfig costs (checkpoints, and with sampling a fresh booster at
            # each): wall time only, against the same baseline.
            runs += 1
            command = commands(CHECKPOINTED, data[size], root, f"out-{runs}", True)
            samples.setdefault((size, "wall", CHECKPOINTED), []).append(wall(command, env))
        for name, command in STARTUP.items():
            samples.setdefault(("startup", name), []).append(wall(command, env))
    return samples


def report(samples: dict[tuple[str, ...], list[float]], repeats: int, threads: int) -> str:
    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.3f} ({min(values):.3f})"

    goals = {("small", "wall"): "ratio ≤ 1.25x", ("small", "first line"): "smtune ≤ 1.5 s"}
    rows = [
        f"{repeats} repeats, OMP_NUM_THREADS={threads}; seconds, median (min). ratio: the "
        "median of each repeat's smtune / baseline, run seconds apart [the ratio of "
        "the medians, of the mins]; the wall goal is judged on the first, the paired ratio",
        "",
        "| data | measure | smtune | baseline | ratio | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, (train_rows, _, rounds) in SIZES.items():
        for what, variant in (("wall", "smtune"), ("first line", "smtune"), ("wall", CHECKPOINTED)):
            ours = samples[(size, what, variant)]
            base = samples[(size, what, "baseline")]
            # Paired: the machine's speed drifts over a run more than the overhead measured.
            paired = statistics.median(o / b for o, b in zip(ours, base, strict=True))
            ratios = f"{statistics.median(ours) / statistics.median(base):.2f}x, "
            ratios += f"{min(ours) / min(base):.2f}x"
            goal = goals.get((size, what), "") if variant == "smtune" else ""
            met = paired <= 1.25 if what == "wall" else statistics.median(ours) <= 1.5
            verdict = ("yes" if met else "no") if goal else ""
            measure = what if variant == "smtune" else f"{what}, `--checkpoints`"
            rows.append(
                f"| {size} ({train_rows or 'all'} rows, {rounds} rounds) | {measure} "
                f"| {cell(ours)} | {cell(base)} | {paired:.2f}x [{ratios}] | {goal} "
                f"| {verdict} |"
            )
    rows += ["", "| start-up | seconds |", "|---|---|"]
    rows += [f"| {key[1]} | {cell(v)} |" for key, v in samples.items() if key[0] == "startup"]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, help="write the Markdown table here, not stdout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xgboost-overhead-") as root:
        samples = measure(args.repeats, args.threads, Path(root))
    table = report(samples, args.repeats, args.threads)
    if args.out is None:
        sys.stdout.write(table)
    else:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
