"""Run a study locally: the baseline at every size, then the tuning job at every size
(rehearsed), then the rung check; each step journaled once it ends.

Order: every baseline first (they are short and show the drop at N hosts), then the tuning
jobs from the smallest size up, then the configurations run to MaxResource for the rung
check. A resumed study skips the finished steps; a tuning job cut short resumes from its own
rehearsal journal, keeping its finished training jobs.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from smtune.containers.local.job import Backend
from smtune.tuning.study import tuning_seam as seam
from smtune.tuning.study.analysis import hosts_text
from smtune.tuning.study.model import Study, StudyError
from smtune.tuning.study.results import BaselineRun, TunedRun
from smtune.tuning.study.steps import FILE, StudyJournal


class StepKind(enum.Enum):
    BASELINE = "baseline"
    TUNING = "tuning"
    RUNG_CHECK = "rung-check"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    hosts: int

    @property
    def key(self) -> str:
        if self.kind is StepKind.RUNG_CHECK:
            return self.kind.value
        return f"{self.kind.value}-{self.hosts}"

    @property
    def label(self) -> str:
        what = {
            StepKind.BASELINE: "untuned baseline",
            StepKind.TUNING: "tuning job",
            StepKind.RUNG_CHECK: "rung check (configurations run to MaxResource)",
        }[self.kind]
        return f"{what} at {hosts_text(self.hosts)}"


@dataclass(frozen=True)
class StudyResult:
    """Every finished step of a study, read back from its journal."""

    baselines: tuple[BaselineRun, ...]
    tuned: tuple[TunedRun, ...]
    rung_check: TunedRun | None
    notes: tuple[str, ...] = ()  # how a figure was obtained, where the report should say so


def steps(study: Study, sizes: Sequence[int]) -> list[Step]:
    order = sorted(sizes)
    planned = [Step(StepKind.BASELINE, n) for n in order]
    planned += [Step(StepKind.TUNING, n) for n in order]
    if study.rung_check.configurations:
        planned.append(Step(StepKind.RUNG_CHECK, study.rung_check.hosts))
    return planned


def check_inputs(study: Study, channels: Mapping[str, Path], sizes: Sequence[int]) -> None:
    """What the command line adds to the study file, checked before anything runs."""
    problems = []
    missing = [name for name in study.facts.channels if name not in channels]
    if missing:
        problems.append(
            "channels: no local data for "
            + ", ".join(missing)
            + f": give --channel {missing[0]}=DIR for each (the tuning job reads "
            + ", ".join(study.facts.channels)
            + ")"
        )
    extra = [name for name in channels if name not in study.facts.channels]
    if extra:
        problems.append(
            f"--channel {', '.join(extra)}: the tuning job has no such channel: must be one of "
            + ", ".join(study.facts.channels)
        )
    unknown = [n for n in sizes if n not in study.sizes]
    if unknown:
        problems.append(
            f"--sizes {','.join(map(str, unknown))}: not among the study's sizes: must be some "
            f"of {','.join(map(str, study.sizes))}"
        )
    if problems:
        raise StudyError(f"study {study.name}", problems)


def open_journal(study: Study, out: Path, resume: bool) -> StudyJournal:
    """The out folder's journal: this study's, or a clear error (nothing has run yet)."""
    path = out / FILE
    existed = path.exists()
    out.mkdir(parents=True, exist_ok=True)
    journal = StudyJournal(path)
    owner = journal.owner()
    problem = None
    if owner is not None and owner != (study.name, study.fingerprint):
        name, fingerprint = owner
        what = "another study" if name != study.name else "another version of this study"
        problem = (
            f"--out {out}: holds the journal of {what} ({name}, {fingerprint}; this is "
            f"{study.name}, {study.fingerprint}): choose another --out, or run the study file "
            "it was made with"
        )
    elif existed and not resume:
        problem = (
            f"--out {out}: holds this study's journal ({path}): pass --resume to continue it, "
            "or choose another --out"
        )
    if problem:
        journal.close()
        raise StudyError(f"study {study.name}", [problem])
    if owner is None:
        journal.claim(study.name, study.fingerprint)
    return journal


def result(journal: StudyJournal) -> StudyResult:
    baselines, tuned, rung_check = [], [], None
    for key, (data, _) in journal.steps().items():
        if key.startswith(StepKind.BASELINE.value):
            baselines.append(BaselineRun.from_json(data))
        elif key == StepKind.RUNG_CHECK.value:
            rung_check = TunedRun.from_json(data)
        else:
            tuned.append(TunedRun.from_json(data))
    return StudyResult(
        tuple(sorted(baselines, key=lambda b: b.hosts)),
        tuple(sorted(tuned, key=lambda t: t.hosts)),
        rung_check,
    )


class StudyRun:
    """The study's steps on `backend`, journaled in `out`."""

    def __init__(
        self,
        study: Study,
        channels: Mapping[str, Path],
        out: Path,
        journal: StudyJournal,
        backend: Backend,
        sizes: Sequence[int] | None = None,
        max_jobs: int | None = None,
        on_progress: Callable[[str], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.study, self.channels, self.out, self.journal = study, channels, out, journal
        self.backend, self.max_jobs = backend, max_jobs
        self.steps = steps(study, sizes or study.sizes)
        self.on_progress, self.clock = on_progress, clock
        self.current: Step | None = None
        self.started = 0.0  # when the current step started

    def run(self) -> StudyResult:
        for step in self.steps:
            if step.key in self.journal.steps():
                continue
            self.current = step
            self.started = self.clock()
            self._say("started")
            outcome = self._run(step)
            seconds = self.clock() - self.started
            self.journal.record(step.key, outcome.to_json(), seconds)
            self._say(f"done in {seconds:.1f} s")
        self.current = None
        return result(self.journal)

    def _run(self, step: Step) -> BaselineRun | TunedRun:
        folder = self.out / step.key
        if step.kind is StepKind.BASELINE:
            return self._baseline(step.hosts, folder)
        if step.kind is StepKind.TUNING:
            checked = self.study.plan_at(step.hosts)
            max_jobs = self.max_jobs
        else:
            spec = seam.rung_check_spec(self.study.spec, step.hosts, self.study.facts.max_resource)
            checked = seam.check(spec)
            max_jobs = self.study.rung_check.configurations
        return seam.rehearse(
            checked, self.channels, folder, self.backend, max_jobs, lambda line: self._say(line)
        )

    def _baseline(self, hosts: int, folder: Path) -> BaselineRun:
        checked = self.study.plan_at(hosts)
        spec = seam.baseline_job(checked, self.study.baseline, hosts, self.channels, folder)
        self.backend.end_leftovers(spec.out)  # a killed study's hosts of this job, if any
        with self.backend.start(spec) as job:  # leaving it, by Ctrl-C too, ends every host
            ended = job.wait()
        curve = seam.read_curve(checked, f"baseline-{hosts}", ended.leader_log)
        return BaselineRun(
            hosts=hosts,
            status=ended.status.value,
            objective=curve.final,
            wall_seconds=round(ended.wall_seconds, 3),
            billable_seconds=round(ended.wall_seconds * hosts, 3),
            curve=curve,
        )

    def _say(self, event: str) -> None:
        done = self.journal.steps()
        left = [s for s in self.steps if s.key not in done]
        estimate = self._estimate(left, done)
        step = self.current.label if self.current else "study"
        self.on_progress(
            f"[{len(self.steps) - len(left)}/{len(self.steps)} done] {step}: {event}"
            + (f" | {estimate} left" if estimate and left else "")
        )

    def _estimate(self, left: list[Step], done: Mapping[str, tuple[object, float]]) -> str:
        """What is left: a step takes what the steps of its kind took so far; a tuning job
        not yet seen at most its jobs' worth of baselines, run max_parallel at a time."""
        seconds, bound = 0.0, False
        baselines = [s for k, (_, s) in done.items() if k.startswith(StepKind.BASELINE.value)]
        for step in left:
            # The step running now has been at it for a while already.
            ran = self.clock() - self.started if step == self.current else 0.0
            same = [s for k, (_, s) in done.items() if k.startswith(step.kind.value)]
            if same:
                seconds += max(0.0, sum(same) / len(same) - ran)
                continue
            if not baselines:
                return ""  # nothing has run yet: no honest estimate
            jobs = (
                self.study.rung_check.configurations
                if step.kind is StepKind.RUNG_CHECK
                else self.max_jobs or self.study.facts.max_jobs
            )
            rounds = -(-jobs // self.study.facts.max_parallel)
            seconds += max(0.0, max(baselines) * rounds - ran)
            bound = True
        text = f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"
        return ("at most " if bound else "about ") + text
