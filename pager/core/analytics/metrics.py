"""Running aggregates of the whole log for Prometheus: time to acknowledge and to resolve per
service as histograms, incidents per service and state, pages and interruptions per person.

The ledger updates them as events arrive (a few dictionary operations), so a scrape reads
them without scanning anything. The times to acknowledge and to resolve it keeps aside and
counts in one go (`Aggregates.observe_many`, numpy) when the aggregates are read or a few
thousand are waiting: the histograms are the same as one observation at a time.
`keeping.recount` computes the same from the ledger's columns (start-up after a snapshot
does, and the tests compare the two). Sums are kept in whole milliseconds so that the order
of additions cannot change them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["BUCKETS", "Aggregates", "Histogram"]

# seconds: 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 4, 8 h, 1 d (and +Inf)
BUCKETS: tuple[float, ...] = (
    30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
)  # fmt: skip


_BOUNDS = np.array(BUCKETS)


class Histogram:
    """Observations per bucket (not cumulative: `counts[i]` holds those in (BUCKETS[i-1],
    BUCKETS[i]], the last one those above every bound), their number and their sum."""

    __slots__ = ("counts", "sum_ms")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum_ms = 0

    def observe(self, seconds: float) -> None:
        if math.isnan(seconds):
            return
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.sum_ms += round(seconds * 1000)

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count) pairs as Prometheus exposes them, +Inf last."""
        out, total = [], 0
        for bound, n in zip((*BUCKETS, math.inf), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound == math.inf else f"{bound:g}", total))
        return out

    def as_json(self) -> list[Any]:
        return [*self.counts, self.sum_ms]


class Aggregates:
    """Codes (service, user) are the ledger's `Names` codes."""

    __slots__ = ("ack", "interruptions", "pages", "res", "states")

    def __init__(self) -> None:
        self.ack: dict[int, Histogram] = {}
        self.res: dict[int, Histogram] = {}
        self.states: dict[tuple[int, int], int] = {}  # (service, state) -> incidents
        self.pages: dict[int, int] = {}
        self.interruptions: dict[int, int] = {}

    def opened(self, service: int) -> None:
        key = (service, 0)
        self.states[key] = self.states.get(key, 0) + 1

    def moved(self, service: int, old: int, new: int) -> None:
        self.states[(service, old)] -= 1
        key = (service, new)
        self.states[key] = self.states.get(key, 0) + 1

    def acknowledged(self, service: int, seconds: float) -> None:
        h = self.ack.get(service)
        if h is None:
            h = self.ack[service] = Histogram()
        h.observe(seconds)

    def resolved(self, service: int, seconds: float) -> None:
        h = self.res.get(service)
        if h is None:
            h = self.res[service] = Histogram()
        h.observe(seconds)

    def observe_many(
        self, which: str, services: npt.NDArray[Any], seconds: npt.NDArray[np.float64]
    ) -> None:
        """What `acknowledged` (`which` "ack") or `resolved` ("res") does for each pair of
        `services` and `seconds`, in one pass of numpy: the same buckets (`bisect_left` is
        `searchsorted` on the left), the same whole milliseconds (`round` of a float
        rounds half to even, as `rint` does)."""
        hists: dict[int, Histogram] = getattr(self, which)
        if not len(services):
            return
        ok = ~np.isnan(seconds)  # (not observed, but its service gets a histogram)
        bins = np.where(ok, np.searchsorted(_BOUNDS, seconds, side="left"), len(BUCKETS) + 1)
        ms = np.where(ok, np.rint(seconds * 1000), 0).astype(np.int64)
        order = np.argsort(services, kind="stable")
        services, bins, ms = services[order], bins[order], ms[order]
        cuts = np.flatnonzero(np.diff(services)) + 1
        for svc, b, m in zip(
            services[np.r_[0, cuts]].tolist(),
            np.split(bins, cuts),
            np.split(ms, cuts),
            strict=True,
        ):
            h = hists.get(svc)
            if h is None:
                h = hists[svc] = Histogram()
            counted = np.bincount(b, minlength=len(BUCKETS) + 2).tolist()
            for i, n in enumerate(counted[: len(BUCKETS) + 1]):  # (the last: NaN)
                h.counts[i] += n
            h.sum_ms += int(m.sum())

    def paged(self, user: int) -> None:
        self.pages[user] = self.pages.get(user, 0) + 1

    def interrupted(self, user: int) -> None:
        self.interruptions[user] = self.interruptions.get(user, 0) + 1

    def as_json(self) -> dict[str, Any]:
        """A plain form, for comparing two of them."""
        return {
            "ack": {k: h.as_json() for k, h in sorted(self.ack.items())},
            "res": {k: h.as_json() for k, h in sorted(self.res.items())},
            "states": {f"{s}:{st}": n for (s, st), n in sorted(self.states.items()) if n},
            "pages": dict(sorted(self.pages.items())),
            "interruptions": dict(sorted(self.interruptions.items())),
        }
