"""Interval algebra for schedules: cutting coverage by windows and stacking it into one timeline.

`pager.core.schedule` turns layers and overrides into lists of coverage pieces (a half-open
UTC interval and who covers it); this module combines them: restriction windows cut a
layer's shifts (`intersect`), and the layers and overrides are stacked, the later on top,
into the one timeline people see (`stack`). Plain sorted-list sweeps, linear in the input.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

__all__ = ["Interval", "Piece", "Span", "intersect", "stack", "union"]

Interval = tuple[datetime, datetime]
"""A half-open interval [start, end)."""

Piece = tuple[datetime, datetime, str]
"""[start, end) and the user who covers it."""

Span = tuple[datetime, datetime, str, str]
"""[start, end), the user on call, and the label of the source they come from."""


def union(intervals: list[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering the same instants; touching ones are joined."""
    merged: list[Interval] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def intersect(pieces: list[Piece], windows: list[Interval]) -> list[Piece]:
    """The parts of sorted disjoint `pieces` that lie inside sorted disjoint `windows`."""
    kept: list[Piece] = []
    i = j = 0
    while i < len(pieces) and j < len(windows):
        begin, finish, user = pieces[i]
        opens, closes = windows[j]
        if max(begin, opens) < min(finish, closes):
            kept.append((max(begin, opens), min(finish, closes), user))
        if finish <= closes:
            i += 1
        else:
            j += 1
    return kept


def stack(sources: list[tuple[str, list[Piece]]], start: datetime, end: datetime) -> list[Span]:
    """Stack `sources` (later ones on top) and read off who is visible over [start, end).

    Each source is (label, sorted disjoint pieces inside [start, end)). Every piece boundary
    cuts the interval, and each cut goes to the topmost source that covers it; one forward
    pointer per source keeps this linear in cuts x sources. Consecutive spans of one user
    from one label are merged; instants no source covers are left out.
    """
    cuts = sorted({start, end, *(t for _, pieces in sources for p in pieces for t in p[:2])})
    positions = [0] * len(sources)
    timeline: list[Span] = []
    for begin, finish in pairwise(cuts):
        for index in range(len(sources) - 1, -1, -1):
            label, pieces = sources[index]
            p = positions[index]
            while p < len(pieces) and pieces[p][1] <= begin:
                p += 1
            positions[index] = p
            if p < len(pieces) and pieces[p][0] <= begin:
                user = pieces[p][2]
                if timeline and timeline[-1][1] == begin and timeline[-1][2:] == (user, label):
                    timeline[-1] = (timeline[-1][0], finish, user, label)
                else:
                    timeline.append((begin, finish, user, label))
                break
    return timeline
