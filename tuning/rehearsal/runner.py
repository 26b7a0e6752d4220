"""Rehearse a whole AMT tuning job on this machine: same spec, image and regexes.

This approximates AMT, whose internals are not public: the Hyperband decisions are those of
`tuning.schedulers.hyperband` (η = 3, ASHA-style rungs, one bracket unless `brackets` says
otherwise; see there); Random and Grid search choose as AMT documents, with the median rule
for `early_stopping: Auto`; Bayesian is refused (`choice` builds the scheduler of each
strategy). What it reproduces exactly is what SageMaker documents: every training job is an
N-host job of the spec's image; metrics are read from the leader's log as CloudWatch shows
it (tab as #011) with the spec's MetricDefinitions; one objective line is one unit of
resource; a job is never stopped before MinResource; a job that reaches MaxResource is
stopped and counts as Completed; a stopped job gets SIGTERM, as StopTrainingJob sends; a
job's final objective is its last reported value. With several training job definitions,
each job runs on its definition's hosts, image and hyperparameters; which definition a job
runs is our documented choice (`allocation`).

Everything is journaled (`tuning.journal`), so a rehearsal killed at any point resumes:
finished jobs are kept, a job a decision had stopped (its hosts still stopping) ends as
decided, jobs that were running restart from their checkpoints where the spec has a
`checkpoint_s3_uri`, else from the start (the lines they repeat are not counted again).
Its wall time is that of all its runs (journaled with each observation), not the resume's.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smtune.containers.errors import BadInput
from smtune.containers.local.job import Backend, JobSpec, RunningJob
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.watch import Event, JobEnded, LogWatch, Observation, Unread
from smtune.containers.script import RESERVED_PREFIX, ScriptSpec
from smtune.containers.status import JobStatus
from smtune.tuning.amt.retry import RetryDecision
from smtune.tuning.amt.warm_start import Parent
from smtune.tuning.journal import Journal, Point, ends_in_order
from smtune.tuning.metrics import Metric
from smtune.tuning.plan import TrainingDefinition, TuningPlan, shape_of
from smtune.tuning.rehearsal import accounting, failures, parent_journals
from smtune.tuning.rehearsal.accounting import Summary
from smtune.tuning.rehearsal.allocation import Allocation
from smtune.tuning.rehearsal.choice import check_lengths, job_length, rehearsed, scheduler_for
from smtune.tuning.rehearsal.watch import CompletionWatch, describe
from smtune.tuning.schedulers.base import Decision
from smtune.tuning.schedulers.bayesian import NotRehearsable
from smtune.tuning.schedulers.bracket_policy import BracketPolicy

logger = logging.getLogger(__name__)

REGEX_GRACE_S = 60.0  # AMT users learn of a regex that reads nothing only after the job
# The journal's meta key for the seconds this rehearsal has run, its earlier (killed) runs
# included: a resumed rehearsal's wall time is theirs and its own, not its own alone.
WALL_SECONDS = "wall_seconds"


class RehearsalError(BadInput):
    """The rehearsal cannot go on, for what the user gave it (the spec, its regex, the image,
    the data, the journal): what SageMaker would have wasted money on."""

    label = "rehearsal stopped"


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
    watch: LogWatch  # its running job, and what its log says
    resource: int = 0  # units of resource observed, by this run or an earlier one
    first_line: float | None = None  # when its log began: the regex check counts from there
    non_finite: bool = False  # it printed a nan or inf objective: its regex is not to blame
    verdict: Decision = Decision.CONTINUE

    @property
    def job(self) -> RunningJob:
        return self.watch.job


class Rehearsal:
    """Runs the tuning job of `plan` locally on `backend`, journaled to `journal`."""

    def __init__(
        self,
        plan: TuningPlan,
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
        parents: Sequence[Parent] = (),  # warm start: checked (tuning.rehearsal.parent_journals)
    ) -> None:
        # Channels and the script are the tuning job's, shared by every definition.
        definition = plan.definitions[0]
        self.allocation = Allocation(plan.definitions)  # each job's definition, in turn
        try:
            planned, _ = rehearsed(plan)
            check_lengths(plan)
            self.scheduler = scheduler_for(plan, self.allocation.space(), brackets, clock)
        except NotRehearsable as error:
            raise RehearsalError(str(error)) from None
        missing = sorted({c.name for c in definition.channels} - set(channels))
        if missing:
            raise RehearsalError(
                f"no local data for channel {', '.join(missing)}: give --channel {missing[0]}=DIR"
            )
        self.plan, self.out, self.journal, self.backend = plan, out, journal, backend
        self.script = _snapshot(definition.script, out) if definition.script is not None else None
        self.channels = {
            c.name: ChannelSource(c.name, channels[c.name], c.distribution, c.content_type)
            for c in definition.channels
        }
        for option, count in (("max_jobs", max_jobs), ("max_parallel", max_parallel)):
            if count is not None and count < 1:
                raise RehearsalError(f"{option}={count} is out of range: must be >= 1")
        self.clock, self.poll_s, self.on_progress = clock, poll_s, on_progress
        # A Grid has its number of jobs; --max-jobs can only make any fewer.
        self.max_jobs = planned if max_jobs is None else min(max_jobs, planned)
        self.max_parallel = plan.limits.max_parallel_jobs if max_parallel is None else max_parallel
        # A MetricSpec, or a script's regex; each definition reads it with its own (`_objective`).
        self.objective = definition.metric(plan.objective.metric)
        self.definitions: dict[str, TrainingDefinition] = {}  # job name -> its definition
        self.completion = CompletionWatch(plan.completion, plan.objective.direction)
        self.brackets = brackets
        self.parents = tuple(parents)
        parent_journals.seed(self.scheduler, self.parents)
        self.running: dict[str, Trial] = {}
        # The progress line's view of the journal: each job's last point, read on from
        # `_read_to` at each event rather than from the start.
        self._read_to, self._last_points = 0, dict[str, Point]()
        self.flags: list[str] = []  # problems AMT would have, found along the way
        self.restart: list[str] = []
        self.hyperparameters: dict[str, dict[str, Any]] = {}
        self.started = clock()
        self.earlier_s = 0.0  # what earlier runs of this journal's rehearsal took (run reads it)

    # -- resume ----------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        return json.dumps(
            {
                "name": self.plan.name,
                "seed": self.plan.random_seed,
                "ranges": self.allocation.fingerprint(),
                # Hyperband's bracket policy; any other strategy's name.
                **(
                    {"brackets": self.brackets.value}
                    if self.plan.hyperband is not None
                    else {"strategy": self.plan.strategy.value}
                ),
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
                f"bracket policy (this run: --brackets {self.brackets.value}): use a new "
                f"--journal, or the spec and --brackets it was made with; it holds {known}"
            )
        records = self.journal.jobs()
        for record in records:
            suggestion = self.scheduler.suggest(record.name)
            definition = self.definitions[record.name] = self.allocation.definition(record.number)
            if definition.name is not None:  # again: an older journal may lack it
                self.journal.set_definition(record.name, definition.name)
            drawn = self.allocation.own(record.number, suggestion.hyperparameters)
            if drawn != record.hyperparameters:
                raise RehearsalError(
                    f"replaying {record.name} drew other hyperparameters than "
                    "the journal holds: the journal is not this rehearsal's"
                )
            self.hyperparameters[record.name] = record.hyperparameters
        observations = self.journal.observations()
        # The median rule judges a result by the jobs ended before it.
        ends = deque(ends_in_order(records, observations))
        decided: dict[str, tuple[Decision, float]] = {}  # job -> its last decision, and when
        for index, (job, resource, value, journaled, at) in enumerate(observations):
            while ends and ends[0][0] <= index:  # the jobs that had ended before this result
                self.scheduler.on_end(ends.popleft()[1])
            replayed = self.scheduler.on_result(job, resource, value)
            if replayed.value != journaled:
                raise RehearsalError(
                    f"replaying {job} at {resource} decided {replayed.value}, "
                    f"the journal says {journaled}"
                )
            decided[job] = (replayed, at)
        for _, name in ends:
            self.scheduler.on_end(name)
        for record in records:
            if record.status is not JobStatus.IN_PROGRESS:
                continue
            self._end_leftovers(record.name)
            verdict, at = decided.get(record.name, (Decision.CONTINUE, 0.0))
            if verdict is Decision.CONTINUE:
                self.restart.append(record.name)
            else:
                self._end_as_decided(record.name, verdict, at)

    def _end_as_decided(self, name: str, decision: Decision, at: float) -> None:
        """A job stopped by a decision (early, or at MaxResource) whose end the kill kept out
        of the journal. It ends as decided, not restarted: a restarted job's next line would
        reach a scheduler that has ended it. Its end is the decision's time: it was sent
        SIGTERM then, and the time from the kill to this resume was no job's."""
        final = JobStatus.COMPLETED if decision is Decision.COMPLETE else JobStatus.STOPPED
        with self.journal.transaction():
            self.journal.end_job(name, final, self._stop_reason(decision), at)
            self._record_wall()
        self.scheduler.on_end(name)
        self._progress(
            f"{name}: {final.value} after {self.scheduler.resource(name)} "
            f"{self.definitions[name].resource} (decided before the kill; ended on resume)"
        )

    def _end_leftovers(self, name: str) -> None:
        """Hosts a killed rehearsal left running: the backend checks they are that job's."""
        ended = self.backend.end_leftovers(self.out / name)
        if ended:
            self._progress(f"{name}: ended what its killed run left running: {', '.join(ended)}")

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> Summary:
        if not self.allocation.several:  # a parent has one definition (`parent_journals`)
            sources = {n: str(c.source) for n, c in self.channels.items()}
            shape = shape_of(self.plan, sources)
            parent_journals.record_start(
                self.journal, shape, self.parents
            )  # and what a child needs
        self.earlier_s = float(self.journal.meta(WALL_SECONDS) or 0.0)
        self._replay()
        self._check_completion()  # resumed: a criterion met before is met again, at once
        try:
            while True:
                self._launch()
                if not self.running:
                    break
                for trial in list(self.running.values()):
                    for event in trial.watch.events():
                        self._on(trial, event)
                    if trial.name in self.running:
                        self._check_regex(trial)
                time.sleep(self.poll_s)
        except BaseException:
            # Ctrl-C or an error: stop every job; the journal keeps them InProgress, to resume.
            for trial in self.running.values():
                trial.job.kill()
            raise
        with self.journal.transaction():
            self._record_wall()
            parent_journals.record_end(self.journal)
        return self.summary()

    def _on(self, trial: Trial, event: Event) -> None:
        if trial.first_line is None and not isinstance(event, JobEnded):
            trial.first_line = self.clock()
        if isinstance(event, Observation):
            self._observe(trial, event)
        elif isinstance(event, Unread):
            self._check_non_finite(trial, event)
        else:
            self._finish(trial, event)

    def _launch(self) -> None:
        while len(self.running) < self.max_parallel:
            if self.restart:
                name = self.restart.pop(0)
                self._start(name, resume=True)
                self.journal.restart_job(name, self.clock())
                continue
            if self.completion.met:
                return  # AMT launches no job once a criterion is met; running ones finish
            number = len(self.hyperparameters) + 1
            if number > self.max_jobs:
                return
            name = f"{self.plan.name}-{number:03d}"
            suggestion = self.scheduler.suggest(name)
            definition = self.definitions[name] = self.allocation.definition(number)
            self.hyperparameters[name] = self.allocation.own(number, suggestion.hyperparameters)
            with self.journal.transaction():  # a job is never journaled without its definition
                self.journal.add_job(
                    number,
                    name,
                    suggestion.bracket,
                    self.hyperparameters[name],
                    definition.instance.count,
                    self.clock(),
                )
                if definition.name is not None:
                    self.journal.set_definition(name, definition.name)
            self._start(name, resume=False)

    def _start(self, name: str, resume: bool) -> None:
        definition = self.definitions[name]
        static = dict(definition.static_hyperparameters)
        if definition.script is not None:
            # The job's folder is here, not at its S3 URI: the JobSpec's script says so.
            static = {k: v for k, v in static.items() if not k.startswith(RESERVED_PREFIX)}
        tuned = {
            k: repr(v) if isinstance(v, float) else str(v)
            for k, v in self.hyperparameters[name].items()
        }
        spec = JobSpec(
            image=definition.image,
            host_count=definition.instance.count,
            channels=self.channels,
            hyperparameters={**static, **tuned},
            out=self.out / name,
            max_run_s=definition.max_runtime_s,
            # As on SageMaker: checkpoints only where the request has a CheckpointConfig.
            # (With sampling, an XGBoost job that checkpoints grows other trees, more slowly.)
            checkpoints=definition.checkpoint_uri is not None,
            resume=resume,
            script=self.script,
        )
        # A resumed job starts where the journal left it: lines it repeats are not new.
        done = self.scheduler.resource(name)
        job = self.backend.start(spec)
        # Running before anything else, so that a Ctrl-C from here on kills its hosts too.
        watch = LogWatch(job, definition.metric(self.plan.objective.metric), done)
        self.running[name] = Trial(name, watch, resource=done)
        self._progress(f"started {name}" + (" (resumed)" if resume else "") + f": {tuned}")

    def _observe(self, trial: Trial, observation: Observation) -> None:
        """One objective line is one unit of resource: iteration N is resource N + 1."""
        if trial.verdict is not Decision.CONTINUE:
            return  # lines printed while it stops: AMT has decided already
        trial.resource = observation.iteration + 1
        decision = self.scheduler.on_result(trial.name, trial.resource, observation.value)
        with self.journal.transaction():
            self.journal.observe(
                trial.name, trial.resource, observation.value, decision.value, self.clock()
            )
            self._record_wall()
        if decision is not Decision.CONTINUE:
            trial.verdict = decision
            trial.job.stop(self._stop_reason(decision))

    def _stop_reason(self, decision: Decision) -> str:
        """Why a decision stops a job: MaxResource, or who stops jobs early (Hyperband, or
        the median rule of early stopping Auto)."""
        if decision is Decision.COMPLETE:
            return "MaxResource"
        return "Hyperband" if self.plan.hyperband is not None else "early stopping (median rule)"

    def _check_non_finite(self, trial: Trial, unread: Unread) -> None:
        """An objective of nan or inf: AMT would not count that line; say so, once a job."""
        value = self._objective(trial).non_finite(unread.line)
        if value is None or trial.non_finite:
            return
        trial.non_finite = True
        at = "?" if unread.iteration is None else unread.iteration
        self._flag(
            f"{trial.name} printed a non-finite objective at [{at}] "
            f"({value}): {self.objective.name}'s regex reads no number there, so on "
            "SageMaker CloudWatch gets no datapoint and AMT neither sees nor counts that line; "
            "fix the training (a loss gone to nan: a lower learning rate, the data)"
        )

    def _objective(self, trial: Trial) -> Metric:
        """The objective as the trial's definition reads it."""
        return self.definitions[trial.name].metric(self.plan.objective.metric)

    def _flag(self, problem: str) -> None:
        self.flags.append(problem)
        self._progress(f"WARNING {problem}")

    def _check_regex(self, trial: Trial) -> None:
        """A minute of log lines and no objective read: the regex (or the image) is wrong."""
        if trial.resource or trial.first_line is None or trial.non_finite:
            return
        if self.clock() - trial.first_line >= REGEX_GRACE_S:
            self._regex_error(trial)

    def _regex_error(self, trial: Trial) -> None:
        sample = "\n".join(f"    {line}" for line in trial.watch.tail)
        regex = self._objective(trial).regex
        raise RehearsalError(
            f"the objective {self.objective.name}'s regex {regex!r} read nothing "
            f"in {trial.name}'s log; its last lines, as CloudWatch shows them:\n{sample}\n"
            "On SageMaker every job would run to its end unjudged: fix the regex or the image"
        )

    def _finish(self, trial: Trial, ended: JobEnded) -> None:
        del self.running[trial.name]
        if ended.metric_hosts:
            self._flag(
                f"{trial.name}: hosts {', '.join(ended.metric_hosts)} also print "
                f"{self.objective.name} lines; on SageMaker AMT would count them as resource "
                "and stop jobs early: print metrics from the leader only"
            )
        if trial.verdict is Decision.COMPLETE:  # stopped at MaxResource, which AMT completes
            final = JobStatus.COMPLETED
        elif trial.verdict is Decision.STOP:
            final = JobStatus.STOPPED
        else:
            final = ended.status
            if final is JobStatus.FAILED and self._retry(trial.name, ended.reason):
                return
            self.scheduler.on_end(trial.name)
            unread = trial.resource == 0 and trial.watch.tail and not trial.non_finite
            if final is JobStatus.COMPLETED and unread:
                self._regex_error(trial)
        with self.journal.transaction():
            self.journal.end_job(trial.name, final, ended.reason, self.clock())
            self._record_wall()
        failed = final is JobStatus.FAILED and ended.reason
        self._progress(
            f"{trial.name}: {final.value} after {trial.resource} "
            f"{self.definitions[trial.name].resource}" + (f" ({ended.reason})" if failed else "")
        )
        self._check_completion()

    def _retry(self, name: str, reason: str | None) -> bool:
        """Restart a failed job under its name if AMT would retry it (tuning.rehearsal.failures)."""
        decision = failures.on_failure(self.journal, self.definitions[name].retry, name, reason)
        if decision is not RetryDecision.RETRY:
            return False
        self._progress(f"{name}: failed ({reason}): retried, attempt {self.journal.attempts(name)}")
        # As on SageMaker, a retry finds the checkpoints its job had, if it has any.
        self._start(name, resume=self.definitions[name].checkpoint_uri is not None)
        return True

    def _check_completion(self) -> None:
        met = self.completion.update(self.journal)
        if met is not None:
            self._progress(f"{describe(met)}: no new jobs; {len(self.running)} running to finish")

    def _wall(self) -> float:
        """The seconds this rehearsal has run: this run's and its earlier runs'."""
        return self.earlier_s + self.clock() - self.started

    def _record_wall(self) -> None:
        """Journaled with each observation and end, in their transaction: a kill loses at
        most the time since the last one."""
        self.journal.set_meta(WALL_SECONDS, repr(self._wall()))

    def _progress(self, event: str) -> None:
        counts = accounting.counts(self.journal.jobs())
        self._read_to, new = self.journal.last_points_after(self._read_to)
        self._last_points.update(new)
        best = accounting.best(self._last_points, self.plan.objective.direction)
        best_text = f", best {best[1]:.6g} ({best[0]})" if best else ""
        self.on_progress(
            f"{event} | running {len(self.running)}, "
            + ", ".join(f"{k.value.lower()} {v}" for k, v in counts.items() if k.ended)
            + best_text
        )

    def summary(self) -> Summary:
        summary = accounting.summarize(
            self.journal,
            self.plan.objective.direction,
            {
                r.name: job_length(self.plan, self.definitions[r.name], r.hyperparameters)
                for r in self.journal.jobs()
            },
            self._wall(),
            self.flags,
            self.completion.details,
        )
        return parent_journals.with_parents(summary, self.plan, self.parents)
