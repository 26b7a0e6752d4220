"""Random search: each job samples its configuration independently from the seeded generator.

AWS (Developer Guide, "How hyperparameter tuning with Amazon SageMaker works", Random search):
each training job gets a random combination of values from the ranges, and the choice does
not depend on the results of earlier jobs. So a job is never stopped for its results: it runs
to its own end, or, where the runner gives a MaxResource, is completed there. With
`TrainingJobEarlyStoppingType: Auto` the median rule (`median_stopping`) may stop it early.

Sampling is the Hyperband scheduler's (`tuning.amt.ranges.sample`): the same seed gives
the same configurations in the same order, whatever the results.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smtune.tuning.amt.ranges import Range, sample
from smtune.tuning.amt.strategy import EarlyStopping
from smtune.tuning.schedulers.base import Suggestion
from smtune.tuning.schedulers.jobs import JobBook, Unbracketed


@dataclass
class RandomSearch(Unbracketed):
    """Args:
    space: Hyperparameter name -> range.
    maximize: Whether a larger objective is better.
    seed: Seeds every draw (AMT's RandomSeed); None draws a seed from the system.
    max_resource: Completes a job at this resource; None lets every job run to its end.
    early_stopping: TrainingJobEarlyStoppingType; Auto stops jobs by the median rule.
    clock: Timestamps decisions; injected, so tests run on any time.
    """

    space: Mapping[str, Range]
    maximize: bool
    seed: int | None = None
    max_resource: int | None = None
    early_stopping: EarlyStopping = EarlyStopping.OFF
    clock: Callable[[], float] = lambda: 0.0
    _book: JobBook = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._book = JobBook(self.max_resource, self.early_stopping, self.maximize, self.clock)

    def suggest(self, job: str) -> Suggestion:
        """A configuration for a new job, drawn independently of every result."""
        return self._suggestion(job, sample(self.space, self._rng))
