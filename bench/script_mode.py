"""A user's script on 2 hosts under `smtune train` vs the same script under plain `torchrun`.

Issue 12's goals for script mode, measured side by side on this machine:

- wall: a 1-epoch job of `examples/script-mode/train.py`, `smtune train dnn --hosts 2
  --entry-point train.py --distribution-mode torch_distributed` (process backend, default
  flags) vs `torchrun --nnodes 1 --nproc-per-node 2 train.py` with SM_CHANNEL_* set, what a
  user would otherwise run here: the same world size (2 workers), the same data. Goal: the
  paired ratio ≤ 1.1x.
- first line: from launching the command to the first line the script prints, and under
  smtune from its leader host's process start (its /proc start time) too. The example
  prints nothing before its first metric line, which comes after the epoch, so a tiny
  script that prints at once and exits isolates the runner's own cost. Goal: ≤ 2 s after
  the host starts.
- optionally (`--docker`), the same on the docker backend with the DNN image, from the
  leader container's `create` and `start` events to the script's first line.

Each repeat runs the two arms seconds apart, alternating which goes first; the leader's log
timestamps split smtune's time to the first line into its steps.

    .venv/bin/python bench/script_mode.py [--repeats 5] [--docker] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("entrypoints", "containers", "tuning")
SMTUNE = str(Path(PYTHON).with_name("smtune"))
TORCHRUN = str(Path(PYTHON).with_name("torchrun"))
EXAMPLE = ROOT / "examples" / "script-mode"
IMAGE = "smtune-dnn:0.1.0"
SOURCES = (Path("/usr/share/datasets/fashion-mnist"), ROOT.parent / "shared/data/fashion-mnist")
ARMS = ("smtune", "torchrun")
HYPERPARAMETERS = {"epochs": 1}  # the example's defaults otherwise
# The script's own lines: the example's first metric line, and the tiny script's line.
METRIC_LINE = re.compile(r"^\[0\]\t")
TINY_LINE = re.compile(r"^first line from rank")
TINY = """\
import os
print(f"first line from rank {os.environ.get('RANK')}", flush=True)
"""
# Lines of the leader host's log (entrypoints.script.runner), each with its time.
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
PREPARING = re.compile(r"entrypoints\.script\.runner: script mode: ")
LAUNCHING = re.compile(r"entrypoints\.script\.runner: algo-1: \d+ hosts x ")
AGENT_IMPORT = "import os, torch.distributed.run; os._exit(0)"
TWICE = f"{PYTHON} -c '{AGENT_IMPORT}'"
STARTUP = {  # name -> command: what the processes of each arm import before the script runs
    "python -c pass": [PYTHON, "-c", "pass"],
    "smtune --help (the CLI)": [SMTUNE, "--help"],
    "python -c 'import smtune.entrypoints.script.runner' (a host)": [
        PYTHON,
        "-c",
        "import smtune.entrypoints.script.runner",
    ],
    "python -c 'import torch.distributed.run' (torchrun's agent)": [
        PYTHON,
        "-c",
        "import torch.distributed.run",
    ],
    "python -c 'import torch' (a worker)": [PYTHON, "-c", "import torch"],
    # Without Python's teardown, as smtune's agent ends (exit_process); alone, and two at
    # once, as smtune's 2 hosts start their agents on this machine.
    "python -c 'import torch.distributed.run; os._exit(0)'": [PYTHON, "-c", AGENT_IMPORT],
    "the same, 2 at once": ["bash", "-c", f"{TWICE} & {TWICE} & wait"],
}


@dataclass
class Run:
    """One command's times, in seconds from its launch (the bench's Popen)."""

    wall: float
    first: float
    marks: dict[str, float] = field(default_factory=dict)  # other moments, same origin


def boot_epoch() -> float:
    """The wall-clock time of boot, from which /proc's start times count."""
    return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


def process_start(start_ticks: int) -> float:
    """A process's start as wall-clock time, from its /proc start time (10 ms ticks)."""
    return boot_epoch() + start_ticks / os.sysconf("SC_CLK_TCK")


