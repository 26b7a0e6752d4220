"""`--channel NAME=PATH`: one reader for `train`, `tune rehearse` and `study`."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtune.containers.channel_option import channel_paths
from smtune.containers.errors import BadInput
from tests.containers.test_cli import smtune


def test_each_channel_is_named_once_and_its_path_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path)
    assert channel_paths(["train=a", "validation=b"]) == {
        "train": tmp_path / "a",
        "validation": tmp_path / "b",
    }
    with pytest.raises(BadInput, match=r"^--channel train: channel train is given twice"):
        channel_paths(["train=a", "train=b"])
    with pytest.raises(BadInput, match=r"^--channel 'train' must be written NAME=DIR$"):
        channel_paths(["train"])
    with pytest.raises(BadInput, match=r"^--channel 'bad name=a': "):
        channel_paths(["bad name=a"])
    with pytest.raises(BadInput, match=r"^--channel test=nope does not exist$"):
        channel_paths(["test=nope"])


REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "tuning" / "jobs" / "synthetic-random.yaml"
STUDY = REPO / "tuning" / "studies" / "xgboost-bank.yaml"


@pytest.mark.parametrize("command", [("tune", "rehearse", str(SPEC)), ("study", str(STUDY))])
def test_rehearse_and_study_refuse_a_channel_given_twice(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    # Before one reader served all three, these two kept the last silently.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    result = smtune(
        *command, "--channel", f"train={tmp_path / 'a'}", "--channel", f"train={tmp_path / 'b'}",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--channel train: channel train is given twice: give each channel once" in result.stderr
    assert not (tmp_path / "out").exists()
