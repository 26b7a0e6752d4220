"""Per-round checkpoints of the booster, and resuming from the newest whole one.

SageMaker syncs the checkpoint folder to S3 while the job runs and restores it when a
spot job restarts. Files are written whole and flushed (`durable.write_whole`), so a job
killed mid-write leaves the previous checkpoint intact. Only the leader writes: every host
holds the same model.

Each file is the model's bytes, then a trailer with their length and sha256. XGBoost
ignores bytes after a model, so a checkpoint still loads as a model file; but XGBoost does
not notice a flipped byte, and an empty model aborts the process, so a resumed job checks
the trailer instead, and falls back to an older checkpoint when the newest is damaged.
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
from pathlib import Path

from smtune.entrypoints.contract.durable import write_whole

logger = logging.getLogger(__name__)

PREFIX = "xgboost-checkpoint."
_NAME = re.compile(rf"^{re.escape(PREFIX)}(\d+)$")
KEEP = 2  # the newest, and one before it in case the newest is torn by a lost disk
_MAGIC = b"smtune-checkpoint-v1"
_TRAILER = struct.Struct(f"<{len(_MAGIC)}sQ32s")  # magic, model length, sha256 of the model
DAMAGED_SUFFIX = ".damaged"


def path_for(folder: Path, rounds_done: int) -> Path:
    return folder / f"{PREFIX}{rounds_done}"


def save(folder: Path, rounds_done: int, model: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = path_for(folder, rounds_done)
    write_whole(target, model + _trailer(model))
    for old in list_checkpoints(folder)[:-KEEP]:
        old.unlink(missing_ok=True)
    return target


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints in round order, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def newest(folder: Path) -> tuple[int, bytes] | None:
    """(rounds done, model bytes) of the newest whole checkpoint, or None.

    A damaged one is logged and set aside (renamed *.damaged): left in the round sequence,
    it would outrank the checkpoints this job writes next, which pruning would then delete.
    """
    for path in reversed(list_checkpoints(folder)):
        model, problem = _model(path.read_bytes())
        if model is not None:
            return _rounds(path), model
        logger.warning("checkpoint %s is damaged (%s): resuming from an older one", path, problem)
        path.replace(path.with_name(path.name + DAMAGED_SUFFIX))
    return None


def _rounds(path: Path) -> int:
    return int(_NAME.match(path.name).group(1))  # type: ignore[union-attr]


def _trailer(model: bytes) -> bytes:
    return _TRAILER.pack(_MAGIC, len(model), hashlib.sha256(model).digest())


def _model(data: bytes) -> tuple[bytes | None, str]:
    """The model in a checkpoint's bytes, or None and what is wrong with them."""
    if len(data) < _TRAILER.size:
        return None, f"{len(data)} bytes, too short to hold a model"
    model, trailer = data[: -_TRAILER.size], data[-_TRAILER.size :]
    magic, length, digest = _TRAILER.unpack(trailer)
    if magic != _MAGIC:
        return None, "no checkpoint trailer: cut short, or not written by this image"
    if length != len(model):
        return None, f"{len(model)} model bytes, {length} written"
    if hashlib.sha256(model).digest() != digest:
        return None, "its sha256 does not match the one written"
    return model, ""
