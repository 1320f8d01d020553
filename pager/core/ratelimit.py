"""Token buckets: `events` per `seconds` for each integration key, so one misbehaving
sender gets 429 with a Retry-After instead of drowning everyone else; and per client
address for unknown keys, so that keys cannot be guessed at speed. And `Tally`, which
turns something that happens in bursts into one log line per interval. Time is passed in
(seconds on any monotonic clock), so this is pure and tested without waiting."""

from __future__ import annotations

import ipaddress

__all__ = ["MissThrottle", "RateLimiter", "Tally", "TokenBucket", "client_of"]


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, events: int, seconds: float, now: float) -> None:
        self.capacity = float(events)
        self.rate = events / seconds
        self.tokens = float(events)
        self.updated = now

    def take(self, now: float) -> float:
        """0.0 when one event may pass now; otherwise the seconds until one may."""
        wait = self.wait(now)
        if wait == 0.0:
            self.tokens -= 1.0
        return wait

    def wait(self, now: float) -> float:
        """What `take` would answer, without taking."""
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.updated = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        return self.tokens + max(0.0, now - self.updated) * self.rate >= self.capacity


class RateLimiter:
    """One bucket per key, created on first use with that key's limits."""

    def __init__(self) -> None:
        self._buckets: dict[object, TokenBucket] = {}

    def take(self, key: object, events: int, seconds: float, now: float) -> float:
        b = self._buckets.get(key)
        if b is None or b.capacity != events or b.rate != events / seconds:
            b = self._buckets[key] = TokenBucket(events, seconds, now)
        return b.take(now)


class MissThrottle:
    """Requests with an unknown integration key, counted per client address: each client
    may miss `misses` times in a burst, earning one more every `seconds / misses`; past that,
    `blocked` says how long to wait, and the edges answer every ingest request of that
    client so (429, or 503 where the tool retries only 5xx) before looking at its key. So a
    client cannot tell a right key from a wrong one faster than it may miss.

    The table is bounded (`max_clients`): when it is full, clients whose budget has grown
    back are forgotten first, then the oldest eighth. IPv6 clients are counted per /64, the block a
    single host usually holds. `misses=0` turns the throttle off."""

    __slots__ = ("_clients", "max_clients", "misses", "seconds")

    def __init__(self, misses: int, seconds: float = 60.0, max_clients: int = 4096) -> None:
        self.misses = misses
        self.seconds = seconds
        self.max_clients = max_clients
        self._clients: dict[str, TokenBucket] = {}

    def blocked(self, remote: str | None, now: float) -> float:
        """0.0 when `remote` may try a key now; otherwise the seconds until it may."""
        b = self._clients.get(client_of(remote)) if self.misses else None
        return 0.0 if b is None else b.wait(now)

    def missed(self, remote: str | None, now: float) -> None:
        """Count one unknown key from `remote`."""
        if not self.misses:
            return
        client = client_of(remote)
        b = self._clients.get(client)
        if b is None:
            if len(self._clients) >= self.max_clients:
                self._forget(now)
            b = self._clients[client] = TokenBucket(self.misses, self.seconds, now)
        b.wait(now)
        b.tokens = max(0.0, b.tokens - 1.0)

    def __len__(self) -> int:
        return len(self._clients)

    def _forget(self, now: float) -> None:
        for client, b in list(self._clients.items()):
            if b.full(now):
                del self._clients[client]
        if len(self._clients) >= self.max_clients:  # the oldest eighth goes at once
            for client in list(self._clients)[: max(1, self.max_clients // 8)]:
                del self._clients[client]


class Tally:
    """Counts something that comes in bursts (a standby refusing every request during a
    takeover) so that it is reported once per `every` seconds instead of once each: `add`
    answers how many to report now (those since the last report, this one included), or 0
    while the last report is recent. The first one is reported at once."""

    __slots__ = ("count", "every", "reported_at")

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.count = 0
        self.reported_at: float | None = None

    def add(self, now: float) -> int:
        self.count += 1
        if self.reported_at is not None and now - self.reported_at < self.every:
            return 0
        n, self.count, self.reported_at = self.count, 0, now
        return n


def client_of(remote: str | None) -> str:
    """The unit a client is counted in: its IPv4 address, its IPv6 /64. `remote` is an
    address, `host:port` or `[v6]:port`."""
    if not remote:
        return "-"
    if remote.startswith("["):
        remote = remote[1:].partition("]")[0]
    elif remote.count(":") == 1:
        remote = remote.partition(":")[0]
    try:
        addr = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)
