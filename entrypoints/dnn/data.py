"""MNIST-format channels: a pair of IDX files (images and labels), gzipped or not.

A channel holds exactly one images file (IDX magic 0x00000803: count x rows x columns of
uint8) and one labels file (magic 0x00000801: count uint8 labels); they are told apart by
their magic number, not their names, so `train-images-idx3-ubyte.gz` and a renamed copy read
alike. Fashion-MNIST has the same format.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smtune.entrypoints.contract.config import Channel
from smtune.entrypoints.contract.errors import UserError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
CLASSES = 10
_GZIP = b"\x1f\x8b"


@dataclass(frozen=True)
class Examples:
    images: np.ndarray  # (n, rows, columns) uint8
    labels: np.ndarray  # (n,) uint8

    def __len__(self) -> int:
        return len(self.labels)


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if not raw.startswith(_GZIP):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        raise UserError(
            f"{path} is not a readable gzip file ({exc}): upload the IDX file whole, "
            "gzipped or not",
            caused_by=exc,
        ) from exc


def read_idx(path: Path) -> np.ndarray:
    """An IDX file's array, checked against its header."""
    data = _read_bytes(path)
    if len(data) < 4:
        raise UserError(f"{path} has {len(data)} bytes: an IDX file starts with a 4-byte magic")
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in (IMAGES_MAGIC, LABELS_MAGIC):
        raise UserError(
            f"{path} has magic number 0x{magic:08x}: must be 0x{IMAGES_MAGIC:08x} (images) or "
            f"0x{LABELS_MAGIC:08x} (labels), as in MNIST's IDX files"
        )
    dims = magic & 0xFF
    header = 4 + 4 * dims
    if len(data) < header:
        raise UserError(f"{path} is truncated: its header needs {header} bytes, it has {len(data)}")
    shape = struct.unpack(f">{dims}I", data[4:header])
    size = int(np.prod(shape))
    if len(data) - header < size:
        raise UserError(
            f"{path} is truncated: its header says {'x'.join(map(str, shape))} bytes of data "
            f"({size}), the file holds {len(data) - header}"
        )
    return np.frombuffer(data, np.uint8, size, header).reshape(shape)


def read_channel(channel: Channel) -> Examples:
    """The channel's images and labels, checked against each other."""
    files = channel.files()
    found: dict[int, list[Path]] = {IMAGES_MAGIC: [], LABELS_MAGIC: []}
    arrays = {}
    for path in files:
        array = read_idx(path)
        kind = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
        found[kind].append(path)
        arrays[kind] = array
    for kind, what in ((IMAGES_MAGIC, "images"), (LABELS_MAGIC, "labels")):
        if len(found[kind]) != 1:
            names = ", ".join(p.name for p in found[kind]) or "none"
            raise UserError(
                f"channel {channel.name} must hold exactly one IDX {what} file: found {names} "
                f"among {len(files)} file(s) in {channel.path}"
            )
    images, labels = arrays[IMAGES_MAGIC], arrays[LABELS_MAGIC]
    if len(images) != len(labels):
        raise UserError(
            f"channel {channel.name}: {found[IMAGES_MAGIC][0].name} holds {len(images)} images "
            f"but {found[LABELS_MAGIC][0].name} holds {len(labels)} labels: they must match"
        )
    if len(labels) == 0:
        raise UserError(f"channel {channel.name} holds no examples: upload MNIST-format data")
    if labels.max() >= CLASSES:
        raise UserError(
            f"channel {channel.name}: label {int(labels.max())} is out of range: must be "
            f"0 <= label <= {CLASSES - 1}"
        )
    return Examples(images, labels)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write uint8 images (3-d) or labels (1-d) as an IDX file, gzipped if the name ends .gz."""
    magic = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
    payload = (
        struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()
    )
    path.write_bytes(gzip.compress(payload, mtime=0) if path.suffix == ".gz" else payload)
