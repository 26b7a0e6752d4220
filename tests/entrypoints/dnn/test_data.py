"""IDX channels: read back what was written, and refuse broken files with a clear reason."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from smtune.entrypoints.contract.config import Channel, S3DistributionType
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.dnn.data import read_channel, read_idx, write_idx


def channel(path: Path) -> Channel:
    return Channel("train", path, "application/x-idx", S3DistributionType.FULLY_REPLICATED)


def write_pair(folder: Path, images: int = 5, labels: int = 5, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", rng.integers(0, 256, (images, 28, 28)))
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", rng.integers(0, 10, labels))
    return folder


@pytest.mark.parametrize("gz", [True, False])
def test_a_written_pair_reads_back(tmp_path: Path, gz: bool) -> None:
    examples = read_channel(channel(write_pair(tmp_path / "train", gz=gz)))
    assert examples.images.shape == (5, 28, 28) and examples.labels.shape == (5,)


def test_the_real_mnist_test_split_reads_as_published(shared_data: Path) -> None:
    folder = shared_data / "mnist"
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    images = read_idx(folder / "t10k-images-idx3-ubyte.gz")
    assert images.shape == (10000, 28, 28)
    # The class counts the dataset's README gives for t10k.
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(labels).tolist() == counts


def test_a_wrong_magic_number_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x-images-idx3-ubyte"
    path.write_bytes(struct.pack(">I", 0x00000804) + bytes(16))
    with pytest.raises(UserError, match=r"has magic number 0x00000804: must be 0x00000803"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False])
def test_a_truncated_file_is_named(tmp_path: Path, gz: bool) -> None:
    folder = write_pair(tmp_path / "train", images=50, gz=gz)
    path = next(folder.glob("train-images*"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    rule = "is not a readable gzip file" if gz else r"is truncated: its header says 50x28x28"
    with pytest.raises(UserError, match=rule):
        read_channel(channel(folder))


def test_a_truncated_gzip_payload_is_named(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    payload = struct.pack(">IIII", 0x803, 10, 28, 28) + bytes(100)  # 7,840 bytes promised
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(UserError, match=r"truncated: its header says 10x28x28 .* holds 100"):
        read_idx(path)


def test_images_and_labels_must_be_as_many(tmp_path: Path) -> None:
    folder = write_pair(tmp_path / "train", images=5, labels=4)
    with pytest.raises(UserError, match=r"holds 5 images but .* holds 4 labels: they must match"):
        read_channel(channel(folder))


def test_a_channel_without_labels_is_named(tmp_path: Path) -> None:
    folder = write_pair(tmp_path / "train")
    next(folder.glob("train-labels*")).unlink()
    with pytest.raises(UserError, match=r"must hold exactly one IDX labels file: found none"):
        read_channel(channel(folder))


def test_a_label_out_of_range_is_named(tmp_path: Path) -> None:
    folder = write_pair(tmp_path / "train")
    write_idx(next(folder.glob("train-labels*")), np.array([0, 1, 2, 3, 12]))
    with pytest.raises(UserError, match=r"label 12 is out of range: must be 0 <= label <= 9"):
        read_channel(channel(folder))
