"""Rank 0's checkpoints: the whole training state after an epoch, or at the step a stop came.

Files are `checkpoint-<epoch>-<step>.pt` (the point training resumes from), written whole
and flushed (`durable.write_whole`), so a job killed mid-write never leaves a half file to
resume from. The two newest are kept; a resumed job skips a damaged newest one for the
one before it.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

import torch

from entrypoints.contract.durable import write_whole

logger = logging.getLogger(__name__)

_NAME = re.compile(r"checkpoint-(\d+)-(\d+)\.pt")
KEEP = 2
DAMAGED_SUFFIX = ".damaged"
# What the worker reads back from a checkpoint (`Trainer._checkpoint` writes them).
KEYS = frozenset({"epoch", "step", "loss_shares", "model", "optimizer", "rng", "world"})


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
    # Serialized in memory first: torch's own writer turns a full disk into a bare
    # "unexpected pos" error; our write names the disk and the file.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_whole(path, buffer.getvalue())
    for old in _oldest_first(directory)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def load(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def load_newest(directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that loads whole, and its state; None if there is none.

    A damaged one is logged and set aside (renamed *.damaged): left in place, it would
    outrank the checkpoints this job writes next, which pruning would then delete.
    """
    for path in reversed(_oldest_first(directory)):
        try:
            state = load(path)
            missing = KEYS - set(state) if isinstance(state, dict) else KEYS
        except Exception as exc:  # torch raises what its unpickler or zip reader hits
            problem = _first_line(exc)
        else:
            if not missing:
                return path, state
            problem = f"no {', '.join(sorted(missing))}"
        logger.warning("checkpoint %s is damaged (%s): resuming from an older one", path, problem)
        path.replace(path.with_name(path.name + DAMAGED_SUFFIX))
    return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"
