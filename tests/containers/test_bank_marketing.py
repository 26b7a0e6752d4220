"""smtune.containers.data.bank_marketing on the real UCI Bank Marketing data (no mocks)."""

from __future__ import annotations

import csv
import io
import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smtune.containers.data.bank_marketing import DROPPED, PreparedData, bundled_source, prepare

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "bank-marketing"
FULL_CSV = DATA / "bank-additional-full.csv"
ZIP = DATA / "bank-additional.zip"
ROWS = 41188
# int(0.85 * 41188) = 35009 and int(0.90 * 41188) = 37069.
SPLIT = (35009, 37069 - 35009, ROWS - 37069)
FEATURES = 59

needs_data = pytest.mark.skipif(not FULL_CSV.is_file(), reason=f"{FULL_CSV} not present")


def read_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def split_files(result: PreparedData) -> list[Path]:
    return [
        result.train_files[0],
        result.out / "validation" / "validation.csv",
        result.out / "test" / "test.csv",
    ]


def read_matrix(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)


@pytest.fixture(scope="module")
def from_csv(tmp_path_factory: pytest.TempPathFactory) -> PreparedData:
    if not FULL_CSV.is_file():
        pytest.skip(f"{FULL_CSV} not present")
    return prepare(FULL_CSV, tmp_path_factory.mktemp("csv"))


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The header and first 200 rows of the real file, for the quick checks."""
    if not FULL_CSV.is_file():
        pytest.skip(f"{FULL_CSV} not present")
    lines = FULL_CSV.read_bytes().splitlines(keepends=True)[:201]
    path = tmp_path_factory.mktemp("small") / "bank-additional-full.csv"
    path.write_bytes(b"".join(lines))
    return path


@needs_data
@pytest.mark.slow
def test_split_sizes(from_csv: PreparedData) -> None:
    assert (from_csv.train_rows, from_csv.validation_rows, from_csv.test_rows) == SPLIT
    assert from_csv.train_files == (from_csv.out / "train" / "train-0.csv",)
    matrices = [read_matrix(p) for p in split_files(from_csv)]
    assert tuple(len(m) for m in matrices) == SPLIT


@needs_data
@pytest.mark.slow
def test_label_first_and_rate(from_csv: PreparedData) -> None:
    labels = np.concatenate([read_matrix(p)[:, 0] for p in split_files(from_csv)])
    assert set(np.unique(labels)) == {0.0, 1.0}
    # 4,640 of 41,188 calls ended in a subscription.
    assert labels.sum() == 4640
    assert labels.mean() == pytest.approx(0.1127, abs=5e-4)
    # Each split is a random sample, so its rate sits near the overall one.
    for path in split_files(from_csv):
        assert read_matrix(path)[:, 0].mean() == pytest.approx(0.1127, abs=0.02)


@needs_data
@pytest.mark.slow
def test_cells_numeric_and_no_header(from_csv: PreparedData) -> None:
    for path in split_files(from_csv):
        rows = list(csv.reader(io.StringIO(path.read_text())))
        widths = {len(r) for r in rows}
        assert widths == {1 + FEATURES}, path
        # A header cell, "True"/"False", a float like "1e-05" or an empty (NaN) cell would fail.
        cells = {c for r in rows for c in r}
        assert all(c.lstrip("-").isdigit() for c in cells), sorted(cells)[:10]


@needs_data
@pytest.mark.slow
def test_features_file(from_csv: PreparedData) -> None:
    names = (from_csv.out / "features.txt").read_text().splitlines()
    assert tuple(names) == from_csv.features
    assert len(names) == FEATURES == len(set(names))
    assert not set(DROPPED) & set(names)
    assert {"y", "y_yes", "y_no"}.isdisjoint(names)
    assert {"no_previous_contact", "not_working", "pdays", "job_student"} <= set(names)


@needs_data
@pytest.mark.slow
def test_indicator_columns(from_csv: PreparedData) -> None:
    names = from_csv.features
    data = np.concatenate([read_matrix(p)[:, 1:] for p in split_files(from_csv)])
    col = {n: data[:, i] for i, n in enumerate(names)}
    np.testing.assert_array_equal(col["no_previous_contact"], col["pdays"] == 999)
    idle = col["job_student"] + col["job_retired"] + col["job_unemployed"]
    np.testing.assert_array_equal(col["not_working"], idle)


@needs_data
@pytest.mark.slow
def test_matches_notebook_code(from_csv: PreparedData) -> None:
    """The notebook's own pandas steps (with our 85/5/10 split) give byte-identical files."""
    data = pd.read_csv(FULL_CSV, sep=";")
    data["no_previous_contact"] = np.where(data["pdays"] == 999, 1, 0)
    data["not_working"] = np.where(np.isin(data["job"], ["student", "retired", "unemployed"]), 1, 0)
    model_data = pd.get_dummies(data).drop(list(DROPPED), axis=1)
    # pandas >= 2 returns bool dummies; the notebook ran on pandas 1, which wrote 0/1.
    model_data = model_data.astype({c: int for c in model_data.select_dtypes(bool).columns})
    shuffled = model_data.sample(frac=1, random_state=1729)
    n = len(shuffled)
    # The notebook used np.split, which now hands back bare ndarrays for a DataFrame; same cuts.
    cuts = [0, int(0.85 * n), int(0.9 * n), n]
    splits = [shuffled.iloc[lo:hi] for lo, hi in itertools.pairwise(cuts)]
    for part, path in zip(splits, split_files(from_csv), strict=True):
        table = pd.concat([part["y_yes"], part.drop(["y_no", "y_yes"], axis=1)], axis=1)
        expected = table.to_csv(index=False, header=False, lineterminator="\n")
        assert path.read_text() == expected, path


