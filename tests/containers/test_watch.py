"""LogWatch reads a running job's leader log as SageMaker reads CloudWatch: real jobs of the
process backend whose hosts print what each test needs."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec
from smtune.containers.local.process import ProcessBackend
from smtune.containers.local.watch import TAIL_LINES, Event, JobEnded, LogWatch, Observation, Unread
from smtune.containers.status import JobStatus
from smtune.entrypoints.contract.metrics import Direction, MetricSpec
from smtune.entrypoints.contract.paths import BASE_DIR_VARIABLE

SCORE = MetricSpec("validation:score", "validation-score", Direction.MAXIMIZE)


@dataclass(frozen=True)
class Regex:
    """A metric that is only a regex, as a script's is: anything with read(line) serves."""

    pattern: str

    def read(self, line: str) -> float | None:
        match = re.search(self.pattern, line)
        return float(match.group(1)) if match else None


class Hosts(ProcessBackend):
    """Hosts that run `program` (Python); the leader runs `leader` instead when given."""

    def __init__(self, program: str, leader: str | None = None) -> None:
        super().__init__()
        self.program = program
        self.leader = program if leader is None else leader

    def command(self, spec: JobSpec) -> list[str]:
        # Each host knows itself by its tree (SAGEMAKER_BASE_DIR): .../algo-1 leads.
        choose = (
            "import os\n"
            f"exec({self.leader!r} if os.environ['{BASE_DIR_VARIABLE}'].endswith('/algo-1') "
            f"else {self.program!r})"
        )
        return [sys.executable, "-c", choose]


def watch_to_the_end(
    backend: ProcessBackend, out: Path, metric: object = SCORE, hosts: int = 1, observed: int = 0
) -> tuple[list[Event], LogWatch]:
    job = backend.start(JobSpec(image("synthetic"), hosts, {}, {}, out))
    with job:
        watch = LogWatch(job, metric, observed)  # type: ignore[arg-type]
        events = until_ended(watch)
    assert list(watch.events()) == []  # ended once, and only once
    return events, watch


def until_ended(watch: LogWatch, timeout_s: float = 30, pause_s: float = 0.02) -> list[Event]:
    """Every event of `watch`, up to and with JobEnded."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout_s
    while not (events and isinstance(events[-1], JobEnded)):
        assert time.monotonic() < deadline, list(watch.tail)
        events += watch.events()
        time.sleep(pause_s)
    return events


def lines(*texts: str) -> str:
    """A host program that prints each text (no newline added) and flushes it."""
    return "import sys\n" + "".join(
        f"sys.stdout.write({text!r}); sys.stdout.flush()\n" for text in texts
    )


def observed(events: list[Event]) -> list[tuple[int, float]]:
    return [(e.iteration, e.value) for e in events if isinstance(e, Observation)]


def test_metric_lines_are_observed_in_cloudwatchs_form_then_the_end(tmp_path: Path) -> None:
    program = lines("starting\n", "[0]\tvalidation-score:0.5\n", "[1]\tvalidation-score:0.625\n")
    events, _ = watch_to_the_end(Hosts(program), tmp_path / "job", Regex(r"#011[a-z-]+:(\S+)"))
    assert events == [
        Unread(None, "starting"),
        Observation(0, 0.5, "[0]#011validation-score:0.5"),
        Observation(1, 0.625, "[1]#011validation-score:0.625"),
        JobEnded(JobStatus.COMPLETED, None),
    ]


def test_a_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    # The leader appends to its own log half a line, waits for the test, then ends it.
    go = tmp_path / "go"
    program = f"""
import pathlib, time
log = open("../algo-1.log", "ab", buffering=0)
log.write(b"[0]\\tvalidation-score:0.")
while not pathlib.Path({str(go)!r}).exists():
    time.sleep(0.01)