def log_marks(log: Path, launched: float) -> dict[str, float]:
    """When the leader logged that it prepares the script and that it launches it."""
    marks = {}
    for line in log.read_text(errors="replace").splitlines():
        found = LOG_TIME.match(line)
        if found is None:
            continue
        moment = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for name, pattern in (("prepare", PREPARING), ("launch", LAUNCHING)):
            if name not in marks and pattern.search(line):
                marks[name] = moment - launched
    return marks


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DockerEvents:
    """The create and start events of a job's containers (`docker events`, by the job's
    label), with their times: started before the job, read in a thread."""

    def __init__(self, label: str) -> None:
        self.times: dict[tuple[str, str], float] = {}  # (action, container) -> wall time
        self.process = subprocess.Popen(
            ["docker", "events", "--since", f"{time.time() - 1:.3f}",
             "--filter", "type=container", "--filter", f"label={label}",
             "--format", "{{.TimeNano}} {{.Action}} {{.Actor.Attributes.name}}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            nanos, action, name = line.split(maxsplit=2)
            self.times.setdefault((action, name.strip()), int(nanos) / 1e9)

    def leader(self, action: str) -> float:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for (seen, name), moment in self.times.items():
                if seen == action and name.endswith("-algo-1"):
                    return moment
            time.sleep(0.05)
        raise RuntimeError(f"docker events reported no {action} of the leader container")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


def run(
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    first_line: re.Pattern[str],
    out: Path | None = None,
    docker_label: str | None = None,
) -> Run:
    """Run `command` to its end, stdout read line by line: its wall time, when the first
    line matching `first_line` came, and for smtune (`out`) the leader's moments."""
    events = DockerEvents(docker_label) if docker_label else None
    with tempfile.TemporaryFile() as stderr:
        launched = time.time()
        start = time.perf_counter()
        first = None
        with subprocess.Popen(
            command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                if first is None and first_line.match(line):
                    first = time.perf_counter() - start
        wall = time.perf_counter() - start
        if process.returncode != 0 or first is None:
            if events is not None:
                events.close()
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{command[:3]} exited {process.returncode}, first {first}:\n{tail}")
    marks: dict[str, float] = {}
    if out is not None:
        marks.update(log_marks(out / "algo-1.log", launched))
        if docker_label is None:
            leader = json.loads((out / "hosts.json").read_text())["algo-1"]
            marks["host"] = process_start(leader["start"]) - launched
    if events is not None:
        try:
            marks["create"] = events.leader("create") - launched
            marks["start"] = events.leader("start") - launched
        finally:
            events.close()
    return Run(wall, first, marks)


@dataclass(frozen=True)
class Setup:
    root: Path
    train: Path
    validation: Path
    tiny: Path  # the tiny script's folder
    env: dict[str, str]


def commands(arm: str, script: str, setup: Setup, out: Path) -> tuple[list[str], dict[str, str]]:
    """The command of one arm (smtune, torchrun, docker) for one script (example, tiny)."""
    folder = EXAMPLE if script == "example" else setup.tiny
    hps = HYPERPARAMETERS if script == "example" else {}
    if arm == "torchrun":
        env = {
            **setup.env,
            "SM_CHANNEL_TRAIN": str(setup.train),
            "SM_CHANNEL_VALIDATION": str(setup.validation),
            "SM_MODEL_DIR": str(out / "model"),
        }
        script_args = [f"--{k}={v}" for k, v in hps.items()]
        port = str(free_port())
        return [TORCHRUN, "--nnodes", "1", "--nproc-per-node", "2", "--master-port", port,
                str(folder / "train.py"), *script_args], env  # fmt: skip
    backend = ["--backend", "docker", "--image", IMAGE] if arm == "docker" else []
    return [SMTUNE, "train", "dnn", "--hosts", "2", *backend,
            "--entry-point", "train.py", "--source-dir", str(folder),
            "--distribution-mode", "torch_distributed",
            "--channel", f"train={setup.train}", "--channel", f"validation={setup.validation}",
            "--content-type", "application/x-idx",
            *(f"--hp={k}={v}" for k, v in hps.items()), "--out", str(out)], setup.env  # fmt: skip


def one(arm: str, script: str, setup: Setup, name: str) -> Run:
    out = setup.root / "runs" / name
    out.mkdir(parents=True)
    command, env = commands(arm, script, setup, out)
    pattern = METRIC_LINE if script == "example" else TINY_LINE
    label = None
    if arm == "docker":
        from smtune.containers.local.docker import job_label

        label = job_label(out)
    return run(command, env, out, pattern, None if arm == "torchrun" else out, label)


def prepare(root: Path, source: Path, train_limit: int, validation_limit: int) -> Setup:
    # Current bytecode for the project, as an installed package has: where
    # PYTHONDONTWRITEBYTECODE is set, a stale .pyc would be recompiled on every run.
    subprocess.run([PYTHON, "-m", "compileall", "-q", *PACKAGES], cwd=ROOT, check=True)
    data = root / "mnist"
    subprocess.run(
        [SMTUNE, "data", "mnist", "--source", str(source), "--out", str(data),
         "--train-limit", str(train_limit), "--validation-limit", str(validation_limit)],
        check=True, capture_output=True,
    )  # fmt: skip
    tiny = root / "tiny"
    tiny.mkdir()
    (tiny / "train.py").write_text(TINY)
    # Both arms with the defaults of their own: smtune gives each host's processes
    # OMP_NUM_THREADS = cores / hosts, torchrun gives each worker 1 (2 per node).
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    return Setup(root, data / "train", data / "validation", tiny, env)


Samples = dict[tuple[str, str], list[Run]]


def measure(setup: Setup, repeats: int, docker: bool) -> tuple[Samples, dict[str, list[float]]]:
    arms = (*ARMS, "docker") if docker else ARMS
    runs = 0
    for arm in arms:  # one untimed run of each: page cache, bytecode, the image's layers
        for script in ("example", "tiny"):
            one(arm, script, setup, f"warm-{arm}-{script}")
    samples: Samples = {}
    startup: dict[str, list[float]] = {}
    for repeat in range(repeats):
        # Alternate which arm goes first, so drift on a noisy machine hits both alike.
        order = ARMS if repeat % 2 == 0 else ARMS[::-1]
        for script in ("example", "tiny"):
            for arm in order:
                runs += 1
                samples.setdefault((arm, script), []).append(one(arm, script, setup, str(runs)))
            if docker:
                runs += 1
                samples.setdefault(("docker", script), []).append(
                    one("docker", script, setup, str(runs))
                )
        for name, command in STARTUP.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=setup.env)
            startup.setdefault(name, []).append(time.perf_counter() - start)
        print(f"repeat {repeat + 1}/{repeats} done", file=sys.stderr, flush=True)
    return samples, startup


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f})"


