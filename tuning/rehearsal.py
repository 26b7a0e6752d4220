"""Rehearse a whole AMT Hyperband tuning job on this machine: same spec, image and regexes.

This approximates AMT, whose internals are not public: the Hyperband decisions are those of
`tuning.hyperband` (η = 3, ASHA-style rungs, one bracket unless `brackets` says otherwise;
see there). What it reproduces exactly is what
SageMaker documents: every training job is an N-host job of the spec's image; metrics are
read from the leader's log as CloudWatch shows it (tab as #011) with the spec's
MetricDefinitions; one objective line is one unit of resource; a job is never stopped before
MinResource; a job that reaches MaxResource is stopped and counts as Completed; a stopped job
gets SIGTERM, as StopTrainingJob sends; a job's final objective is its last reported value.

Everything is journaled (`tuning.journal`), so a rehearsal killed at any point resumes:
finished jobs are kept, jobs that were running restart from their checkpoints where the spec
has a `checkpoint_s3_uri`, else from the start (the lines they repeat are not counted again).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from containers.local.job import Backend, JobSpec, JobStatus, RunningJob
from containers.local.layout import ChannelSource
from containers.script import RESERVED_PREFIX, ScriptSpec
from entrypoints.contract.config import S3DistributionType
from entrypoints.contract.metrics import Direction, cloudwatch_form
from tuning.hyperband import Choice, Decision, FloatRange, HyperbandScheduler, IntRange, Scaling
from tuning.hyperband.policy import BracketPolicy
from tuning.journal import Journal
from tuning.request import Plan
from tuning.spec import CategoricalRange, IntegerRange

logger = logging.getLogger(__name__)

ITERATION = re.compile(r"^\[(\d+)\]")
REGEX_GRACE_S = 60.0  # AMT users learn of a regex that reads nothing only after the job


class RehearsalError(RuntimeError):
    """The rehearsal cannot go on; what SageMaker would have wasted money on."""


def search_space(plan: Plan) -> dict[str, FloatRange | IntRange | Choice]:
    space: dict[str, FloatRange | IntRange | Choice] = {}
    for name, r in plan.spec.ranges.items():
        if isinstance(r, CategoricalRange):
            space[name] = Choice(tuple(r.values))
            continue
        scaling = Scaling(r.scaling.value)
        kind = IntRange if isinstance(r, IntegerRange) else FloatRange
        space[name] = kind(r.min, r.max, scaling)  # type: ignore[arg-type]
    return space


def _snapshot(script: ScriptSpec, out: Path) -> ScriptSpec:
    """The script's folder as it is now, under `out`: as on SageMaker, where every job gets
    the one sourcedir.tar.gz uploaded at submit, an edit during the rehearsal reaches no job.
    (A resumed rehearsal takes a new snapshot.)"""
    snapshot = out / "source"
    if snapshot.exists():
        shutil.rmtree(snapshot)
    shutil.copytree(script.source_dir, snapshot)  # links followed, as the archive packs them
    return replace(script, source_dir=snapshot)


@dataclass
class Trial:
    """A training job of the rehearsal, while it runs."""

    name: str
    job: RunningJob
    started: float
    offset: int = 0
    resource: int = 0
    lines: list[str] = field(default_factory=list)
    first_line: float | None = None  # when its log began: the regex check counts from there
    non_finite: bool = False  # it printed a nan or inf objective: its regex is not to blame
    verdict: Decision = Decision.CONTINUE


@dataclass(frozen=True)
class Summary:
    jobs: dict[str, int]
    best_objective: float | None
    best_job: str | None
    resource_used: int
    resource_worst_case: int
    billable_seconds: float
    wall_seconds: float
    sequential_seconds: float = 0.0  # the same jobs one after another: what parallelism saved
    # Had no job stopped early: each job's seconds per unit of resource times MaxResource.
    billable_seconds_worst_case: float = 0.0
    flags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Rehearsal:
    """Runs the tuning job of `plan` locally on `backend`, journaled to `journal`."""

    def __init__(
        self,
        plan: Plan,
        channels: Mapping[str, Path],
        out: Path,
        journal: Journal,
        backend: Backend,
        max_jobs: int | None = None,
        max_parallel: int | None = None,
        clock: Callable[[], float] = time.time,  # wall time: the journal shows dates
        poll_s: float = 0.1,
        on_progress: Callable[[str], None] = lambda _: None,
        brackets: BracketPolicy = BracketPolicy.ASHA,
    ) -> None:
        spec = plan.spec
        if plan.max_resource is None or spec.strategy.min_resource is None:
            raise RehearsalError(
                "only Hyperband tuning jobs can be rehearsed: the spec has "
                f"strategy.type={spec.strategy.type}"
            )
        missing = sorted(set(spec.channels) - set(channels))
        if missing:
            raise RehearsalError(
                f"no local data for channel {', '.join(missing)}: give --channel {missing[0]}=DIR"
            )
        self.plan, self.out, self.journal, self.backend = plan, out, journal, backend
        self.script = _snapshot(plan.script, out) if plan.script is not None else None
        self.channels = {
            name: ChannelSource(
                name, channels[name], S3DistributionType(c.distribution), c.content_type
            )
            for name, c in spec.channels.items()
        }
        for option, count in (("max_jobs", max_jobs), ("max_parallel", max_parallel)):
            if count is not None and count < 1:
                raise ValueError(f"{option}={count} is out of range: must be >= 1")
        self.max_jobs = spec.limits.max_jobs if max_jobs is None else max_jobs
        self.max_parallel = spec.limits.max_parallel_jobs if max_parallel is None else max_parallel
        self.clock, self.poll_s, self.on_progress = clock, poll_s, on_progress
        self.objective = plan.objective  # a MetricSpec, or a script's regex
        self.scheduler = HyperbandScheduler(
            search_space(plan),
            spec.strategy.min_resource,
            plan.max_resource,
            maximize=plan.direction is Direction.MAXIMIZE,
            seed=spec.random_seed,
            clock=clock,
            policy=brackets,
        )
        self.running: dict[str, Trial] = {}
        self.flags: list[str] = []  # problems AMT would have, found along the way
        self.restart: list[str] = []
        self.hyperparameters: dict[str, dict[str, Any]] = {}
        self.started = clock()

    # -- resume ----------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        spec = self.plan.spec
        return json.dumps(
            {
                "name": spec.name,
                "seed": spec.random_seed,
                "brackets": self.scheduler.policy.value,
                "ranges": self.plan.request["HyperParameterTuningJobConfig"]["ParameterRanges"],
            },
            sort_keys=True,
        )

    def _replay(self) -> None:
        """Rebuild the scheduler from the journal: suggestions first, then every result."""
        known = self.journal.meta("spec")
        if known is None:
            self.journal.set_meta("spec", self._fingerprint())
            return
        if known != self._fingerprint():
            raise RehearsalError(
                f"the journal {self.journal.path} belongs to another spec, seed or "
                f"bracket policy (this run: --brackets {self.scheduler.policy.value}): use a new "
                f"--journal, or the spec and --brackets it was made with; it holds {known}"
            )
        for record in self.journal.jobs():
            suggestion = self.scheduler.suggest(record.name)
            if suggestion.hyperparameters != record.hyperparameters:
                raise RehearsalError(
                    f"replaying {record.name} drew other hyperparameters than "
                    "the journal holds: the journal is not this rehearsal's"
                )
            self.hyperparameters[record.name] = record.hyperparameters
            if record.status == "InProgress":
                self._end_leftovers(record.name)
                self.restart.append(record.name)
        for job, resource, value, decision, _ in self.journal.observations():
            replayed = self.scheduler.on_result(job, resource, value)
            if replayed.value != decision:
                raise RehearsalError(
                    f"replaying {job} at {resource} decided {replayed.value}, "
                    f"the journal says {decision}"
                )
        for record in self.journal.jobs():
            if record.status != "InProgress":
                self.scheduler.on_end(record.name)

    def _end_leftovers(self, name: str) -> None:
        """Hosts a killed rehearsal left running: the backend checks they are that job's."""
        ended = self.backend.end_leftovers(self.out / name)
        if ended:
            self._progress(f"{name}: ended what its killed run left running: {', '.join(ended)}")

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> Summary:
        self._replay()
        try:
            while True:
                self._launch()
                if not self.running:
                    break
                for trial in list(self.running.values()):
                    self._read(trial)
                    self._check_regex(trial)
                    result = trial.job.poll()
                    if result is not None:
                        self._read(trial)  # the lines written since the read above
                        self._finish(trial, result.status, result.reason)
                time.sleep(self.poll_s)
        except BaseException:
            # Ctrl-C or an error: stop every job; the journal keeps them InProgress, to resume.
            for trial in self.running.values():
                trial.job.kill()
            raise
        return self.summary()

    def _launch(self) -> None:
        while len(self.running) < self.max_parallel:
            if self.restart:
                name = self.restart.pop(0)
                self._start(name, resume=True)
                self.journal.restart_job(name, self.clock())
                continue
            number = len(self.hyperparameters) + 1
            if number > self.max_jobs:
                return
            name = f"{self.plan.spec.name}-{number:03d}"
            suggestion = self.scheduler.suggest(name)
            self.hyperparameters[name] = suggestion.hyperparameters
            self.journal.add_job(
                number,
                name,
                suggestion.bracket,
                suggestion.hyperparameters,
                self.plan.spec.instance.count,
                self.clock(),
            )
            self._start(name, resume=False)

    def _start(self, name: str, resume: bool) -> None:
        definition = self.plan.request["TrainingJobDefinition"]
        static = definition["StaticHyperParameters"]
        if self.plan.script is not None:
            # The job's folder is here, not at its S3 URI: the JobSpec's script says so.
            static = {k: v for k, v in static.items() if not k.startswith(RESERVED_PREFIX)}
        tuned = {
            k: repr(v) if isinstance(v, float) else str(v)
            for k, v in self.hyperparameters[name].items()
        }
        spec = JobSpec(
            image=self.plan.image,
            host_count=self.plan.spec.instance.count,
            channels=self.channels,
            hyperparameters={**static, **tuned},
            out=self.out / name,
            max_run_s=self.plan.spec.limits.max_runtime_seconds,
            # As on SageMaker: checkpoints only where the request has a CheckpointConfig.
            # (With sampling, an XGBoost job that checkpoints grows other trees, more slowly.)
            checkpoints="CheckpointConfig" in definition,
            resume=resume,
            script=self.script,
        )
        # A resumed job starts where the journal left it: lines it repeats are not new.
        done = self.scheduler.resource(name)
        job = self.backend.start(spec)
        # Running before anything else, so that a Ctrl-C from here on kills its hosts too.
        self.running[name] = Trial(name, job, self.clock(), resource=done)
        self._progress(f"started {name}" + (" (resumed)" if resume else "") + f": {tuned}")

    def _read(self, trial: Trial) -> None:
        """New lines of the leader's log, read the way SageMaker reads CloudWatch."""
        log = trial.job.spec.log_path(trial.job.spec.hosts[0])
        if not log.exists():
            return
        with log.open("rb") as stream:
            stream.seek(trial.offset)
            chunk = stream.read()
        complete = chunk.rfind(b"\n") + 1
        trial.offset += complete
        if complete and trial.first_line is None:
            trial.first_line = self.clock()
        for raw in chunk[:complete].decode(errors="replace").splitlines():
            line = cloudwatch_form(raw)
            trial.lines = [*trial.lines[-4:], line]
            value = self.objective.read(line)
            if value is None:
                self._check_non_finite(trial, line)
                continue
            if trial.verdict is not Decision.CONTINUE:
                continue
            # One objective line is one unit of resource; a restarted job repeats some lines
            # since its checkpoint, which its iteration tag tells apart.
            tag = ITERATION.match(raw)
            resource = int(tag.group(1)) + 1 if tag else trial.resource + 1
            if resource <= trial.resource:
                continue
            trial.resource = resource
            decision = self.scheduler.on_result(trial.name, resource, value)
            self.journal.observe(trial.name, resource, value, decision.value, self.clock())
            if decision is not Decision.CONTINUE:
                trial.verdict = decision
                trial.job.stop("Hyperband" if decision is Decision.STOP else "MaxResource")

    def _check_non_finite(self, trial: Trial, line: str) -> None:
        """An objective of nan or inf: AMT would not count that line; say so, once a job."""
        value = self.objective.non_finite(line)
        if value is None or trial.non_finite:
            return
        trial.non_finite = True
        tag = ITERATION.match(line)
        self.flags.append(
            f"{trial.name} printed a non-finite objective at [{tag.group(1) if tag else '?'}] "
            f"({value}): {self.objective.name}'s regex reads no number there, so on "
            "SageMaker CloudWatch gets no datapoint and AMT neither sees nor counts that line; "
            "fix the training (a loss gone to nan: a lower learning rate, the data)"
        )
        self._progress(f"WARNING {self.flags[-1]}")

    def _check_regex(self, trial: Trial) -> None:
        """A minute of log lines and no objective read: the regex (or the image) is wrong."""
        if trial.resource or trial.first_line is None or trial.non_finite:
            return
        if self.clock() - trial.first_line >= REGEX_GRACE_S:
            self._regex_error(trial)

    def _regex_error(self, trial: Trial) -> None:
        sample = "\n".join(f"    {line}" for line in trial.lines)
        raise RehearsalError(
            f"the objective {self.objective.name}'s regex {self.objective.regex!r} read nothing "
            f"in {trial.name}'s log; its last lines, as CloudWatch shows them:\n{sample}\n"
            "On SageMaker every job would run to its end unjudged: fix the regex or the image"
        )

    def _duplicates(self, trial: Trial) -> list[str]:
        """Hosts other than the leader that printed objective lines: AMT reads every host's
        log and would count them as resource too, stopping jobs early."""
        spec = trial.job.spec
        return [
            host
            for host in spec.hosts[1:]
            if spec.log_path(host).exists()
            and any(
                self.objective.read(cloudwatch_form(line)) is not None
                for line in spec.log_path(host).read_text(errors="replace").splitlines()
            )
        ]

    def _finish(self, trial: Trial, status: JobStatus, reason: str | None) -> None:
        del self.running[trial.name]
        duplicates = self._duplicates(trial)
        if duplicates:
            self.flags.append(
                f"{trial.name}: hosts {', '.join(duplicates)} also print "
                f"{self.objective.name} lines; on SageMaker AMT would count them as resource "
                "and stop jobs early: print metrics from the leader only"
            )
            self._progress(f"WARNING {self.flags[-1]}")
        if trial.verdict is Decision.COMPLETE:
            final = "Completed"
        elif trial.verdict is Decision.STOP:
            final = "Stopped"
        else:
            final = status.value
            self.scheduler.on_end(trial.name)
            unread = trial.resource == 0 and trial.lines and not trial.non_finite
            if status is JobStatus.COMPLETED and unread:
                self._regex_error(trial)
        self.journal.end_job(trial.name, final, reason, self.clock())
        self._progress(
            f"{trial.name}: {final} after {trial.resource} "
            f"{self.plan.resource}" + (f" ({reason})" if reason and final == "Failed" else "")
        )

    def _progress(self, event: str) -> None:
        counts = self._counts()
        best = self._best()
        best_text = f", best {best[1]:.6g} ({best[0]})" if best else ""
        self.on_progress(
            f"{event} | running {len(self.running)}, "
            + ", ".join(f"{k.lower()} {v}" for k, v in counts.items() if k != "InProgress")
            + best_text
        )

    # -- results ---------------------------------------------------------------------------

    def _counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("Completed", "Stopped", "Failed", "InProgress"), 0)
        for record in self.journal.jobs():
            counts[record.status] = counts.get(record.status, 0) + 1
        return counts

    def _best(self, last: dict[str, tuple[int, float]] | None = None) -> tuple[str, float] | None:
        last = self.journal.last_observations() if last is None else last
        if not last:
            return None
        pick = max if self.plan.direction is Direction.MAXIMIZE else min
        job = pick(last, key=lambda j: last[j][1])  # a job's last value is its final objective
        return job, last[job][1]

    def summary(self) -> Summary:
        records = self.journal.jobs()
        last = self.journal.last_observations()
        best = self._best(last)
        elapsed = [(r.ended or r.started or 0) - (r.started or 0) for r in records]
        billable = sum(e * r.hosts for e, r in zip(elapsed, records, strict=True))
        worst = sum(
            e / last[r.name][0] * (self.plan.max_resource or 0) * r.hosts
            for e, r in zip(elapsed, records, strict=True)
            if r.name in last
        )
        return Summary(
            jobs={k: v for k, v in self._counts().items() if k != "InProgress" or v},
            best_objective=best[1] if best else None,
            best_job=best[0] if best else None,
            resource_used=len(self.journal.observations()),
            resource_worst_case=len(records) * (self.plan.max_resource or 0),
            billable_seconds=round(billable, 3),
            wall_seconds=round(self.clock() - self.started, 3),
            sequential_seconds=round(sum(elapsed), 3),
            billable_seconds_worst_case=round(worst, 3),
            flags=tuple(self.flags),
        )
