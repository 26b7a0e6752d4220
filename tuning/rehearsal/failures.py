"""Retries (RetryStrategy): planned from the spec, and applied by the rehearsal to a job that
failed.

The rules are `tuning.amt.retry`'s: AMT retries only a job that failed for an
internal error, restarting the same training job (same name), which stays one job of
MaxNumberOfTrainingJobs however many attempts it takes. Locally, what kind of failure ended
a job is read from its FailureReason, which the contract's failure file gives
(`entrypoints.contract.errors`): a PlatformError (a host or peer lost, the network, the
disk) is the platform's, AMT's internal error, and is retried; a UserError or an
AlgorithmError is the job's own, a client error, and is not. A job that failed without a
failure file (a host killed by a signal, its reason cut off past 1,024 characters) is taken
as a client error: retrying what we cannot classify would hide a fault of the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtune.entrypoints.contract.errors import ERROR_KINDS, PlatformError
from smtune.tuning.amt.retry import FailureKind, RetryDecision, RetryStrategy, decide

if TYPE_CHECKING:
    from smtune.tuning.journal import Journal


def failure_kind(reason: str | None) -> FailureKind:
    """The kind of a failed job's FailureReason: the last line that names an error kind
    (the failure file ends with it, `TrainingError.reason`)."""
    for line in reversed((reason or "").splitlines()):
        kind = line.strip().split(" caused by ", 1)[0]
        if kind in ERROR_KINDS:
            return FailureKind.INTERNAL if kind == PlatformError.kind else FailureKind.CLIENT
    return FailureKind.CLIENT


def on_failure(
    journal: Journal, strategy: RetryStrategy | None, job: str, reason: str | None
) -> RetryDecision:
    """The rehearsal's hook for a job that just failed with `reason`: what AMT would do,
    the retry counted in the journal when it is one (the caller restarts the job)."""
    decision = decide(strategy, failure_kind(reason), journal.attempts(job) - 1)
    if decision is RetryDecision.RETRY:
        journal.retry_job(job)
    return decision


def status_counter(reason: str | None) -> RetryDecision:
    """A failed job's TrainingJobStatusCounters entry: RetryableError (an internal error,
    out of attempts) or NonRetryableError (a client error)."""
    if failure_kind(reason) is FailureKind.INTERNAL:
        return RetryDecision.RETRYABLE_ERROR
    return RetryDecision.NON_RETRYABLE_ERROR
