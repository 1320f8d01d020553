"""A short memory of requests already acted on, so that one replayed while its signature is
still good (a Slack request within its 5 minutes, a Twilio message or call by its sid) acts
only once. In memory and bounded: after a restart, Slack's timestamp window and the
idempotence of the actions themselves are what is left, which is enough."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["RecentlySeen"]


class RecentlySeen:
    """Keys seen in the last `window` seconds (at most `limit` of them, the oldest dropped
    first)."""

    def __init__(self, window: float, limit: int = 4096) -> None:
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str, now: float) -> bool:
        """True the first time `key` is offered within the window (and remembers it)."""
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if at > now - self.window and len(self._seen) < self.limit:
                break
            del self._seen[oldest]
        if key in self._seen:
            return False
        self._seen[key] = now
        return True
