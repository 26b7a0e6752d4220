"""Every tuning test runs with the seed spec's variables set and fake AWS credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[2] / "tuning" / "jobs" / "xgboost-bank-hyperband.yaml"
SCRIPT = SEED.with_name("script-mnist-hyperband.yaml")  # a script on the DNN image
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "sagemaker.yaml"  # the SageMaker SDK sends no telemetry
    config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n"
        "      TelemetryOptOut: true\n"
    )
    for key, value in {
        "ACCOUNT": "123456789012",
        "BUCKET": "my-bucket",
        "REGISTRY": ECR,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
    }.items():
        monkeypatch.setenv(key, value)
