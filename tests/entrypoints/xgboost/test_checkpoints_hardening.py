"""XGBoost checkpoints: a damaged newest one, a full disk, and writes that survive a crash."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from smtune.containers.local.job import JobStatus
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.xgboost import checkpoints
from tests.conftest import RunJob, tiny_disk


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1])


def halve(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")  # what a lost instance leaves of a file never flushed


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # XGBoost itself loads such a model without a word
    path.write_bytes(bytes(data))


DAMAGES = [truncate, halve, empty, flip]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__)
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(
    tmp_path: Path, damage: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    checkpoints.save(tmp_path, 10, b"model after 10 rounds" * 50)
    newest = checkpoints.save(tmp_path, 20, b"model after 20 rounds" * 50)
    damage(newest)
    with caplog.at_level(logging.WARNING):
        assert checkpoints.newest(tmp_path) == (10, b"model after 10 rounds" * 50)
    assert any(str(newest) in r.getMessage() for r in caplog.records), caplog.text


def test_with_every_checkpoint_damaged_training_starts_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for rounds in (10, 20):
        empty(checkpoints.save(tmp_path, rounds, b"model" * 50))
    with caplog.at_level(logging.WARNING):
        assert checkpoints.newest(tmp_path) is None
    assert "xgboost-checkpoint.10" in caplog.text and "xgboost-checkpoint.20" in caplog.text
    # Set aside: a new checkpoint 10 must not be pruned as older than damaged ones.
    assert checkpoints.list_checkpoints(tmp_path) == []


def test_a_checkpoint_is_flushed_to_disk_before_and_after_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    target = checkpoints.save(tmp_path, 10, b"model" * 50)
    assert synced == [str(tmp_path / ".xgboost-checkpoint.10.partial"), str(tmp_path)]
    assert target.exists()


def test_a_full_disk_fails_saying_so_and_where_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    with tiny_disk(tmp_path / "checkpoints") as folder:
        checkpoints.save(folder, 10, b"small" * 100)
        with pytest.raises(UserError) as raised:
            checkpoints.save(folder, 20, os.urandom(256 * 1024))
        message = raised.value.message
        assert message.startswith(
            f"no space left on device while writing checkpoint {folder}/xgboost-checkpoint.20: "
        ), message
        assert sorted(p.name for p in folder.iterdir()) == ["xgboost-checkpoint.10"]


def test_a_job_resumed_past_a_damaged_checkpoint_ends_with_the_uninterrupted_model(
    run_job: RunJob, toy: Path, tmp_path: Path
) -> None:
    # Column sampling: the resume is byte-exact only through Segments' reseeding.
    hyperparameters = {"num_round": 25, "objective": "binary:logistic", "colsample_bytree": 0.5}
    out = tmp_path / "job"
    whole = run_job(toy / "train", hyperparameters, out=out, checkpoints=True)
    assert whole.status is JobStatus.COMPLETED, whole.reason
    model = out / "algo-1" / "model" / "xgboost-model"
    uninterrupted = model.read_bytes()
    damaged = out / "algo-1" / "checkpoints" / "xgboost-checkpoint.25"
    halve(damaged)
    resumed = run_job(toy / "train", hyperparameters, out=out, resume=True)
    assert resumed.status is JobStatus.COMPLETED, resumed.reason
    log = resumed.leader_log.read_text()
    assert f"{damaged}" in log and "resuming from the checkpoint after round 20" in log
    assert model.read_bytes() == uninterrupted
