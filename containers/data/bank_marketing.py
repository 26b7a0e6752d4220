"""UCI Bank Marketing data, preprocessed as in AWS's "xgboost direct marketing" notebook.

The output is one folder per SageMaker channel (``train``, ``validation``, ``test``), each holding
headerless CSV with the label first, which is what the built-in XGBoost algorithm and our own
entry points read with ``content_type="text/csv"``.
"""

from __future__ import annotations

import itertools
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smtune.containers.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

BUNDLED_ZIP = "bank-additional.zip"
FULL_CSV_SUFFIX = "bank-additional-full.csv"
SEED = 1729
# Cumulative split points: 85% train, 5% validation, 10% test.
TRAIN_END = 0.85
VALIDATION_END = 0.90
NOT_WORKING_JOBS = ("student", "retired", "unemployed")
# duration is only known once the call is over, so it leaks the outcome; the notebook also dropped
# the macro-economic indicators.
DROPPED = (
    "duration",
    "emp.var.rate",
    "cons.price.idx",
    "cons.conf.idx",
    "euribor3m",
    "nr.employed",
)
REQUIRED = ("y", "pdays", "job")
LABELS = frozenset({"yes", "no"})


@dataclass(frozen=True)
class PreparedData:
    """What `prepare` wrote: the output root, split sizes, feature names and train shard files."""

    out: Path
    train_rows: int
    validation_rows: int
    test_rows: int
    features: tuple[str, ...]
    train_files: tuple[Path, ...]


def bundled_source() -> Path:
    """Path of the UCI ``bank-additional.zip`` shipped inside the ``containers.data`` package."""
    return Path(__file__).resolve().parent / BUNDLED_ZIP


def prepare(source: Path | None, out: Path, shards: int = 1) -> PreparedData:
    """Read the raw data, preprocess it and write the train/validation/test channels under `out`.

    `source` is ``bank-additional-full.csv`` or a zip containing it; None means the bundled zip.
    Train is split into `shards` contiguous files so each host of a ShardedByS3Key job gets one.
    """
    import pandas as pd  # noqa: F401  (fail here, with a clear ImportError, if pandas is missing)

    source = bundled_source() if source is None else Path(source)
    _check_shards(shards)
    raw = _read(source)
    _check_raw(raw)
    label, features = _encode(raw)
    train, validation, test = _split(label, features)
    if shards > len(train[0]):
        raise BadInput(
            f"shards={shards} is out of range: must be shards <= train rows ({len(train[0])}), "
            "since every shard needs at least one row"
        )
    out = Path(out)
    train_files = _write_train(out / "train", *train, shards)
    _write_csv(out / "validation" / "validation.csv", *validation)
    _write_csv(out / "test" / "test.csv", *test)
    names = tuple(str(c) for c in features.columns)
    (out / "features.txt").write_text("".join(f"{n}\n" for n in names))
    logger.info(
        "wrote %d train rows in %d shard(s), %d validation, %d test, %d features to %s",
        len(train[0]),
        shards,
        len(validation[0]),
        len(test[0]),
        len(names),
        out,
    )
    return PreparedData(
        out=out,
        train_rows=len(train[0]),
        validation_rows=len(validation[0]),
        test_rows=len(test[0]),
        features=names,
        train_files=train_files,
    )


def _check_shards(shards: int) -> None:
    # bool is an int subclass; shards=True is almost certainly a mistake.
    if isinstance(shards, bool) or not isinstance(shards, int):
        raise BadInput(f"shards={shards!r} is invalid: must be an int")
    if shards < 1:
        raise BadInput(f"shards={shards} is out of range: must be shards >= 1")


def _read(source: Path) -> pd.DataFrame:
    import pandas as pd

    if not source.is_file():
        raise BadInput(f"source={source} does not exist")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(source, sep=";")
    if suffix == ".zip":
        with zipfile.ZipFile(source) as archive, archive.open(_member(archive, source)) as f:
            return pd.read_csv(f, sep=";")
    raise BadInput(f"source={source} has suffix {source.suffix!r}: must be .csv or .zip")


def _member(archive: zipfile.ZipFile, source: Path) -> str:
    # The UCI zip also carries macOS resource forks (__MACOSX/._*) with the same file names.
    names = [
        n
        for n in archive.namelist()
        if n.endswith(FULL_CSV_SUFFIX) and not n.startswith("__MACOSX")
    ]
    if len(names) != 1:
        raise BadInput(
            f"source={source} has {len(names)} members ending in {FULL_CSV_SUFFIX} "
            f"(outside __MACOSX/): must have exactly one"
        )
    return names[0]


def _check_raw(raw: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise BadInput(
            f"source columns lack {', '.join(missing)}: must include {', '.join(REQUIRED)}"
        )
    # Anything but yes/no (typos, blanks) would silently become label 0.
    bad = sorted({str(v) for v in raw["y"].unique()} - LABELS)
    if bad:
        raise BadInput(f"y has values {bad}: must be only 'yes' or 'no'")
    if len(raw) == 0:
        raise BadInput("source has 0 rows: must have at least one data row")


def _encode(raw: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    import numpy as np
    import pandas as pd

    data = raw.copy()
    data["no_previous_contact"] = np.where(data["pdays"] == 999, 1, 0)
    data["not_working"] = np.where(data["job"].isin(NOT_WORKING_JOBS), 1, 0)
    # The notebook one-hot encoded y too and then dropped y_no/y_yes from the features; taking y
    # out first gives the same feature columns and still works if a sample holds only one class.
    label = (data.pop("y") == "yes").astype(np.int64).rename("y_yes")
    features = pd.get_dummies(data).drop(columns=[c for c in DROPPED if c in data.columns])
    return label, features


def _split(label: pd.Series, features: pd.DataFrame) -> tuple[tuple[pd.Series, pd.DataFrame], ...]:
    order = features.sample(frac=1, random_state=SEED).index
    label, features = label.loc[order], features.loc[order]
    n = len(order)
    cuts = (0, int(TRAIN_END * n), int(VALIDATION_END * n), n)
    return tuple((label.iloc[lo:hi], features.iloc[lo:hi]) for lo, hi in itertools.pairwise(cuts))


def _write_train(
    folder: Path, label: pd.Series, features: pd.DataFrame, shards: int
) -> tuple[Path, ...]:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    # A previous run with more shards would otherwise leave extra files that a training job reads.
    for stale in folder.glob("*.csv"):
        stale.unlink()
    files = []
    for i, rows in enumerate(np.array_split(np.arange(len(label)), shards)):
        path = folder / f"train-{i}.csv"
        _write_csv(path, label.iloc[rows], features.iloc[rows])
        files.append(path)
    return tuple(files)


def _write_csv(path: Path, label: pd.Series, features: pd.DataFrame) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pd.concat([label, _numeric_text(features)], axis=1)
    table.to_csv(path, header=False, index=False, lineterminator="\n")


def _numeric_text(features: pd.DataFrame) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    columns = {}
    for name, column in features.items():
        if pd.api.types.is_bool_dtype(column):
            columns[name] = column.astype(np.int64)
        elif pd.api.types.is_float_dtype(column):
            # pandas would write 1e-05; XGBoost's CSV parser and humans both prefer plain decimals.
            columns[name] = column.map(_decimal)
        else:
            columns[name] = column
    return pd.DataFrame(columns, index=features.index)


def _decimal(value: float) -> str:
    import numpy as np

    # Empty cells are what XGBoost's CSV reader treats as missing.
    return "" if np.isnan(value) else np.format_float_positional(value, trim="-")
