"""A user's script, unchanged, under the SageMaker Python SDK v2's own local mode on smtune's DNN
image: `sagemaker.pytorch.PyTorch(entry_point=..., source_dir=..., image_uri=...)` on 2 local
instances, without distribution, with torch_distributed and with mpi.

Runs in its own venv (`.venv-sdk2/bin/python -m pytest -m sdk2 tests/containers/
test_script_mode_sdk.py`): SDK v2 and v3 cannot share one. Needs the DNN image built with
script mode (`make build IMAGES=dnn`).
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
USER_SCRIPT = Path(__file__).parents[1] / "entrypoints" / "script" / "user_script.py"
DISTRIBUTIONS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "torch_distributed": {"torch_distributed": {"enabled": True}},
    "mpi": {"mpi": {"enabled": True, "processes_per_host": 1}},
}
HOW = {"none": "none", "torch_distributed": "torchrun", "mpi": "horovod"}
pytestmark = [
    pytest.mark.sdk2,
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.usefixtures("no_leftover_containers"),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", list(DISTRIBUTIONS))
def test_a_pytorch_estimators_script_runs_unchanged_on_two_local_instances(
    dnn_image: str,
    tmp_path: Path,
    fake_aws: None,
    capfd: pytest.CaptureFixture[str],
    mode: str,
) -> None:
    sagemaker = pytest.importorskip("sagemaker", minversion="2.200")
    if int(sagemaker.__version__.split(".")[0]) != 2:
        pytest.skip(f"this test is for SDK v2, found {sagemaker.__version__}")
    from sagemaker.inputs import TrainingInput
    from sagemaker.local import LocalSession
    from sagemaker.pytorch import PyTorch

    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(USER_SCRIPT, source / "train.py")
    data = tmp_path / "train"
    data.mkdir()
    (data / "part-0.csv").write_text("1,2\n3,4\n5,6\n")
    session = LocalSession()
    session.config = {"local": {"local_code": True}}  # the code mounted at /opt/ml/code
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(source),
        image_uri=dnn_image,
        framework_version="2.1",
        py_version="py310",
        role="arn:aws:iam::123456789012:role/SageMakerRole",
        instance_count=2,
        instance_type="local",
        hyperparameters={"epochs": 2, "lr": 0.05, "optimizer": "adam"},
        distribution=DISTRIBUTIONS[mode],
        output_path=f"file://{tmp_path / 'output'}",
        sagemaker_session=session,
    )
    estimator.fit({"train": TrainingInput(f"file://{data}", content_type="text/csv")})
    with tarfile.open(tmp_path / "output" / "model.tar.gz") as model:
        saved = model.extractfile("model.json")
        assert saved is not None
        result = json.loads(saved.read())
    assert result["sum"] == 3.0 and result["world"] == 2 and result["how"] == HOW[mode]
    assert result["args"] == {"epochs": 2, "lr": 0.05, "optimizer": "adam",
                              "behaviour": "train", "on_host": ""}  # fmt: skip
    logs = ANSI.sub("", capfd.readouterr().out)
    # docker compose prefixes each line with its container, e.g. `algo-1-ab3 | ...`.
    metric_hosts = [
        re.search(r"algo-\d+", prefix).group()  # type: ignore[union-attr]
        for prefix, bar, text in (line.partition("|") for line in logs.splitlines())
        if bar and text.strip().startswith("epoch=0;loss=0.025;")
    ]
    assert metric_hosts == ["algo-1"]  # the leader's rank 0 alone prints it
