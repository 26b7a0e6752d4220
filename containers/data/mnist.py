"""MNIST-format data (MNIST, Fashion-MNIST) laid out as channels for the DNN image.

A source folder holds the four IDX files as published (`train-images-idx3-ubyte.gz`, ...,
`t10k-labels-idx1-ubyte.gz`; gzipped or not). `train-*` becomes channel `train`, `t10k-*`
channel `validation`. A limit keeps the first N examples of a split, for quick jobs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from smtune.containers.errors import BadInput

#: Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
SPLITS = {"train": "train", "validation": "t10k"}


@dataclass(frozen=True)
class Prepared:
    out: Path
    examples: dict[str, int]


def _split_files(source: Path, prefix: str) -> list[Path]:
    files = sorted(p for p in source.iterdir() if p.name.startswith(prefix) and "idx" in p.name)
    if len(files) != 2:
        names = ", ".join(p.name for p in files) or "none"
        raise BadInput(
            f"--source={source} must hold {prefix}-images-idx3-ubyte[.gz] and "
            f"{prefix}-labels-idx1-ubyte[.gz]: found {names}"
        )
    return files


def prepare(source: Path | None, out: Path, limits: dict[str, int | None]) -> Prepared:
    # The image's own reader and writer: what a job reads is what was checked here.
    from smtune.entrypoints.dnn.data import read_idx, write_idx

    if source is None:
        if not DEBIAN_FASHION_MNIST.is_dir():
            raise BadInput(
                "--source is required: a folder of MNIST-format IDX files (or install Debian's "
                f"dataset-fashion-mnist, which puts Fashion-MNIST in {DEBIAN_FASHION_MNIST})"
            )
        source = DEBIAN_FASHION_MNIST
    if not source.is_dir():
        raise BadInput(f"--source={source} is not a folder")
    examples = {}
    for channel, prefix in SPLITS.items():
        target = out / channel
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        limit = limits.get(channel)
        for file in _split_files(source, prefix):
            array = read_idx(file)  # checks the file before a job would
            examples[channel] = len(array) if limit is None else min(limit, len(array))
            if limit is None:
                shutil.copyfile(file, target / file.name)
            else:
                write_idx(target / file.name.removesuffix(".gz"), array[:limit])
    return Prepared(out, examples)
