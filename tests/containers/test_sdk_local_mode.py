"""The image under the SageMaker Python SDK's own local mode (v2), 3 hosts.

Runs in its own venv (`make test` makes .venv-sdk2): SDK v2 and v3 cannot share one.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest

from smtune.entrypoints.contract.metrics import cloudwatch_form
from smtune.entrypoints.xgboost.metrics import metric_spec

ANSI = re.compile(r"\x1b\[[0-9;]*m")
pytestmark = [
    pytest.mark.sdk2,
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.usefixtures("no_leftover_containers"),
]


@pytest.mark.timeout(600)
def test_estimator_fit_on_three_local_instances(
    docker_image: str, bank: Path, tmp_path: Path, fake_aws: None, capfd: pytest.CaptureFixture[str]
) -> None:
    sagemaker = pytest.importorskip("sagemaker", minversion="2.200")
    if int(sagemaker.__version__.split(".")[0]) != 2:
        pytest.skip(f"this test is for SDK v2, found {sagemaker.__version__}")
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.local import LocalSession

    session = LocalSession()
    session.config = {"local": {"local_code": True}}
    rounds = 20
    estimator = Estimator(
        image_uri=docker_image,
        role="arn:aws:iam::123456789012:role/SageMakerRole",
        instance_count=3,
        instance_type="local",
        hyperparameters={"num_round": rounds, "objective": "binary:logistic",
                         "eval_metric": "auc", "nthread": 1},
        output_path=f"file://{tmp_path / 'output'}",
        sagemaker_session=session,
    )  # fmt: skip
    estimator.fit(
        {
            "train": TrainingInput(f"file://{bank / 'train'}", content_type="text/csv"),
            "validation": TrainingInput(f"file://{bank / 'validation'}", content_type="text/csv"),
        },
        wait=True,
        logs=True,
    )
    with tarfile.open(tmp_path / "output" / "model.tar.gz") as model:
        assert "xgboost-model" in model.getnames()
    logs = ANSI.sub("", capfd.readouterr().out)
    # docker-compose prefixes each line with its container, e.g. `x1y2-algo-1-ab3 | ...`.
    auc = metric_spec("validation", "auc")
    by_host: dict[str, list[float]] = {}
    for line in logs.splitlines():
        prefix, bar, text = line.partition("|")
        host = re.search(r"algo-\d+", prefix)
        value = auc.read(cloudwatch_form(text)) if bar and host else None
        if host and value is not None:
            by_host.setdefault(host.group(), []).append(value)
    assert list(by_host) == ["algo-1"], by_host.keys()  # the leader alone prints metrics
    assert len(by_host["algo-1"]) == rounds and by_host["algo-1"][-1] > 0.7
