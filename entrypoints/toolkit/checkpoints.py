"""Checkpoints in the job's CheckpointConfig folder, and resuming from the newest whole one.

SageMaker keeps one folder for a later job: CheckpointConfig.LocalPath (by default
/opt/ml/checkpoints), synced with its S3Uri. Only a job with a CheckpointConfig has one, so
only then is saving worth its time; `Checkpoints.from_environment()` reads that from the
contract's config files (there is no SM_ variable for it).

Files are `checkpoint-<epoch>-<step>.pt`, the point training resumes from, written whole
and flushed (`contract.durable.write_whole`): a job killed mid-write never leaves a half
file to resume from, and a full disk fails naming the file. The newest `keep` are kept. A
resumed job skips a damaged newest one for the one before, with a warning naming it.

    checkpoints = Checkpoints.from_environment()
    resumed = checkpoints.resume()  # rank 0 reads, every rank gets it; None at first
    if resumed is not None:
        model.load_state_dict(resumed.state["model"])
    ...
    checkpoints.save({"model": model.state_dict()}, epoch=epoch + 1)  # rank 0 writes
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smtune.entrypoints.contract.config import read_checkpoint_dir
from smtune.entrypoints.contract.durable import write_whole
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.toolkit import distributed

logger = logging.getLogger(__name__)

_NAME = re.compile(r"checkpoint-(\d+)-(\d+)\.pt")
DAMAGED_SUFFIX = ".damaged"


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back: where it was and what it holds."""

    path: Path
    state: dict[str, Any]

    @property
    def position(self) -> tuple[int, int]:
        """The (epoch, step) it was saved at, from its name."""
        return _position(self.path) or (0, 0)


@dataclass(frozen=True)
class Checkpoints:
    """A folder of checkpoints, written by global rank 0.

    Args:
        folder: Where they are.
        enabled: False where the job has no CheckpointConfig: `save` writes nothing and
            `resume` finds nothing.
        keep: How many of the newest to keep (at least 1).
        required: Keys a state must hold to be resumed from; one without them counts as
            damaged (a resume from it would only fail later).
    """

    folder: Path
    enabled: bool = True
    keep: int = 2
    required: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError(f"keep={self.keep} is out of range: must be keep >= 1")

    @classmethod
    def from_environment(
        cls, paths: ContainerPaths | None = None, *, keep: int = 2, required: Iterable[str] = ()
    ) -> Checkpoints:
        """The job's CheckpointConfig folder (LocalPath, else /opt/ml/checkpoints), enabled
        only when the job has a CheckpointConfig (checkpointconfig.json exists)."""
        paths = ContainerPaths.from_environment() if paths is None else paths
        return cls(
            folder=read_checkpoint_dir(paths),
            enabled=paths.checkpoint_config.exists(),
            keep=keep,
            required=frozenset(required),
        )

    def save(self, state: Mapping[str, Any], *, epoch: int, step: int = 0) -> Path | None:
        """Write `state` as the checkpoint of (epoch, step), on rank 0; drop the oldest.

        `state` holds what a resume may load safely (torch.load with weights_only): tensors,
        state dicts, numbers, strings, lists and dicts of them.
        Returns the file, or None on other ranks and where checkpointing is not enabled.

        Raises:
            TypeError: `state` holds other objects (say a numpy array): a resume would
                refuse the file, and training would start over.
            UserError: the disk is full (the message names the file).
            PlatformError: another failure of the disk.
        """
        if not self.enabled or not distributed.is_leader():
            return None
        import torch

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"checkpoint-{epoch:05d}-{step:06d}.pt"
        # Serialized in memory first: torch's own writer turns a full disk into a bare
        # "unexpected pos" error; write_whole names the disk and the file.
        buffer = io.BytesIO()
        torch.save(dict(state), buffer)
        _check_loadable(buffer)
        write_whole(path, buffer.getvalue())
        for old in self._oldest_first()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def newest(self) -> Path | None:
        """The newest checkpoint file, whole or not."""
        found = self._oldest_first()
        return found[-1] if found else None

    def load_newest(self) -> Checkpoint | None:
        """The newest checkpoint of this process's folder that loads whole; None if none.

        A damaged one is logged and set aside (renamed *.damaged): left in place, it would
        outrank the checkpoints this job writes next, which pruning would then delete.
        """
        if not self.folder.is_dir():
            return None
        for path in reversed(self._oldest_first()):
            problem, state = self._load(path)
            if state is not None:
                return Checkpoint(path, state)
            logger.warning(
                "checkpoint %s is damaged (%s): resuming from an older one", path, problem
            )
            path.replace(path.with_name(path.name + DAMAGED_SUFFIX))
        return None

    def resume(self) -> Checkpoint | None:
        """Rank 0's newest whole checkpoint, on every rank (a collective under
        torch.distributed or Horovod: every rank calls it); None where there is none or
        checkpointing is not enabled."""
        if not self.enabled:
            return None
        found = self.load_newest() if distributed.is_leader() else None
        if found is not None:
            logger.info("resuming from %s", found.path)
        result: Checkpoint | None = distributed.broadcast(found)
        return result

    def _load(self, path: Path) -> tuple[str, dict[str, Any] | None]:
        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises what its unpickler or zip reader hits
            return _first_line(exc), None
        if not isinstance(state, dict):
            return f"holds a {type(state).__name__}, not a dict", None
        missing = self.required - set(state)
        if missing:
            return f"no {', '.join(sorted(missing))}", None
        return "", state

    def _oldest_first(self) -> list[Path]:
        found = [p for p in self.folder.glob("checkpoint-*.pt") if _position(p) is not None]
        return sorted(found, key=lambda p: _position(p) or (0, 0))


def _check_loadable(buffer: io.BytesIO) -> None:
    """Refuse, at once, a state that `resume` would refuse for ever after."""
    import torch

    buffer.seek(0)
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(buffer)
    if unsafe:
        raise TypeError(
            f"the checkpoint's state holds {', '.join(sorted(unsafe))}: a resume loads it with "
            "torch.load(weights_only=True), which refuses them; save tensors, numbers, strings, "
            "lists and dicts (model.state_dict(), optimizer.state_dict()), or allow the types "
            "with torch.serialization.add_safe_globals"
        )


def _position(path: Path) -> tuple[int, int] | None:
    match = _NAME.fullmatch(path.name)
    return (int(match[1]), int(match[2])) if match else None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"