@needs_data
@pytest.mark.slow
def test_shards_concatenate_to_one_file(
    from_csv: PreparedData, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sharded = prepare(FULL_CSV, tmp_path_factory.mktemp("sharded"), shards=3)
    assert [p.name for p in sharded.train_files] == ["train-0.csv", "train-1.csv", "train-2.csv"]
    assert sorted((sharded.out / "train").iterdir()) == list(sharded.train_files)
    pieces = [p.read_bytes() for p in sharded.train_files]
    assert b"".join(pieces) == from_csv.train_files[0].read_bytes()
    # np.array_split: 35009 = 11670 + 11670 + 11669.
    assert [len(p.splitlines()) for p in pieces] == [11670, 11670, 11669]
    others = {k: v for k, v in read_bytes(sharded.out).items() if not k.startswith("train")}
    assert others == {
        k: v for k, v in read_bytes(from_csv.out).items() if not k.startswith("train")
    }


@needs_data
@pytest.mark.slow
@pytest.mark.skipif(not ZIP.is_file(), reason=f"{ZIP} not present")
def test_zip_equals_csv(from_csv: PreparedData, tmp_path: Path) -> None:
    from_zip = prepare(ZIP, tmp_path)
    assert from_zip.features == from_csv.features
    assert read_bytes(from_zip.out) == read_bytes(from_csv.out)


@needs_data
@pytest.mark.slow
def test_default_is_bundled_zip_and_deterministic(from_csv: PreparedData, tmp_path: Path) -> None:
    assert bundled_source().is_file()
    assert bundled_source().stat().st_size == 444_572
    again = prepare(None, tmp_path)
    assert read_bytes(again.out) == read_bytes(from_csv.out)


def test_deterministic_small(small_csv: Path, tmp_path: Path) -> None:
    first = prepare(small_csv, tmp_path / "a", shards=2)
    second = prepare(small_csv, tmp_path / "b", shards=2)
    assert read_bytes(first.out) == read_bytes(second.out)
    assert (first.train_rows, first.validation_rows, first.test_rows) == (170, 10, 20)


def test_fewer_shards_clears_old_ones(small_csv: Path, tmp_path: Path) -> None:
    prepare(small_csv, tmp_path, shards=4)
    result = prepare(small_csv, tmp_path, shards=1)
    assert sorted((tmp_path / "train").iterdir()) == [tmp_path / "train" / "train-0.csv"]
    assert result.train_files == (tmp_path / "train" / "train-0.csv",)


def test_logs_instead_of_printing(
    small_csv: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys
) -> None:
    with caplog.at_level(logging.INFO, logger="smtune.containers.data.bank_marketing"):
        prepare(small_csv, tmp_path)
    assert "170 train rows" in caplog.text
    assert capsys.readouterr() == ("", "")


def test_floats_written_as_plain_decimals(small_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "floats.csv"
    data = pd.read_csv(small_csv, sep=";")
    data["tiny"] = 1e-05
    data.to_csv(path, sep=";", index=False)
    result = prepare(path, tmp_path / "out")
    column = result.features.index("tiny") + 1
    cells = {r[column] for r in csv.reader(result.train_files[0].read_text().splitlines())}
    assert cells == {"0.00001"}


@pytest.mark.parametrize("shards", [0, -1])
def test_rejects_shards_below_one(small_csv: Path, tmp_path: Path, shards: int) -> None:
    with pytest.raises(ValueError, match=rf"shards={shards} is out of range: must be shards >= 1"):
        prepare(small_csv, tmp_path, shards=shards)


@pytest.mark.parametrize("shards", [True, 2.0, "3"])
def test_rejects_non_int_shards(small_csv: Path, tmp_path: Path, shards: object) -> None:
    with pytest.raises(ValueError, match=r"shards=.* is invalid: must be an int"):
        prepare(small_csv, tmp_path, shards=shards)  # type: ignore[arg-type]


def test_rejects_more_shards_than_train_rows(small_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"shards=171 is out of range: .*train rows \(170\)"):
        prepare(small_csv, tmp_path, shards=171)
    assert not (tmp_path / "train").exists()


def test_rejects_missing_source(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "bank.csv"
    with pytest.raises(ValueError, match=rf"^source={missing} does not exist$"):
        prepare(missing, tmp_path / "out")


def test_rejects_unknown_suffix(small_csv: Path, tmp_path: Path) -> None:
    other = tmp_path / "bank.txt"
    other.write_bytes(small_csv.read_bytes())
    with pytest.raises(ValueError, match=r"suffix '\.txt': must be \.csv or \.zip"):
        prepare(other, tmp_path / "out")


@pytest.mark.parametrize(
    ("drop", "named"), [(["y"], "y"), (["y", "pdays"], "y, pdays"), (["job"], "job")]
)
def test_rejects_missing_columns(
    small_csv: Path, tmp_path: Path, drop: list[str], named: str
) -> None:
    path = tmp_path / "cut.csv"
    pd.read_csv(small_csv, sep=";").drop(columns=drop).to_csv(path, sep=";", index=False)
    with pytest.raises(ValueError, match=rf"source columns lack {named}: must include y, pdays"):
        prepare(path, tmp_path / "out")


def test_rejects_unknown_labels(small_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes(small_csv.read_bytes().replace(b'"no"\r\n', b'"maybe"\r\n', 1))
    with pytest.raises(ValueError, match=r"y has values \['maybe'\]: must be only 'yes' or 'no'"):
        prepare(path, tmp_path / "out")


def test_rejects_zip_without_member(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__MACOSX/bank-additional/._bank-additional-full.csv", b"junk")
    with pytest.raises(ValueError, match=r"has 0 members ending in bank-additional-full\.csv"):
        prepare(path, tmp_path / "out")
