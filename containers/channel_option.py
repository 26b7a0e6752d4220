"""`--channel NAME=PATH`, read the same way by every command that takes it (`train`,
`tune rehearse`, `study`): a channel name SageMaker accepts, each channel named once, each
path existing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from smtune.containers.errors import BadInput
from smtune.entrypoints.contract.config import channel_name_problem

Given = tuple[str, str, Path]  # (the option as the user wrote it, the channel, its path)


def channel_options(texts: Iterable[str]) -> list[Given]:
    """Each `--channel NAME=PATH`, its syntax and name checked."""
    given = []
    for text in texts:
        name, sep, folder = text.partition("=")
        if not sep or not folder:
            raise BadInput(f"--channel {text!r} must be written NAME=DIR")
        if problem := channel_name_problem(name):
            raise BadInput(f"--channel {text!r}: {problem}")
        given.append((f"--channel {name}", name, Path(folder)))
    return given


def named_once(given: Sequence[Given]) -> dict[str, Path]:
    """Channel name -> path, in the order given; a name given twice, or a path that does not
    exist, is refused, naming the option."""
    channels: dict[str, Path] = {}
    for option, name, source in given:
        if name in channels:
            raise BadInput(f"{option}: channel {name} is given twice: give each channel once")
        if not source.exists():
            raise BadInput(f"{option}={source} does not exist")
        channels[name] = source
    return channels


def channel_paths(texts: Iterable[str]) -> dict[str, Path]:
    """Every `--channel NAME=PATH` of a command that takes no other channel option, each path
    made absolute."""
    return {name: path.resolve() for name, path in named_once(channel_options(texts)).items()}
