"""Work in pieces (core/pacing.py): the same result as at once, with a pause between
pieces; a column's base64 made in pieces is the whole's."""

from __future__ import annotations

import base64
from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pager.core import pacing
from pager.core.analytics import columns
from pager.core.pacing import pieces, sorted_in_pieces


@pytest.fixture(autouse=True)
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pacing, "STEP", 4)


@given(st.lists(st.tuples(st.integers(0, 6), st.integers()), max_size=60))
def test_sorted_in_pieces_is_sorted_equal_keys_in_their_order(
    items: list[tuple[int, int]],
) -> None:
    key = lambda x: x[0]  # noqa: E731
    assert sorted_in_pieces(items, lambda: None, key) == sorted(items, key=key)
    assert sorted_in_pieces(sorted(items, key=key), lambda: None, key) == sorted(items, key=key)
    assert sorted_in_pieces(items, lambda: None) == sorted(items)
    assert sorted_in_pieces(iter(items), lambda: None) == sorted(items)


def test_pieces_pause_between_pieces_only() -> None:
    paused: list[int] = []
    got = []
    for part in pieces(range(10), lambda: paused.append(len(got))):
        got.append(part)
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert paused == [1, 2]
    assert list(pieces([], lambda: paused.append(-1))) == [] and paused == [1, 2]


@pytest.mark.parametrize("rows", [0, 1, 2, 3, 7, 40])
def test_a_column_encoded_in_pieces_is_the_whole_column_encoded(
    rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(columns, "ENCODE_PIECE", 9)
    for col in (array("d", [k / 3 for k in range(rows)]), array("i", range(-1, rows - 1))):
        paused: list[int] = []
        text = columns.encode_column(col, lambda paused=paused: paused.append(1))
        assert text == base64.b64encode(col.tobytes()).decode("ascii")
        assert len(paused) == max(0, -(-len(col.tobytes()) // 9) - 1)
        assert columns.decode_column(col.typecode, text) == col
