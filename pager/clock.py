"""The wall clock, injected.

Two clocks run pager: trio's clock schedules (sleeps, deadlines) and a wall clock stamps
events and computes absolute deadlines (UTC instants that survive a restart). Production uses
the system clock; tests use `TrioWallClock`, which derives wall time from trio's clock so that
one `trio.testing.MockClock` fast-forwards both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import trio

__all__ = ["SystemClock", "TrioWallClock", "WallClock", "trio_deadline"]


class WallClock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class TrioWallClock:
    """Wall time = `epoch` + trio's clock. Under a MockClock, virtual hours pass in
    milliseconds and every timestamp moves with them."""

    def __init__(self, epoch: datetime) -> None:
        if epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        self._origin = epoch.astimezone(UTC) - timedelta(seconds=trio.current_time())

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=trio.current_time())


def trio_deadline(clock: WallClock, instant: datetime) -> float:
    """The trio-clock deadline for a wall-clock instant (in the past means now)."""
    return trio.current_time() + (instant - clock.now()).total_seconds()
