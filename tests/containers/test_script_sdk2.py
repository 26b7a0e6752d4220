"""What a host of `smtune train --entry-point ...` finds in hyperparameters.json is what SDK v2's
PyTorch estimator sends for the same script, distribution and hyperparameters (local code).

Runs in .venv-sdk2 (`make test` does), where SDK v2 is installed; skipped elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smtune.containers.cli import job_spec
from smtune.containers.local.job import JobSpec, RunningJob
from smtune.containers.local.process import ProcessBackend
from smtune.containers.script import Distribution, ScriptSpec
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.tuning.cli import parser

pytestmark = pytest.mark.sdk2

HYPERPARAMETERS = {"epochs": 3, "optimizer": "adam", "lr": 0.1, "nesterov": True}
DISTRIBUTIONS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "torch_distributed": {"torch_distributed": {"enabled": True}},
    "mpi": {"mpi": {"enabled": True, "processes_per_host": 2}},
}


class Layout(ProcessBackend):
    """Lays out the hosts' trees as the process backend does, and starts nothing."""

    def _launch(self, spec: JobSpec, trees: dict[str, ContainerPaths], echo: bool) -> RunningJob:
        self.trees = trees
        return None  # type: ignore[return-value]


def sdk_v2_hyperparameters(source: Path, distribution: dict[str, Any] | None) -> dict[str, str]:
    sagemaker = pytest.importorskip("sagemaker")
    if not sagemaker.__version__.startswith("2."):
        pytest.skip(f"SDK v2 test, found {sagemaker.__version__}")
    import boto3
    from sagemaker.local import LocalSession
    from sagemaker.pytorch import PyTorch

    session = LocalSession(boto_session=boto3.Session(region_name="eu-west-1"))
    session.config = {"local": {"local_code": True}}  # file:// code, as our process hosts get
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(source),
        role="arn:aws:iam::123456789012:role/SageMakerExecutionRole",
        instance_count=2,
        instance_type="local",
        image_uri="smtune-dnn:0.1.0",
        framework_version="2.1",
        py_version="py310",
        hyperparameters=dict(HYPERPARAMETERS),  # the SDK updates the dict it is given
        distribution=distribution,
        sagemaker_session=session,
    )
    estimator._prepare_for_training(job_name="my-job")
    return dict(estimator.hyperparameters())


@pytest.mark.parametrize("mode", sorted(DISTRIBUTIONS))
def test_a_host_sees_what_sdk_v2_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("print('hi')\n")
    expected = sdk_v2_hyperparameters(source, DISTRIBUTIONS[mode])
    hp = [a for name, value in HYPERPARAMETERS.items() for a in ("--hp", f"{name}={value}")]
    hp[hp.index("nesterov=True")] = "nesterov=true"  # JSON's spelling on the command line
    argv = ["train", "dnn", "--entry-point", "train.py", "--source-dir", str(source)]
    argv += ["--distribution-mode", mode, *hp, "--hosts", "2", "--out", str(tmp_path / "my-job")]
    if mode == "mpi":
        argv += ["--processes-per-host", "2"]
    backend = Layout()
    backend.start(job_spec(parser().parse_args(argv)))
    for tree in backend.trees.values():
        assert json.loads(tree.hyperparameters.read_text()) == expected


def test_pytorchddp_is_sent_as_sdk_v2_documents_it_not_as_its_smdistributed_rewrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SDK v2.257 rewrites pytorchddp into smdistributed dataparallel, a library smtune's
    images lack; smtune sends `sagemaker_pytorch_ddp_enabled`, which they run as torchrun."""
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("")
    sdk = sdk_v2_hyperparameters(source, {"pytorchddp": {"enabled": True}})
    assert sdk["sagemaker_distributed_dataparallel_enabled"] == "true"
    ours = ScriptSpec("train.py", source, Distribution.PYTORCHDDP).hyperparameters(
        source.as_uri(), "my-job", "eu-west-1"
    )
    assert ours["sagemaker_pytorch_ddp_enabled"] == "true"
    common = set(sdk) - {
        "sagemaker_distributed_dataparallel_enabled",
        "sagemaker_distributed_dataparallel_custom_mpi_options",
    }
    assert {k: v for k, v in sdk.items() if k in common and k.startswith("sagemaker_")} == {
        k: v for k, v in ours.items() if k != "sagemaker_pytorch_ddp_enabled"
    }
