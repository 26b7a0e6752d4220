"""Completion criteria and a retry strategy through SDK v2's and v3's tuners: what each
sends in CreateHyperParameterTuningJob is our request's blocks, field by field.

Each test runs in its own venv (.venv-sdk2, .venv-sdk3; `make test` does) and skips elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from smtune.tuning.request import build_request


def criteria(target: float, limit: int | None, convergence: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"target_objective": target, "convergence": convergence}
    if limit is not None:
        data["max_jobs_not_improving"] = limit
    return data


def checked_plan(target: float, limit: int | None, convergence: bool) -> Any:

    from smtune.tuning.planning.planner import plan
    from smtune.tuning.spec import parse
    from tests.tuning.test_completion import with_blocks

    return plan(parse(with_blocks(criteria(target, limit, convergence))))


def captured(boto_session: Any) -> dict[str, Any]:
    """Filled with what CreateHyperParameterTuningJob sends through `boto_session`'s clients."""
    sent: dict[str, Any] = {}
    boto_session.events.register(
        "provide-client-params.sagemaker.CreateHyperParameterTuningJob",
        lambda params, **_: sent.update(params),
    )
    return sent


def compare(sent: dict[str, Any], ours: Any) -> None:
    expected = build_request(ours)
    assert (
        sent["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"]
        == expected["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"]
    )
    assert (
        sent["TrainingJobDefinition"]["RetryStrategy"]
        == expected["TrainingJobDefinition"]["RetryStrategy"]
        == {"MaximumRetryAttempts": 2}
    )


# A target of 0 is falsy: v3 drops it, as it drops a seed of 0 (tuning.sdk puts it back).
CASES = [(0.8, 5, True), (0.0, None, False)]


@pytest.mark.sdk2
@pytest.mark.parametrize(("target", "limit", "convergence"), CASES)
def test_v2_sends_our_completion_criteria_and_retry_strategy(
    target: float, limit: int | None, convergence: bool
) -> None:
    sagemaker = pytest.importorskip("sagemaker")
    version = getattr(sagemaker, "__version__", "3 or later")
    if not version.startswith("2."):
        pytest.skip(f"SDK v2 test, found {version}")
    import boto3
    from botocore.stub import Stubber

    from smtune.tuning.sdk import v2_tuner

    ours = checked_plan(target, limit, convergence)
    boto_session = boto3.Session(region_name="eu-west-1")
    sent = captured(boto_session)
    session = sagemaker.Session(boto_session=boto_session)
    tuner, inputs = v2_tuner(ours, session)
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/x"
    with Stubber(session.sagemaker_client) as stub:
        # No expected parameters: the SDK adds keys of its own; the blocks are compared below.
        stub.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": arn})
        tuner.fit(inputs, job_name=ours.name, wait=False)
    compare(sent, ours)


@pytest.mark.sdk3
@pytest.mark.parametrize(("target", "limit", "convergence"), CASES)
def test_v3_sends_our_completion_criteria_and_retry_strategy(
    monkeypatch: pytest.MonkeyPatch, target: float, limit: int | None, convergence: bool
) -> None:
    pytest.importorskip("sagemaker.train.tuner", reason="SDK v3 is not installed here")
    import boto3
    from moto import mock_aws
    from sagemaker.core.helper.session_helper import Session

    from smtune.tuning.sdk import v3_tuner

    ours = checked_plan(target, limit, convergence)
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")  # moto has no such IAM role
    with mock_aws():
        boto_session = boto3.Session(region_name="eu-west-1")
        sent = captured(boto_session)
        tuner, inputs = v3_tuner(ours, Session(boto_session=boto_session))
        tuner.tune(inputs, job_name=ours.name, wait=False)
    compare(sent, ours)
