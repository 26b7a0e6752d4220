"""Per-round checkpoints of the booster, and resuming from the newest one.

SageMaker syncs the checkpoint folder to S3 while the job runs and restores it when a
spot job restarts. Files are written whole (temporary name, then rename), so a job killed
mid-write leaves the previous checkpoint intact. Only the leader writes: every host holds
the same model.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "xgboost-checkpoint."
_NAME = re.compile(rf"^{re.escape(PREFIX)}(\d+)$")
KEEP = 2  # the newest, and one before it in case the newest is torn by a lost disk


def path_for(folder: Path, rounds_done: int) -> Path:
    return folder / f"{PREFIX}{rounds_done}"


def save(folder: Path, rounds_done: int, model: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = path_for(folder, rounds_done)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(model)
    os.replace(partial, target)
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
    """(rounds done, model bytes) of the newest checkpoint, or None."""
    checkpoints = list_checkpoints(folder)
    if not checkpoints:
        return None
    newest_path = checkpoints[-1]
    rounds = int(_NAME.match(newest_path.name).group(1))  # type: ignore[union-attr]
    return rounds, newest_path.read_bytes()
