"""A small XGBoost study on the docker backend: every job as containers of the real image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from smtune.tuning.cli import main
from smtune.tuning.spec import read_data

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_xgboost_study_runs_on_the_docker_backend(
    docker_image: str, bank: Path, tmp_path: Path
) -> None:
    spec = read_data(REPO / "tuning" / "jobs" / "xgboost-bank-hyperband.yaml")[0]
    spec["static_hyperparameters"].update(num_round=9, nthread=1)
    spec["strategy"].update(min_resource=3, max_resource=9)
    spec["limits"].update(max_jobs=3, max_parallel_jobs=1)
    study = yaml.safe_load((REPO / "tuning" / "studies" / "xgboost-bank.yaml").read_text())
    study["baseline"]["hyperparameters"].update(num_round=9, nthread=1)
    study.update(tuning=spec, sizes=[1, 2], rung_check={"configurations": 1, "hosts": 1})
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    out = tmp_path / "out"
    code = main(
        [
            "study",
            str(path),
            "--channel",
            f"train={bank / 'train'}",
            "--channel",
            f"validation={bank / 'validation'}",
            "--out",
            str(out),
            "--backend",
            "docker",
            "--image",
            docker_image,
        ]
    )
    assert code == 0
    data = json.loads((out / "study.json").read_text())
    assert [b["status"] for b in data["baseline"]] == ["Completed", "Completed"]
    assert all(b["objective"] > 0.7 for b in data["baseline"])
    assert [t["hosts"] for t in data["tuned"]] == [1, 2]
    assert all(sum(t["jobs"].values()) == 3 for t in data["tuned"])
    from smtune.containers.local.docker import docker

    for listing in (("ps", "--all"), ("network", "ls")):
        labels = docker(*listing, "--format", "{{.Labels}}").stdout
        assert str(tmp_path) not in labels  # no job left a container or network behind
