"""DNN checkpoints: a damaged newest one is skipped for the one before; a full disk is named."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from entrypoints.contract.errors import UserError
from entrypoints.dnn import checkpoints
from entrypoints.dnn.model import build
from tests.entrypoints.xgboost.test_checkpoints_hardening import tiny_disk


def state(epoch: int, step: int = 0, extra: int = 0) -> dict[str, Any]:
    model = build()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return {
        "epoch": epoch,
        "step": step,
        "loss_shares": [[0.0, 0.0]],
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        "world": 1,
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


@pytest.mark.parametrize("damage", [truncate, empty, without_optimizer], ids=lambda f: f.__name__)
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(
    tmp_path: Path, damage: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    checkpoints.save(tmp_path, state(1))
    newest = checkpoints.save(tmp_path, state(2))
    damage(newest)
    with caplog.at_level(logging.WARNING):
        found = checkpoints.load_newest(tmp_path)
    assert found is not None
    path, loaded = found
    assert (path.name, loaded["epoch"]) == ("checkpoint-00001-000000.pt", 1)
    assert str(newest) in caplog.text
    assert [p.name for p in checkpoints._oldest_first(tmp_path)] == [path.name]


def test_with_no_checkpoint_there_is_nothing_to_resume(tmp_path: Path) -> None:
    assert checkpoints.load_newest(tmp_path) is None


def test_a_full_disk_fails_saying_so_and_where_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    with tiny_disk(tmp_path / "checkpoints", size="1m") as folder:
        kept = checkpoints.save(folder, state(1))
        with pytest.raises(UserError) as raised:
            checkpoints.save(folder, state(2, extra=512 * 1024))  # 2 MB of float32
        target = folder / "checkpoint-00002-000000.pt"
        message = raised.value.message
        assert message.startswith(f"no space left on device while writing checkpoint {target}: "), (
            message
        )
        assert [p.name for p in folder.iterdir()] == [kept.name]
