"""RetryStrategy: only the platform's failures are retried, up to MaximumRetryAttempts."""

from __future__ import annotations

import pytest

from smtune.tuning.amt.retry import FailureKind, RetryDecision, RetryStrategy, decide


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (1, None),
        (30, None),
        (0, "RetryStrategy.MaximumRetryAttempts=0: must be 1 <= MaximumRetryAttempts <= 30"),
        (31, "RetryStrategy.MaximumRetryAttempts=31: must be 1 <= MaximumRetryAttempts <= 30"),
        ("3", "RetryStrategy.MaximumRetryAttempts='3': must be an integer"),
        (True, "RetryStrategy.MaximumRetryAttempts=True: must be an integer"),
    ],
)
def test_maximum_retry_attempts_follows_botocore(value: object, problem: str | None) -> None:
    assert RetryStrategy(value).problems() == ([problem] if problem else [])  # type: ignore[arg-type]


def test_an_internal_failure_is_retried_until_the_attempts_run_out() -> None:
    strategy = RetryStrategy(2)
    assert [decide(strategy, FailureKind.INTERNAL, done) for done in range(4)] == [
        RetryDecision.RETRY,
        RetryDecision.RETRY,
        RetryDecision.RETRYABLE_ERROR,
        RetryDecision.RETRYABLE_ERROR,
    ]


def test_a_client_failure_and_no_strategy_are_never_retried() -> None:
    assert decide(RetryStrategy(30), FailureKind.CLIENT, 0) is RetryDecision.NON_RETRYABLE_ERROR
    assert decide(None, FailureKind.INTERNAL, 0) is RetryDecision.RETRYABLE_ERROR
    with pytest.raises(ValueError, match="retries_done=-1: must be >= 0"):
        decide(None, FailureKind.INTERNAL, -1)
