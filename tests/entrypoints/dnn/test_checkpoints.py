"""The DNN's checkpoints (the toolkit's, tests/entrypoints/toolkit/test_checkpoints.py): one
without a key the worker reads back is damaged, and the resume falls back past it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the DNN needs torch")

from smtune.entrypoints.dnn.model import build  # noqa: E402
from smtune.entrypoints.dnn.worker import CHECKPOINT_KEYS  # noqa: E402
from smtune.entrypoints.toolkit.checkpoints import Checkpoints  # noqa: E402


def state(epoch: int) -> dict[str, Any]:
    model = build()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return {
        "epoch": epoch,
        "step": 0,
        "loss_shares": [[0.0, 0.0]],
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        "world": 1,
    }


@pytest.mark.parametrize("key", sorted(CHECKPOINT_KEYS))
def test_a_checkpoint_without_a_key_the_worker_reads_falls_back_to_the_one_before(
    tmp_path: Path, key: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RANK", raising=False)
    checkpoints = Checkpoints(tmp_path, required=CHECKPOINT_KEYS)
    checkpoints.save(state(1), epoch=1)
    lacking = state(2)
    del lacking[key]
    newest = checkpoints.save(lacking, epoch=2)
    with caplog.at_level(logging.WARNING):
        found = checkpoints.resume()
    assert found is not None and found.state["epoch"] == 1
    assert f"checkpoint {newest} is damaged (no {key})" in caplog.text
