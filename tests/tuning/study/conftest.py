"""A small study over the synthetic trainer: the whole command in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SYNTHETIC_SPEC = REPO / "tuning" / "jobs" / "synthetic-hyperband.yaml"


def synthetic_study(tmp_path: Path, seconds_per_epoch: float = 0.0, **changes: Any) -> Path:
    """A study file over the synthetic spec (sizes 1 and 2), written under `tmp_path`."""
    spec = yaml.safe_load(SYNTHETIC_SPEC.read_text())
    spec["static_hyperparameters"]["seconds_per_epoch"] = seconds_per_epoch
    data = {
        "name": "synthetic-study",
        "image": "synthetic",
        "baseline": {
            "hyperparameters": {
                "epochs": 27,
                "x": 0.9,
                "y": 1.0,
                "seconds_per_epoch": seconds_per_epoch,
            }
        },
        "sizes": [1, 2],
        "tuning": spec,
        "rung_check": {"configurations": 3, "hosts": 1},
        **changes,
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def train(tmp_path: Path) -> Path:
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "a.csv").write_text("1,1\n")
    return folder
