"""Watching a running job's log for a metric, as SageMaker reads CloudWatch.

SageMaker applies a MetricDefinition's regex to the leader's log lines as CloudWatch holds
them: complete lines only (a line still being written is not there yet), each tab shown as
`#011`. `LogWatch` reads a running job that way and turns what it finds into typed events:
an `Observation` for each line the metric reads a value from, `Unread` for any other line,
and `JobEnded` once every host has ended. Whoever watches (the rehearsal) decides; the
watcher only reads, and knows nothing of tuning.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from smtune.containers.local.job import RunningJob
from smtune.containers.status import JobStatus
from smtune.entrypoints.contract.metrics import MetricLine, cloudwatch_form

#: Lines `LogWatch.tail` keeps: what an error about the log quotes.
TAIL_LINES = 5


class Reads(Protocol):
    """A metric as the watcher uses it: the value its regex reads from a log line."""

    def read(self, line: str) -> float | None: ...


@dataclass(frozen=True)
class Observation:
    """A line the metric reads a value from.

    Args:
        iteration: The line's `[N]` tag (MetricLine's); a line without one counts as the
            iteration after the last.
        value: What the metric's regex read.
        line: The line as CloudWatch shows it.
    """

    iteration: int
    value: float
    line: str


@dataclass(frozen=True)
class Unread:
    """A complete log line the metric reads no value from; `iteration` is its tag, if any."""

    iteration: int | None
    line: str


@dataclass(frozen=True)
class JobEnded:
    """Every host has ended.

    Args:
        status: How the job ended.
        reason: SageMaker's FailureReason when Failed, what stopped it when Stopped.
        metric_hosts: Hosts other than the leader whose logs the metric reads values from:
            AMT reads every host's log, and would count their lines too.
    """

    status: JobStatus
    reason: str | None
    metric_hosts: tuple[str, ...] = ()


Event = Observation | Unread | JobEnded


class LogWatch:
    """Reads a running job's leader log as it grows; `events` never blocks.

    Args:
        job: The running job.
        metric: What reads a value from a line (a MetricSpec, a script's regex).
        observed: Iterations an earlier run of this job reported already: a job restarted
            from a checkpoint repeats the iterations since it, which are not observed again.
    """

    def __init__(self, job: RunningJob, metric: Reads, observed: int = 0) -> None:
        self.job = job
        self.metric = metric
        self.last = observed - 1  # the last iteration observed
        self.offset = 0  # bytes of the leader's log read, up to the last complete line
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)  # the last lines, CloudWatch's form
        self.ended = False

    @property
    def leader_log(self) -> Path:
        return self.job.spec.log_path(self.job.spec.hosts[0])

    def events(self) -> Iterator[Event]:
        """What the log holds since the last call; then JobEnded, once, when the job ends."""
        if self.ended:
            return
        yield from self._read()
        result = self.job.poll()
        if result is not None:
            self.ended = True
            # What was written since the read above; a last line without its newline is
            # whole now: its host has ended.
            yield from self._read(ended=True)
            yield JobEnded(result.status, result.reason, self._metric_hosts())

    def _read(self, ended: bool = False) -> Iterator[Observation | Unread]:
        try:
            with self.leader_log.open("rb") as stream:
                stream.seek(self.offset)
                chunk = stream.read()
        except FileNotFoundError:  # the leader has not started writing
            return
        if ended and chunk and not chunk.endswith(b"\n"):
            chunk += b"\n"
        complete = chunk.rfind(b"\n") + 1  # a partial last line waits for its end
        self.offset += complete
        # Lines end at newlines only, as CloudWatch splits them (not at \r, \f, ...).
        for raw in chunk[:complete].split(b"\n")[:-1]:
            yield from self._line(cloudwatch_form(raw.decode(errors="replace").rstrip("\r")))

    def _line(self, line: str) -> Iterator[Observation | Unread]:
        self.tail.append(line)
        tag = MetricLine.iteration(line)
        value = self.metric.read(line)
        if value is None:
            yield Unread(tag, line)
            return
        iteration = self.last + 1 if tag is None else tag
        if iteration <= self.last:
            return  # repeated by a job restarted from a checkpoint: observed already
        self.last = iteration
        yield Observation(iteration, value, line)

    def _metric_hosts(self) -> tuple[str, ...]:
        spec = self.job.spec
        return tuple(
            host
            for host in spec.hosts[1:]
            if spec.log_path(host).exists()
            and any(
                self.metric.read(cloudwatch_form(line)) is not None
                for line in spec.log_path(host).read_text(errors="replace").split("\n")
            )
        )
