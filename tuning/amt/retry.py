"""RetryStrategy: which failed training jobs AMT retries, and how they are counted.

What AWS documents (botocore sagemaker service model):
- RetryStrategy: "The retry strategy to use when a training job fails due to an
  InternalServerError"; MaximumRetryAttempts is an integer 1..30, required inside the block
  (no block: no retry). It sits in each HyperParameterTrainingJobDefinition.
- MaximumRetryAttempts: "The number of times to retry the job. When the job is retried, its
  SecondaryStatus is changed to STARTING": a retry restarts the same training job (same
  name), it does not launch a new one. So a retried job is one training job in
  MaxNumberOfTrainingJobs, however many attempts it took (our reading; AWS states no count).
- TrainingJobStatusCounters: RetryableError counts jobs that "failed, but can be retried. A
  failed training job can be retried only if it failed because an internal service error
  occurred"; NonRetryableError counts jobs that failed "because a client error occurred" and
  cannot be retried.
- StoppingCondition.MaxWaitTimeInSeconds: with a RetryStrategy it bounds all attempts
  together, not each one.

Locally, the kind of a failure comes from the failure file the contract writes: a
PlatformError (the disk, the network between hosts, a peer lost) is the platform's, like an
InternalServerError; a UserError or AlgorithmError is the job's own and is never retried. The
runner maps its failures to `FailureKind`; this module decides.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MIN_ATTEMPTS = 1  # botocore: MaximumRetryAttempts min 1
MAX_ATTEMPTS = 30  # botocore: MaximumRetryAttempts max 30


class FailureKind(enum.Enum):
    INTERNAL = "Internal"  # the platform's: AMT's InternalServerError; retryable
    CLIENT = "Client"  # the job's own (bad input, the algorithm's error): never retried


class RetryDecision(enum.Enum):
    RETRY = "Retry"  # restart the same training job; it stays one job
    RETRYABLE_ERROR = "RetryableError"  # retryable, but no attempt left: Failed
    NON_RETRYABLE_ERROR = "NonRetryableError"  # a client error: Failed at once


@dataclass(frozen=True)
class RetryStrategy:
    maximum_retry_attempts: int

    def problems(self) -> list[str]:
        value = self.maximum_retry_attempts
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"RetryStrategy.MaximumRetryAttempts={value!r}: must be an integer"]
        if not MIN_ATTEMPTS <= value <= MAX_ATTEMPTS:
            return [
                f"RetryStrategy.MaximumRetryAttempts={value}: must be {MIN_ATTEMPTS} <= "
                f"MaximumRetryAttempts <= {MAX_ATTEMPTS}"
            ]
        return []


def decide(strategy: RetryStrategy | None, kind: FailureKind, retries_done: int) -> RetryDecision:
    """What happens to a training job that just failed with `kind`, after `retries_done`
    retries (0 for its first attempt)."""
    if retries_done < 0:
        raise ValueError(f"retries_done={retries_done}: must be >= 0")
    if kind is FailureKind.CLIENT:
        return RetryDecision.NON_RETRYABLE_ERROR
    allowed = strategy.maximum_retry_attempts if strategy is not None else 0
    return RetryDecision.RETRY if retries_done < allowed else RetryDecision.RETRYABLE_ERROR
