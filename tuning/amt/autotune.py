"""Autotune (CreateHyperParameterTuningJob's `Autotune: {Mode: Enabled}`): what it leaves to AMT.

AWS (API reference, Autotune) says Autotune finds values for ParameterRanges, ResourceLimits,
TrainingJobEarlyStoppingType, RetryStrategy, Strategy and ConvergenceDetected; SDK v2's
HyperparameterTuner says it chooses "the parameter ranges or other unset settings". botocore's
service model still requires Strategy and ResourceLimits.MaxParallelTrainingJobs with it, and
makes MaxNumberOfTrainingJobs and TrainingJobEarlyStoppingType optional. So a spec with
`autotune: true` may leave out `limits.max_jobs` and `early_stopping`, which the request then
leaves out for AMT to choose; the strategy and the parallelism are sent as given. What AMT
does with a value it is given is not documented: the plan's warning says so.

The ranges AMT chooses are those of ParameterRanges.AutoParameters: a hyperparameter's name
and an example value (API reference, AutoParameter: "If AMT determines that your
hyperparameter is eligible for Autotune, an optimal hyperparameter range is selected for
you"). The spec's `auto_parameters` holds them, only with `autotune: true`.
"""

from __future__ import annotations

from collections.abc import Mapping

from smtune.tuning.amt.strategy import EarlyStopping, Strategy


def left_to_amt(max_jobs: int | None, early_stopping: EarlyStopping | None) -> list[str]:
    """The spec's fields an autotuned request leaves out, as `spec field (request field)`."""
    return [
        name
        for name, value in (
            ("limits.max_jobs (MaxNumberOfTrainingJobs)", max_jobs),
            ("early_stopping (TrainingJobEarlyStoppingType)", early_stopping),
        )
        if value is None
    ]


def autotune_warning(
    strategy: Strategy, max_jobs: int | None, early_stopping: EarlyStopping | None
) -> str:
    """What `plan` says of an autotuned job: what AMT chooses, and what is sent as given."""
    left = left_to_amt(max_jobs, early_stopping)
    chosen = f"AMT chooses {', '.join(left)}" if left else "the spec leaves nothing out"
    return (
        f"autotune: {chosen}; Strategy={strategy.value} and MaxParallelTrainingJobs are "
        "required by the API and sent as given. AWS lists the strategy, the ranges, the limits "
        "and early stopping among what Autotune may set, but not what it does with a value it "
        "is given: the job AMT runs may differ from this plan"
    )


def auto_parameter_problems(
    autotune: bool,
    hints: Mapping[str, object],
    static: Mapping[str, object],
    tuned: Mapping[str, object],
) -> list[str]:
    """Every reason `hints` (name -> example value) cannot be AutoParameters."""
    if hints and not autotune:
        return [
            f"auto_parameters: {', '.join(hints)} given without autotune: true: AMT chooses "
            "ranges from example values only with Autotune"
        ]
    return [
        f"auto_parameters.{name}: {name} is also {kind}: keep one"
        for name in hints
        for kind, names in (("a static hyperparameter", static), ("a tuned range", tuned))
        if name in names
    ]
