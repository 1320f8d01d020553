"""Failed dashboard sign-ins, counted per key (a user name, a client address, a known
browser) within a sliding window, so passwords cannot be guessed at speed. Pure: the
instant is passed in.

`attempt` checks and counts in one step: the attempt is recorded as a failure *before* the
password is verified (which takes a worker thread and tens of milliseconds), and
`succeeded` takes it back. Checking first and counting after the verification would let a
burst of concurrent guesses all pass the check before any of them is counted.

The table is bounded (`max_keys`) against a spray of made-up names from many addresses:
when it is full, keys whose failures have all left the window are forgotten first, then keys
below their limit, oldest first, and a key at its limit (a name under attack) only when
nothing else is left. Each key keeps at most its limit of instants.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

__all__ = ["SigninThrottle"]


class SigninThrottle:
    __slots__ = ("_failures", "max_keys")

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._failures: dict[str, deque[datetime]] = {}

    def wait(self, limits: Sequence[tuple[str, int]], now: datetime, window: timedelta) -> float:
        """Seconds until an attempt under every (key, limit) is allowed (0.0: now)."""
        wait = 0.0
        for key, limit in limits:
            q = self._failures.get(key)
            if not q:
                continue
            while q and q[0] <= now - window:
                q.popleft()
            if len(q) >= limit:
                wait = max(wait, (q[0] + window - now).total_seconds())
        return wait

    def attempt(self, limits: Sequence[tuple[str, int]], now: datetime, window: timedelta) -> float:
        """0.0 and the attempt counted as a failure under every key when it may go ahead;
        otherwise the seconds to wait, and nothing counted."""
        wait = self.wait(limits, now, window)
        if wait > 0:
            return wait
        for key, limit in limits:
            q = self._failures.get(key)
            if q is None or q.maxlen != limit:
                if q is None and len(self._failures) >= self.max_keys:
                    self._forget(now, window)
                q = self._failures[key] = deque(q or (), maxlen=limit)
            q.append(now)
        return 0.0

    def succeeded(self, keys: Sequence[str], at: datetime) -> None:
        """Take back the failure `attempt` counted at `at` under each of `keys`."""
        for key in keys:
            q = self._failures.get(key)
            if q is not None and at in q:
                q.remove(at)
                if not q:
                    del self._failures[key]

    def __len__(self) -> int:
        return len(self._failures)

    def _forget(self, now: datetime, window: timedelta) -> None:
        edge = now - window
        for key, q in list(self._failures.items()):
            if not q or q[-1] <= edge:
                del self._failures[key]
        if len(self._failures) < self.max_keys:
            return
        excess = len(self._failures) - self.max_keys + max(1, self.max_keys // 8)
        below = [k for k, q in self._failures.items() if len(q) < (q.maxlen or 0)]
        for key in below[:excess]:
            del self._failures[key]
        excess -= min(excess, len(below))
        for key in list(self._failures)[:excess]:  # all at their limit: the oldest go
            del self._failures[key]
