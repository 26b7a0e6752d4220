"""Read a channel's files into features and labels, and take this host's share of rows.

CSV (label in the first column, no header) and libsvm, as SageMaker's built-in XGBoost
reads them. Every error names the file, the line and the rule, because the user has to
find the bad cell in data that may live on S3.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from smtune.entrypoints.contract.config import Channel, S3DistributionType
from smtune.entrypoints.contract.errors import UserError

logger = logging.getLogger(__name__)


class DataFormat(enum.Enum):
    CSV = "text/csv"
    LIBSVM = "text/libsvm"


_FORMAT_ALIASES = {
    "text/csv": DataFormat.CSV,
    "csv": DataFormat.CSV,
    "text/libsvm": DataFormat.LIBSVM,
    "libsvm": DataFormat.LIBSVM,
    "text/x-libsvm": DataFormat.LIBSVM,
}


def data_format(channel: Channel) -> DataFormat:
    """The format from the channel's ContentType: `text/csv`, `text/csv;label_size=1`, ..."""
    if channel.content_type is None:
        return DataFormat.CSV
    base, *params = (part.strip() for part in channel.content_type.split(";"))
    kind = _FORMAT_ALIASES.get(base.lower())
    if kind is None:
        allowed = "text/csv, text/csv;label_size=1, text/libsvm"
        raise UserError(
            f"channel {channel.name} ContentType={channel.content_type!r} is not supported: "
            f"must be one of {allowed}"
        )
    for param in params:
        key, _, value = param.partition("=")
        if key.strip() == "label_size" and value.strip() != "1":
            raise UserError(
                f"channel {channel.name} ContentType={channel.content_type!r} has "
                f"label_size={value.strip()}: must be label_size=1 (one label column, first)"
            )
    return kind


@dataclass(frozen=True)
class Table:
    """Rows of one channel on this host: features (dense or CSR) and labels; `source` names
    the file whose width the table has (the widest, for libsvm), for errors."""

    features: np.ndarray | sp.csr_matrix
    labels: np.ndarray
    source: str = ""

    @property
    def sparse(self) -> bool:
        return sp.issparse(self.features)

    @property
    def rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def columns(self) -> int:
        return int(self.features.shape[1])

    def take(self, start: int, stop: int) -> Table:
        return Table(self.features[start:stop], self.labels[start:stop], self.source)


def empty_table(kind: DataFormat) -> Table:
    features = (
        sp.csr_matrix((0, 0), dtype=np.float32)
        if kind is DataFormat.LIBSVM
        else np.empty((0, 0), dtype=np.float32)
    )
    return Table(features, np.empty(0, dtype=np.float32))


_LOADTXT_ERROR = re.compile(r"could not convert string '(.*)' to \w+ at row (\d+), column (\d+)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _missing_as_nan(cell: str) -> float:
    return float(cell) if cell.strip() else np.nan


def read_csv(path: Path, channel: str) -> Table:
    """One CSV file: label first, no header; an empty cell is a missing value."""
    try:
        try:
            array = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
        except ValueError as exc:
            if "string ''" not in str(exc):
                raise
            # Missing cells are legal but rare: only then pay for the slow per-cell path.
            array = np.loadtxt(
                path, delimiter=",", dtype=np.float32, ndmin=2, converters=_missing_as_nan
            )
    except ValueError as exc:
        raise _csv_error(path, channel, exc) from exc
    if array.size == 0:
        return empty_table(DataFormat.CSV)
    if array.shape[1] < 2:
        raise UserError(
            f"{channel} file {path.name} has {array.shape[1]} column: CSV needs the label in "
            "the first column and at least one feature after it"
        )
    return Table(np.ascontiguousarray(array[:, 1:]), array[:, 0].copy(), path.name)


def _csv_error(path: Path, channel: str, exc: ValueError) -> UserError:
    match = _LOADTXT_ERROR.search(str(exc))
    if match is None:
        return UserError(f"{channel} file {path.name} is not valid CSV: {exc}", caused_by=exc)
    # numpy counts rows from 0 and columns from 1 in this message.
    cell, row, column = match.group(1), int(match.group(2)), int(match.group(3))
    if row == 0:
        header = path.open().readline().strip()
        cells = header.split(",")
        # Mostly words: a header. One word among numbers: a bad cell, reported below.
        if sum(not _is_number(c) for c in cells) > len(cells) / 2:
            return UserError(
                f"{channel} file {path.name} starts with a header row ({header[:80]!r}): "
                "CSV input must have no header; remove the first line",
            )
    return UserError(
        f"{channel} file {path.name} line {row + 1} column {column} holds {cell!r}, "
        "which is not a number: every CSV cell must be numeric (empty means missing)",
    )


def read_libsvm(path: Path, channel: str) -> Table:
    """One libsvm file: `label index:value ...` per line; indices are column numbers."""
    labels: list[float] = []
    indptr, indices, values = [0], [], []
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            tokens = line.split("#", 1)[0].split()
            if not tokens:
                continue
            try:
                labels.append(float(tokens[0]))
                for token in tokens[1:]:
                    index, _, value = token.partition(":")
                    indices.append(int(index))
                    values.append(float(value))
            except ValueError:
                raise UserError(
                    f"{channel} file {path.name} line {number} is not libsvm: expected "
                    f"'label index:value ...', got {line.strip()[:80]!r}"
                ) from None
            indptr.append(len(indices))
    if not labels:
        return empty_table(DataFormat.LIBSVM)
    if min(indices, default=0) < 0:
        raise UserError(f"{channel} file {path.name} has a negative feature index")
    width = max(indices, default=-1) + 1
    features = sp.csr_matrix(
        (np.asarray(values, np.float32), np.asarray(indices), np.asarray(indptr)),
        shape=(len(labels), width),
    )
    return Table(features, np.asarray(labels, np.float32), path.name)


def _stack(tables: list[Table], kind: DataFormat) -> Table:
    tables = [t for t in tables if t.rows]
    if not tables:
        return empty_table(kind)
    if len(tables) == 1:
        return tables[0]
    if kind is DataFormat.LIBSVM:
        widest = max(tables, key=lambda t: t.columns)
        width = widest.columns
        blocks = [sp.csr_matrix(t.features, shape=(t.rows, width)) for t in tables]
        features: np.ndarray | sp.csr_matrix = sp.vstack(blocks, format="csr")
    else:
        widths = {t.columns for t in tables}
        if len(widths) > 1:
            raise UserError(
                f"CSV files of one channel have different column counts {sorted(widths)}: "
                "every file must have the same columns"
            )
        features = np.vstack([t.features for t in tables])
        widest = tables[0]
    return Table(features, np.concatenate([t.labels for t in tables]), widest.source)


def read_channel(channel: Channel) -> Table:
    """Every file SageMaker put in the channel's folder on this host, in name order."""
    kind = data_format(channel)
    reader = read_csv if kind is DataFormat.CSV else read_libsvm
    return _stack([reader(path, channel.name) for path in channel.files()], kind)


def host_share(channel: Channel, table: Table, rank: int, world_size: int) -> Table:
    """The rows this host trains on.

    ShardedByS3Key: SageMaker already gave each host its own files. FullyReplicated: every
    host got every file, so each takes one contiguous block of rows; N hosts then train on
    the rows one host would, instead of N copies of them.
    """
    if channel.distribution is S3DistributionType.SHARDED_BY_S3_KEY or world_size == 1:
        return table
    bounds = np.linspace(0, table.rows, world_size + 1).astype(int)
    return table.take(int(bounds[rank]), int(bounds[rank + 1]))
