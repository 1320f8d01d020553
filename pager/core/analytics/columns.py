"""Column storage for the analytics ledger: a table is a set of `array.array` columns of
one length (one row per incident, per notification, per page...), and strings are kept once
as small integer codes (`Names`).

Why columns: a year of history is some 60,000 incidents and 300,000 notifications. As
arrays of machine numbers they take a few bytes a field, a snapshot writes each as base64 of
its bytes (a year's columns in some 20 ms), and a scan over one column is what every query
does. Instants are float seconds since the epoch (UTC);
"none" is NaN for instants and -1 for codes.
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..pacing import Pause, still

__all__ = [
    "NAN",
    "NONE",
    "Codes",
    "Names",
    "Table",
    "decode_column",
    "encode_column",
    "is_none",
    "vector",
]

NONE = -1  # the code of "no value"
NAN = math.nan


def is_none(x: float) -> bool:
    return x != x  # NaN, without a call


def vector(col: array[Any], rows: Sequence[int] | None = None) -> npt.NDArray[Any]:
    """The values of `col` in `rows` (all of them when None) as a numpy array of a copy, so
    the ledger may go on while the vector is read."""
    dtype = np.float64 if col.typecode == "d" else np.dtype(col.typecode)
    if rows is None:
        return np.frombuffer(col[:], dtype=dtype) if len(col) else np.zeros(0, dtype)
    if isinstance(rows, range) and rows.step == 1:
        part = col[rows.start : rows.stop]
        return np.frombuffer(part, dtype=dtype) if len(part) else np.zeros(0, dtype)
    return vector(col)[np.asarray(rows, dtype=np.intp)]


class Codes(dict[str | None, int]):
    """The code of each string. Looking a string up gives it the next code when it has none
    yet (`codes[s]` is the whole of interning: one dictionary lookup while `s` is known);
    None, "no value", is NONE."""

    __slots__ = ("strings",)

    def __init__(self, strings: list[str]) -> None:
        super().__init__((s, i) for i, s in enumerate(strings))
        self[None] = NONE
        self.strings = strings

    def __missing__(self, s: str) -> int:
        c = self[s] = len(self.strings)
        self.strings.append(s)
        return c


class Names:
    """Strings kept once, each known by its code (its position in `strings`)."""

    __slots__ = ("codes", "strings")

    def __init__(self, strings: Iterable[str] = ()) -> None:
        self.strings: list[str] = list(strings)
        self.codes = Codes(self.strings)

    def code(self, s: str | None) -> int:
        return self.codes[s]

    def find(self, s: str | None) -> int:
        """The code of `s`, or NONE when it was never seen (nothing is added)."""
        return self.codes.get(s, NONE)

    def name(self, code: int) -> str | None:
        return None if code < 0 else self.strings[code]

    def copy(self) -> Names:
        """A copy that may go on apart (the dictionary copied, not rebuilt)."""
        names = Names.__new__(Names)
        names.strings = list(self.strings)
        names.codes = Codes.__new__(Codes)
        dict.update(names.codes, self.codes)
        names.codes.strings = names.strings
        return names


class Table:
    """Named columns of one length. `spec` maps each column's name to its array typecode:
    "d" for instants and durations (NaN: none), "i" for codes and counts (-1: none).

    Writing: the fold adds a row by `new_row()` and sets the columns that differ from their
    blank (`blanks`: what a column holds in a row not yet written, "none" unless given)
    through `w`, each column's memoryview: a store through a memoryview converts the number
    directly, where `array.append` and an array's own item store go through CPython's
    general argument parser for every value (3% of a new-incident request's instructions,
    when a row was 25 appends). The columns are kept longer than `n` for that, their spare
    rows blank, grown an eighth at a time; `cols` gives them cut to `n` rows (and the next
    row grows them again), `copy` and `to_snapshot` read the first `n` rows. So a row of
    an incident is `new_row()` and 7 stores, not 25 calls."""

    __slots__ = ("_blank", "_cap", "_cols", "n", "spec", "w")
    w: dict[str, Any]  # name -> memoryview (typeshed types its items as int; "d" holds floats)

    def __init__(self, spec: Mapping[str, str], blanks: Mapping[str, float] | None = None) -> None:
        self.spec = dict(spec)
        self.n = 0
        self._blank = {
            name: (NAN if tc == "d" else NONE) if blanks is None or name not in blanks
            else blanks[name]
            for name, tc in self.spec.items()
        }  # fmt: skip
        self._set({name: array(tc) for name, tc in self.spec.items()}, 0)

    def _set(self, cols: dict[str, array[Any]], n: int) -> None:
        """`cols`, each of `n` rows (or more: spare blank rows)."""
        self._cols = cols
        self.n = n
        self._cap = min(map(len, cols.values()), default=0)
        self.w = {name: memoryview(col) for name, col in cols.items()}

    def _release(self) -> None:
        for view in self.w.values():
            view.release()  # (an array with a buffer exported cannot change its length)

    def new_row(self) -> int:
        """A new row, blank (see `blanks`): its index. Set its values through `w`."""
        row = self.n
        if row == self._cap:
            more = max(64, row >> 3)
            self._release()
            blank = self._blank
            for name, col in self._cols.items():
                col.extend(array(col.typecode, (blank[name],)) * more)
            self._set(self._cols, row)
        self.n = row + 1
        return row

    @property
    def cols(self) -> dict[str, array[Any]]:
        """The columns, `n` rows each (to read; the fold writes through `w`)."""
        if self._cap != self.n:
            self._release()
            for col in self._cols.values():
                del col[self.n :]
            self._set(self._cols, self.n)
        return self._cols

    def __len__(self) -> int:
        return self.n

    def pick(self, rows: Sequence[int], *names: str) -> Iterator[tuple[Any, ...]]:
        """The values of the columns `names` in `rows`, a tuple per row (a scan that reads
        only the columns it needs, without an index operation per value in Python)."""
        cols = [self.cols[name] for name in names]
        if isinstance(rows, range) and rows.step == 1:
            return zip(*(col[rows.start : rows.stop] for col in cols), strict=True)
        return zip(*(map(col.__getitem__, rows) for col in cols), strict=True)

    def _rows(self) -> Iterator[tuple[str, array[Any]]]:
        """Each column's first `n` rows, as a copy."""
        n = self.n
        for name, col in self._cols.items():
            yield name, col[:n]

    def copy(self) -> Table:
        t = Table.__new__(Table)
        t.spec = self.spec
        t._blank = self._blank
        t._set(dict(self._rows()), self.n)
        return t

    def to_snapshot(self, pause: Pause = still) -> dict[str, str]:
        """The columns as text (`encode_column`): a copy the snapshot writer may serialize
        in its own thread while this table goes on changing. (Called on a `copy()` in that
        thread, with its `pause`, pacing.py.)"""
        return {name: encode_column(col, pause) for name, col in self._rows()}

    @classmethod
    def from_snapshot(
        cls,
        spec: Mapping[str, str],
        data: Mapping[str, Any],
        blanks: Mapping[str, float] | None = None,
    ) -> Table:
        """Columns as `to_snapshot` gave them. A column the snapshot does not have (added
        since) is filled with "none"."""
        t = cls(spec, blanks)
        cols = dict(t._cols)
        n = None
        for name, tc in spec.items():
            raw = data.get(name)
            if raw is None:
                continue
            col = decode_column(tc, raw)
            if col.typecode != tc:
                raise ValueError(f"analytics column {name}: type {col.typecode}, not {tc}")
            cols[name] = col
            if n is not None and len(col) != n:
                raise ValueError(f"analytics column {name} has {len(col)} rows, not {n}")
            n = len(col)
        for name, tc in spec.items():
            if name not in data and n:
                cols[name] = array(tc, [NAN if tc == "d" else NONE]) * n
        t._release()
        t._set(cols, n or 0)
        return t


_SWAP = sys.byteorder == "big"  # snapshots hold little-endian numbers on every machine
# bytes encoded in one call: about half a millisecond; a multiple of 3, so the pieces' base64
# put together is that of the whole
ENCODE_PIECE = 3 << 17


def encode_column(col: array[Any], pause: Pause = still) -> str:
    """A column as text for a JSON snapshot: base64 of its little-endian bytes (a long one
    in pieces, with a `pause` between them)."""
    if _SWAP:
        col = array(col.typecode, col)
        col.byteswap()
    with memoryview(col) as view, view.cast("B") as raw:
        if len(raw) <= ENCODE_PIECE:
            return base64.b64encode(raw).decode("ascii")
        parts = []
        for j in range(0, len(raw), ENCODE_PIECE):
            if j:
                pause()
            parts.append(binascii.b2a_base64(raw[j : j + ENCODE_PIECE], newline=False))
        return b"".join(parts).decode("ascii")


def decode_column(typecode: str, text: str | Sequence[float]) -> array[Any]:
    if not isinstance(text, str):  # a plain list of numbers (hand-written, or old)
        return array(typecode, text)
    col = array(typecode)
    col.frombytes(base64.b64decode(text))
    if _SWAP:
        col.byteswap()
    return col
