"""Token buckets: `events` per `seconds` for each integration key, so one misbehaving
sender gets 429 with a Retry-After instead of drowning everyone else. Time is passed in
(seconds on any monotonic clock), so this is pure and tested without waiting."""

from __future__ import annotations

__all__ = ["RateLimiter", "TokenBucket"]


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, events: int, seconds: float, now: float) -> None:
        self.capacity = float(events)
        self.rate = events / seconds
        self.tokens = float(events)
        self.updated = now

    def take(self, now: float) -> float:
        """0.0 when one event may pass now; otherwise the seconds until one may."""
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per key, created on first use with that key's limits."""

    def __init__(self) -> None:
        self._buckets: dict[object, TokenBucket] = {}

    def take(self, key: object, events: int, seconds: float, now: float) -> float:
        b = self._buckets.get(key)
        if b is None or b.capacity != events or b.rate != events / seconds:
            b = self._buckets[key] = TokenBucket(events, seconds, now)
        return b.take(now)
