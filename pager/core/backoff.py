"""Retry timing for deliveries: exponential backoff with full jitter, and a circuit breaker
per provider. Pure: the instant (seconds on any monotonic clock) and the random draw are
passed in, so both are tested without waiting."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CircuitBreaker", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    base: float = 2.0  # seconds before the second attempt (before jitter)
    factor: float = 2.0
    cap: float = 300.0
    max_age: float = 3600.0  # give up on a notification this long after it was requested

    def delay(self, attempt: int, draw: float, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based). `draw` is a
        uniform random number in [0, 1): the wait is drawn from [ceiling/2, ceiling) so
        retries of many notifications spread out without ever coming back at once. A
        provider's Retry-After is a floor."""
        ceiling = min(self.cap, self.base * self.factor ** (attempt - 1))
        wait = ceiling / 2 + draw * ceiling / 2
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


class CircuitBreaker:
    """After `threshold` failures in a row a provider is left alone for `cooldown` seconds
    (attempts then fail at once, to be retried after the cooldown); one success closes it."""

    def __init__(self, threshold: int = 5, cooldown: float = 30.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.open_until = 0.0

    def wait(self, now: float) -> float:
        """0.0 when an attempt may go out now, else the seconds until it may."""
        return max(0.0, self.open_until - now) if self.failures >= self.threshold else 0.0

    def success(self) -> None:
        self.failures = 0
        self.open_until = 0.0

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = now + self.cooldown

    @property
    def is_open(self) -> bool:
        return self.failures >= self.threshold
