"""A script's tuning job as SDK v2 would send it: SDK v2's PyTorch estimator and
HyperparameterTuner give the same static hyperparameters, archive key and archive as our plan.

Runs in .venv-sdk2 (`make test` does), where SDK v2 is installed; skipped elsewhere.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from smtune.tuning.planning.planner import plan
from smtune.tuning.request import build_request
from smtune.tuning.spec import parse, read_data

pytestmark = pytest.mark.sdk2

SHIPPED = Path(__file__).resolve().parents[2] / "tuning" / "jobs" / "script-mnist-hyperband.yaml"


def test_v2_sends_the_same_script_hyperparameters_and_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sagemaker = pytest.importorskip("sagemaker")
    if not sagemaker.__version__.startswith("2."):
        pytest.skip(f"SDK v2 test, found {sagemaker.__version__}")
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import boto3
    from botocore.stub import ANY, Stubber
    from sagemaker.pytorch import PyTorch
    from sagemaker.tuner import HyperparameterTuner

    source = tmp_path / "src"
    (source / "lib").mkdir(parents=True)
    (source / "train.py").write_text("print('hi')\n")
    (source / "lib" / "util.py").write_text("")
    data, _ = read_data(SHIPPED)
    data["source_dir"] = str(source)
    data["code_location"] = data["output_path"]  # the SDK's own default is the bucket's root
    spec = parse(data)
    ours = plan(spec, region="eu-west-1")
    source_uri, script = ours.definition.source_uri, ours.definition.script

    boto = boto3.Session(region_name="eu-west-1")
    session = sagemaker.Session(boto_session=boto, sagemaker_client=boto.client("sagemaker"))
    session.s3_resource = boto.resource("s3")
    uploaded: list[bytes] = []

    def keep_body(params: dict[str, Any], **_: Any) -> None:
        uploaded.append(params["Body"].read())
        params["Body"].seek(0)

    s3 = session.s3_resource.meta.client
    s3.meta.events.register("provide-client-params.s3.PutObject", keep_body)
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(source),
        role=spec.role,
        instance_count=spec.instance.count,
        instance_type=spec.instance.type,
        image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/smtune-dnn:0.1.0",
        framework_version="2.1",
        py_version="py310",
        hyperparameters=dict(spec.static_hyperparameters),
        distribution={"torch_distributed": {"enabled": True}},
        output_path=spec.output_path,
        code_location=spec.code_location,
        sagemaker_session=session,
    )
    assert source_uri is not None
    bucket, _, key = source_uri.removeprefix("s3://").partition("/")
    with Stubber(s3) as stub:
        expected = {"Bucket": bucket, "Key": key, "Body": ANY, "ChecksumAlgorithm": ANY}
        stub.add_response("put_object", {}, {**expected, "ServerSideEncryption": "aws:kms"})
        estimator._prepare_for_training(job_name=spec.name)
        stub.assert_no_pending_responses()
    static = HyperparameterTuner._prepare_static_hyperparameters(estimator, spec.ranges, False)
    # The SDK adds these for its `attach()`, to rebuild a PyTorch estimator; AMT ignores them.
    for name in ("sagemaker_estimator_class_name", "sagemaker_estimator_module"):
        static.pop(name)
    assert static == build_request(ours)["TrainingJobDefinition"]["StaticHyperParameters"]
    assert json.loads(static["sagemaker_submit_directory"]) == source_uri
    assert script is not None
    assert (
        names(uploaded[0])
        == names(script.archive())
        == [
            "lib",
            "lib/util.py",
            "train.py",
        ]
    )


def names(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return sorted(tar.getnames())
