"""Checkpoints: rank 0 writes whole files, the newest whole one is resumed, a full disk named."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="checkpoints are torch files")

from smtune.entrypoints.contract.errors import UserError  # noqa: E402
from smtune.entrypoints.contract.paths import ContainerPaths  # noqa: E402
from smtune.entrypoints.toolkit.checkpoints import Checkpoints  # noqa: E402
from tests.conftest import tiny_disk  # noqa: E402

KEYS = frozenset({"epoch", "model", "optimizer"})


def state(epoch: int, extra: int = 0) -> dict[str, Any]:
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        **({"padding": torch.zeros(extra)} if extra else {}),
    }


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def without_optimizer(path: Path) -> None:
    # Loads fine, but a resume would fail on the missing key: "the algorithm crashed".
    saved = torch.load(path, weights_only=True)
    del saved["optimizer"]
    torch.save(saved, path)


@pytest.fixture(autouse=True)
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("RANK", "HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "SM_HOSTS"):
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize("damage", [truncate, empty, without_optimizer], ids=lambda f: f.__name__)
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(
    tmp_path: Path, damage: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    checkpoints = Checkpoints(tmp_path, required=KEYS)
    checkpoints.save(state(1), epoch=1)
    newest = checkpoints.save(state(2), epoch=2, step=7)
    assert newest is not None and newest.name == "checkpoint-00002-000007.pt"
    damage(newest)
    with caplog.at_level(logging.WARNING):
        found = checkpoints.resume()
    assert found is not None
    assert (found.path.name, found.position, found.state["epoch"]) == (
        "checkpoint-00001-000000.pt",
        (1, 0),
        1,
    )
    assert f"checkpoint {newest} is damaged" in caplog.text
    # Set aside, so the checkpoints written next are not pruned in its favour.
    assert checkpoints.newest() == found.path
    assert (tmp_path / (newest.name + ".damaged")).exists()


def test_only_the_newest_are_kept(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path, keep=2)
    for epoch in range(1, 5):
        checkpoints.save(state(epoch), epoch=epoch)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-00003-000000.pt",
        "checkpoint-00004-000000.pt",
    ]
    resumed = checkpoints.resume()
    assert resumed is not None and resumed.state["epoch"] == 4


def test_with_no_checkpoint_there_is_nothing_to_resume(tmp_path: Path) -> None:
    assert Checkpoints(tmp_path).resume() is None
    assert Checkpoints(tmp_path / "never-made").resume() is None


def test_only_rank_0_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert Checkpoints(tmp_path).save(state(1), epoch=1) is None
    assert list(tmp_path.iterdir()) == []


def test_a_job_without_a_checkpoint_config_neither_saves_nor_resumes(tmp_path: Path) -> None:
    paths = ContainerPaths(tmp_path / "ml")
    (paths.default_checkpoints).mkdir(parents=True)
    Checkpoints(paths.default_checkpoints).save(state(1), epoch=1)  # left by someone else
    checkpoints = Checkpoints.from_environment(paths)
    assert (checkpoints.folder, checkpoints.enabled) == (paths.default_checkpoints, False)
    assert checkpoints.resume() is None
    assert checkpoints.save(state(2), epoch=2) is None
    assert len(list(paths.default_checkpoints.iterdir())) == 1


def test_the_checkpoint_config_names_the_folder(tmp_path: Path) -> None:
    paths = ContainerPaths(tmp_path / "ml")
    paths.config.mkdir(parents=True)
    local = tmp_path / "elsewhere"
    paths.checkpoint_config.write_text(json.dumps({"LocalPath": str(local), "S3Uri": "s3://b/k"}))
    checkpoints = Checkpoints.from_environment(paths, keep=3, required=["epoch"])
    assert checkpoints == Checkpoints(local, enabled=True, keep=3, required=frozenset({"epoch"}))
    assert checkpoints.save(state(1), epoch=1) == local / "checkpoint-00001-000000.pt"


def test_a_state_that_a_resume_would_refuse_is_refused_when_saved(tmp_path: Path) -> None:
    import numpy as np

    with pytest.raises(TypeError, match=r"holds numpy\..*: a resume loads it with torch.load"):
        Checkpoints(tmp_path).save({"epoch": 1, "order": np.arange(3)}, epoch=1)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_fails_saying_so_and_where_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    with tiny_disk(tmp_path / "checkpoints", size="1m") as folder:
        checkpoints = Checkpoints(folder)
        kept = checkpoints.save(state(1), epoch=1)
        assert kept is not None
        with pytest.raises(UserError) as raised:
            checkpoints.save(state(2, extra=512 * 1024), epoch=2)  # 2 MB of float32
        target = folder / "checkpoint-00002-000000.pt"
        message = raised.value.message
        assert message.startswith(f"no space left on device while writing checkpoint {target}: "), (
            message
        )
        assert [p.name for p in folder.iterdir()] == [kept.name]
