"""`train` in both images: the user's script when sagemaker_program is set, else the algorithm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.lifecycle import StopFlag
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.script import dispatch
from tests.entrypoints.script.conftest import nothing_left


def test_the_algorithm_runs_without_sagemaker_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = ContainerPaths(tmp_path)
    paths.config.mkdir(parents=True)
    paths.hyperparameters.write_text(json.dumps({"num_round": "3"}))
    ran: list[str] = []
    main = dispatch.train(lambda: lambda p, s: ran.append("algorithm"))
    main(paths, StopFlag())
    assert ran == ["algorithm"]

    paths.hyperparameters.write_text(json.dumps({"sagemaker_program": '"train.py"'}))
    monkeypatch.setattr(
        "smtune.entrypoints.script.runner.main",
        lambda p, s, xgboost: ran.append(f"script {xgboost}"),
    )
    main(paths, StopFlag())
    assert ran == ["algorithm", "script False"]  # and the algorithm was not even loaded
    # The XGBoost image's script may join XGBoost's collective: the runner starts its tracker.
    dispatch.train(lambda: lambda p, s: ran.append("algorithm"), xgboost_collective=True)(
        paths, StopFlag()
    )
    assert ran[-1] == "script True"


SCRIPT = """
import os, pathlib, sys
rows = sum(len(p.read_text().splitlines())
           for p in pathlib.Path(os.environ["SM_CHANNEL_TRAIN"]).iterdir())
pathlib.Path(os.environ["SM_MODEL_DIR"], "rows.txt").write_text(str(rows))
print(f"rows={rows};", flush=True)
"""


@pytest.mark.timeout(60)
def test_the_xgboost_image_runs_a_script_too(tmp_path: Path, train_data: Path) -> None:
    from smtune.containers.local.layout import ChannelSource
    from smtune.entrypoints.contract.config import S3DistributionType

    source = tmp_path / "source"
    source.mkdir()
    (source / "fit.py").write_text(SCRIPT)
    out = tmp_path / "job"
    spec = JobSpec(
        image=image("xgboost"),
        host_count=1,
        channels={
            "train": ChannelSource(
                "train", train_data, S3DistributionType.FULLY_REPLICATED, "text/csv"
            )
        },
        hyperparameters={
            "sagemaker_program": json.dumps("fit.py"),
            "sagemaker_submit_directory": json.dumps(source.as_uri()),
        },
        out=out,
    )
    with nothing_left(out):
        result = ProcessBackend().run(spec)
    assert result.status is JobStatus.COMPLETED, result.reason
    assert (out / "algo-1" / "model" / "rows.txt").read_text() == "3"
    assert "rows=3;" in result.leader_log.read_text()
