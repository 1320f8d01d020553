"""Long pure work over the state's lists, done a piece at a time, calling the caller's
`pause()` between pieces.

A snapshot of a large state is built in a worker thread (pager/store) while the event loop
goes on in the main one, and the two share CPython's interpreter lock: one long C call in
the worker (a `sorted()` of 36,000 incidents, a list comprehension over them) keeps the loop
waiting for as long as it runs, and between bytecodes the loop still waits up to the
interpreter's switch interval (5 ms) for the lock. So such work goes in pieces of `STEP`
items (well under a millisecond each), and the worker's `pause()` hands the lock over
between them. The result is the same as the work done at once; core knows nothing of
threads, `pause` is only a function it calls.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice, pairwise
from typing import Any, TypeVar

__all__ = ["STEP", "Pause", "joined", "pieces", "sorted_in_pieces", "still"]

T = TypeVar("T")
Pause = Callable[[], object]

STEP = 2000  # items in a piece: some 0.1-0.5 ms of the work done on each


def still() -> None:
    """No pause: the work done at once (on the event loop, or in a test)."""


def pieces(items: Iterable[T], pause: Pause) -> Iterator[list[T]]:
    """The items in lists of STEP (the last one shorter), with a pause before each list but
    the first."""
    it = iter(items)
    part = list(islice(it, STEP))
    while part:
        yield part
        part = list(islice(it, STEP))
        if part:
            pause()


def joined(parts: Iterable[list[T]]) -> list[T]:
    """The lists one after another, in one list."""
    return list(chain.from_iterable(parts))


def sorted_in_pieces(
    items: Iterable[T], pause: Pause, key: Callable[[T], Any] | None = None
) -> list[T]:
    """`sorted(items, key=key)` in pieces: runs of STEP items sorted one at a time, then
    joined when they are in order one after another (a list already sorted: the open
    incidents, numbered as they were opened), else merged a STEP at a time. The same list as
    the one sort, equal keys included: `sorted` is stable, and `heapq.merge` takes equal
    keys from the earlier run first, which holds the earlier items."""
    k: Any = key  # (None: the items themselves, as `sorted` takes it)
    runs: list[list[T]] = [sorted(part, key=k) for part in pieces(items, pause)]
    if len(runs) <= 1:
        return runs[0] if runs else []
    pause()
    first: Callable[[T], Any] = key if key is not None else _itself
    if all(first(a[-1]) <= first(b[0]) for a, b in pairwise(runs)):
        return joined(runs)
    return joined(pieces(heapq.merge(*runs, key=k), pause))


def _itself(x: T) -> T:
    return x
