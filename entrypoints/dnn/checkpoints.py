"""Rank 0's checkpoints: the whole training state after an epoch, or at the step a stop came.

Files are `checkpoint-<epoch>-<step>.pt` (the point training resumes from), written to a
temporary name and renamed, so a job killed mid-write never leaves a half file to resume
from. The two newest are kept.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

_NAME = re.compile(r"checkpoint-(\d+)-(\d+)\.pt")
KEEP = 2


def _position(path: Path) -> tuple[int, int] | None:
    match = _NAME.fullmatch(path.name)
    return (int(match[1]), int(match[2])) if match else None


def _oldest_first(directory: Path) -> list[Path]:
    found = [p for p in directory.glob("checkpoint-*.pt") if _position(p) is not None]
    return sorted(found, key=lambda p: _position(p) or (0, 0))


def newest(directory: Path) -> Path | None:
    found = _oldest_first(directory)
    return found[-1] if found else None


def save(directory: Path, state: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{state['epoch']:05d}-{state['step']:06d}.pt"
    partial = directory / f".{path.name}.partial"
    torch.save(state, partial)
    os.replace(partial, path)
    for old in _oldest_first(directory)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def load(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return state