log.write(b"75\\n")
"""
    job = Hosts(program).start(JobSpec(image("synthetic"), 1, {}, {}, tmp_path / "job"))
    with job:
        watch = LogWatch(job, SCORE)
        deadline = time.monotonic() + 30
        while not (watch.leader_log.exists() and watch.leader_log.stat().st_size):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert list(watch.events()) == []  # "0." is not a value: the line is not whole yet
        go.touch()
        events = until_ended(watch)
    assert observed(events) == [(0, 0.75)]


def test_a_last_line_without_newline_is_read_once_its_host_ended(tmp_path: Path) -> None:
    events, _ = watch_to_the_end(Hosts(lines("[0]\tvalidation-score:0.5")), tmp_path / "job")
    assert observed(events) == [(0, 0.5)]


def test_a_restarted_job_is_not_observed_again_for_iterations_it_repeats(
    tmp_path: Path,
) -> None:
    # Restarted from a checkpoint after 2 iterations, it prints [1] again: only [2] and [3]
    # are new.
    program = lines(*(f"[{i}]\tvalidation-score:0.{i}\n" for i in (1, 2, 3)))
    events, _ = watch_to_the_end(Hosts(program), tmp_path / "job", observed=2)
    assert observed(events) == [(2, 0.2), (3, 0.3)]


def test_lines_without_a_tag_count_one_iteration_each(tmp_path: Path) -> None:
    program = lines("epoch done acc=0.5\n", "epoch done acc=0.6\n")
    events, _ = watch_to_the_end(Hosts(program), tmp_path / "job", Regex(r"acc=(\S+)"))
    assert observed(events) == [(0, 0.5), (1, 0.6)]


def test_a_regex_that_reads_nothing_gives_only_unread_lines(tmp_path: Path) -> None:
    program = lines(*(f"epoch {i}: score=0.{i}\n" for i in range(8)))
    events, watch = watch_to_the_end(Hosts(program), tmp_path / "job")
    assert observed(events) == []
    assert [e for e in events if isinstance(e, Unread)][-1] == Unread(None, "epoch 7: score=0.7")
    assert list(watch.tail) == [f"epoch {i}: score=0.{i}" for i in range(8 - TAIL_LINES, 8)]


def test_the_end_says_how_and_which_other_hosts_print_the_metric(tmp_path: Path) -> None:
    every = lines("[0]\tvalidation-score:0.5\n") + "sys.exit(3)\n"
    events, _ = watch_to_the_end(Hosts(every), tmp_path / "job", hosts=3)
    ended = events[-1]
    assert isinstance(ended, JobEnded) and ended.status is JobStatus.FAILED
    assert ended.metric_hosts == ("algo-2", "algo-3") and "exited 3 without writing a failure" in (
        ended.reason or ""
    )
    quiet = lines("no metric here\n")
    events, _ = watch_to_the_end(Hosts(quiet, leader=every), tmp_path / "quiet", hosts=2)
    assert events[-1] == JobEnded(JobStatus.FAILED, events[-1].reason)  # type: ignore[union-attr]
    assert observed(events) == [(0, 0.5)]


@pytest.mark.parametrize("line", ["[12]\tvalidation-score:1e-05", "[12]#011validation-score:1e-05"])
def test_the_iteration_comes_from_the_contracts_tag(line: str) -> None:
    from smtune.entrypoints.contract.metrics import MetricLine

    assert MetricLine.iteration(line) == 12 and MetricLine.iteration("x [12]") is None
    assert MetricLine.iteration(MetricLine([SCORE]).format(7, {SCORE.name: 0.5})) == 7


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_job_of_containers_is_watched_the_same_way(docker_image: str, tmp_path: Path) -> None:
    """Behind the backend: the watcher reads a docker job as it reads one of processes."""
    from smtune.containers.local.docker import DockerBackend
    from smtune.containers.local.layout import ChannelSource
    from tests.conftest import write_csv
    from tests.entrypoints.xgboost.test_distributed import NOTEBOOK, VALIDATION_AUC

    channels = {
        name: ChannelSource(name, write_csv(tmp_path / name / "a.csv", 300, seed=seed).parent)
        for seed, name in enumerate(("train", "validation"))
    }
    spec = JobSpec(image("xgboost"), 2, channels, {**NOTEBOOK, "num_round": "4"}, tmp_path / "job")
    with DockerBackend(docker_image).start(spec) as job:
        watch = LogWatch(job, VALIDATION_AUC)
        events = until_ended(watch, timeout_s=240, pause_s=0.1)
    assert [i for i, _ in observed(events)] == [0, 1, 2, 3]
    assert all(0.5 < value <= 1 for _, value in observed(events))
    assert all("#011validation-auc:" in e.line for e in events if isinstance(e, Observation))
    assert events[-1] == JobEnded(JobStatus.COMPLETED, None)  # and no other host printed it
