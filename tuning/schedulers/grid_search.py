"""Grid search: every combination of the categorical values, once each, in a fixed order.

AWS (Developer Guide, "How hyperparameter tuning with Amazon SageMaker works", Grid search):
only categorical parameters are supported; MaxNumberOfTrainingJobs need not be given, the
number of training jobs being the number of distinct combinations, and if given it should
equal that number. The order in which AMT launches the combinations is not documented.

Our order: hyperparameter names sorted, values in the order the spec lists them, the last
name varying fastest (as `itertools.product`). With {"booster": (gbtree, dart), "tree_method":
(exact, hist)} the jobs are (gbtree, exact), (gbtree, hist), (dart, exact), (dart,
hist). Jobs run to their own end or to MaxResource, as in Random search; the grid has no
randomness, so a RandomSeed changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smtune.tuning.amt.grid import combinations, grid_problems, grid_size
from smtune.tuning.amt.ranges import Range
from smtune.tuning.amt.strategy import EarlyStopping
from smtune.tuning.schedulers.base import Suggestion
from smtune.tuning.schedulers.jobs import JobBook, Unbracketed


@dataclass
class GridSearch(Unbracketed):
    """Args:
    space: Hyperparameter name -> categorical range; any other range is refused.
    maximize: Whether a larger objective is better (used by the median rule).
    max_resource: Completes a job at this resource; None lets every job run to its end.
    early_stopping: TrainingJobEarlyStoppingType; Auto stops jobs by the median rule.
    clock: Timestamps decisions.
    """

    space: Mapping[str, Range]
    maximize: bool
    max_resource: int | None = None
    early_stopping: EarlyStopping = EarlyStopping.OFF
    clock: Callable[[], float] = lambda: 0.0
    _book: JobBook = field(init=False)

    def __post_init__(self) -> None:
        problems = grid_problems(self.space, None)
        if problems:
            raise ValueError("; ".join(problems))
        self.size = grid_size(self.space)
        self._grid = list(combinations(self.space))
        self._suggested: list[str] = []
        self._book = JobBook(self.max_resource, self.early_stopping, self.maximize, self.clock)

    def suggest(self, job: str) -> Suggestion:
        """The next combination; asking for more than `size` jobs is a bug of the runner."""
        taken = len(self._suggested)
        if taken == self.size:
            raise ValueError(f"job {job!r}: the grid's {self.size} combinations are all taken")
        suggestion = self._suggestion(job, self._grid[taken])
        self._suggested.append(job)
        return suggestion
