"""Bracket and rung arithmetic, checked against hand-worked cases and as properties."""

from __future__ import annotations

import doctest
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import smtune.tuning.amt.brackets as module
from smtune.tuning.amt.brackets import brackets, rungs


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1, 1, (1,)),
        (1, 3, (1, 3)),
        (1, 81, (1, 3, 9, 27, 81)),
        (1, 100, (1, 3, 9, 27, 81, 100)),
        (10, 200, (10, 30, 90, 200)),
        (30, 30, (30,)),
    ],
)
def test_rungs_by_hand(low: int, high: int, expected: tuple[int, ...]) -> None:
    assert rungs(low, high) == expected


def test_hyperband_paper_table_for_r_81() -> None:
    """Li et al. 2018, Table 1 (R = 81, η = 3): n_i of each bracket's first rung."""
    found = {b.index: (b.jobs, b.rungs[0]) for b in brackets(1, 81)}
    assert found == {0: (81, 1), 1: (34, 3), 2: (15, 9), 3: (8, 27), 4: (5, 81)}


@pytest.mark.parametrize(
    ("low", "high", "eta", "message"),
    [
        (0, 10, 3, "MinResource=0 is out of range: must be MinResource >= 1"),
        (10, 5, 3, "MaxResource=5 is out of range: must be MaxResource >= MinResource=10"),
        (1, 10, 1, "eta=1 is out of range: must be eta >= 2"),
    ],
)
def test_bad_ranges_are_named(low: int, high: int, eta: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rungs(low, high, eta)


@given(st.integers(1, 500), st.integers(0, 20_000), st.integers(2, 5))
def test_rungs_grow_by_eta_and_end_at_max(low: int, extra: int, eta: int) -> None:
    high = low + extra
    levels = rungs(low, high, eta)
    assert levels[0] == low and levels[-1] == high
    assert all(b > a for a, b in itertools.pairwise(levels))
    assert all(b == a * eta for a, b in itertools.pairwise(levels[:-1]))
    assert all(level <= high for level in levels)
    assert [b.index for b in brackets(low, high, eta)] == list(range(len(levels)))