def ratios(ours: list[float], base: list[float]) -> tuple[float, str]:
    """The paired ratio (median of each repeat's ratio), and the text with the ratio of the
    medians and of the minimums."""
    paired = statistics.median(o / b for o, b in zip(ours, base, strict=True))
    rest = f"{statistics.median(ours) / statistics.median(base):.2f}x, {min(ours) / min(base):.2f}x"
    return paired, f"{paired:.2f}x [{rest}]"


def report(samples: Samples, startup: dict[str, list[float]], repeats: int, setup_note: str) -> str:
    rows = [
        f"{repeats} repeats; {setup_note}. Seconds, median (min). ratio: the median of each "
        "repeat's smtune / torchrun, run seconds apart [the ratio of the medians, of the "
        "mins]; the wall goal is judged on the first, the paired ratio",
        "",
        "| script | measure | smtune | torchrun | ratio | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for script, title in (("example", "example, 1 epoch"), ("tiny", "tiny (prints, exits)")):
        ours, base = samples[("smtune", script)], samples[("torchrun", script)]
        paired, text = ratios([r.wall for r in ours], [r.wall for r in base])
        goal, met = ("", "")
        if script == "example":
            goal, met = "ratio ≤ 1.1x", "yes" if paired <= 1.1 else "no"
        rows.append(f"| {title} | wall | {cell([r.wall for r in ours])} "
                    f"| {cell([r.wall for r in base])} | {text} | {goal} | {met} |")  # fmt: skip
        _, text = ratios([r.first for r in ours], [r.first for r in base])
        rows.append(f"| {title} | first line, from launch | {cell([r.first for r in ours])} "
                    f"| {cell([r.first for r in base])} | {text} |  |  |")  # fmt: skip
        since_host = [r.first - r.marks["host"] for r in ours]
        goal = "≤ 2 s" if script == "tiny" else ""
        met = ("yes" if statistics.median(since_host) <= 2 else "no") if goal else ""
        rows.append(f"| {title} | first line, from the leader host's start | "
                    f"{cell(since_host)} |  |  | {goal} | {met} |")  # fmt: skip
    rows += ["", "smtune's time to the tiny script's first line, step by step (medians of "
             "each step, s; from the leader's log and /proc start time):", "",
             "| step | seconds |", "|---|---|"]  # fmt: skip
    tiny = samples[("smtune", "tiny")]
    steps = (
        ("the CLI: start, imports, job spec, host trees (launch → leader host's process)",
         lambda r: r.marks["host"]),
        ("the host: Python start, imports, config (→ `script mode:` log line)",
         lambda r: r.marks["prepare"] - r.marks["host"]),
        ("the host: fetch the code, check it, meet the other host (→ `algo-1: 2 hosts x` line)",
         lambda r: r.marks["launch"] - r.marks["prepare"]),
        ("torchrun's agent: start, rendezvous of the 2 agents, the worker's start (→ first line)",
         lambda r: r.first - r.marks["launch"]),
        ("first line → the CLI's exit (the worker's and the agent's end, the hosts meet, exit)",
         lambda r: r.wall - r.first),
    )  # fmt: skip
    for name, value in steps:
        rows.append(f"| {name} | {cell([value(r) for r in tiny])} |")
    base = samples[("torchrun", "tiny")]
    rows.append(f"| plain torchrun, launch → first line | {cell([r.first for r in base])} |")
    rows.append(f"| plain torchrun, first line → exit | {cell([r.wall - r.first for r in base])} |")
    if ("docker", "tiny") in samples:
        rows += ["", f"Docker backend (`--backend docker --image {IMAGE}`), first line (s):", "",
                 "| script | from launch | from the leader container's create | from its start "
                 "| wall | goal | met |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for script in ("example", "tiny"):
            docker = samples[("docker", script)]
            since_start = [r.first - r.marks["start"] for r in docker]
            goal = "≤ 2 s from start" if script == "tiny" else ""
            met = ("yes" if statistics.median(since_start) <= 2 else "no") if goal else ""
            rows.append(
                f"| {script} | {cell([r.first for r in docker])} "
                f"| {cell([r.first - r.marks['create'] for r in docker])} | {cell(since_start)} "
                f"| {cell([r.wall for r in docker])} | {goal} | {met} |"
            )
    rows += ["", "| start-up | seconds |", "|---|---|"]
    rows += [f"| {name} | {cell(values)} |" for name, values in startup.items()]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-limit", type=int, default=6000)
    parser.add_argument("--validation-limit", type=int, default=1000)
    parser.add_argument(
        "--source",
        type=Path,
        default=next((s for s in SOURCES if s.is_dir()), SOURCES[0]),
        help="a folder of MNIST-format IDX files (default: Fashion-MNIST)",
    )
    parser.add_argument("--docker", action="store_true", help=f"also the docker backend, {IMAGE}")
    parser.add_argument("--out", type=Path, help="write the Markdown tables here, not stdout")
    args = parser.parse_args()
    note = (
        f"{args.source.name}, {args.train_limit} train and {args.validation_limit} validation "
        f"images, hyperparameters {HYPERPARAMETERS}"
    )
    with tempfile.TemporaryDirectory(prefix="script-mode-", ignore_cleanup_errors=True) as root:
        setup = prepare(Path(root), args.source, args.train_limit, args.validation_limit)
        samples, startup = measure(setup, args.repeats, args.docker)
    table = report(samples, startup, args.repeats, note)
    if args.out is None:
        sys.stdout.write(table)
    else:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
