"""Limits of the lean ingest listener, in one frozen record.

They live apart from `lean.py` so that the per-connection code (`lean_connection.py`) and the
listener (`lean.py`) can both read them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LeanLimits"]


@dataclass(frozen=True, slots=True)
class LeanLimits:
    """What one peer may cost the lean listener, and how long it may take.

    Every limit has an answer (see `serve_lean`): 431 for a header block over
    `max_header_bytes`, 413 for a body over `max_body_bytes`, 408 for a request that has not
    arrived whole `read_timeout` seconds after its first byte, a silent close for a
    keep-alive connection idle for `idle_timeout` seconds, and 503 with `Retry-After: 1` for a
    connection beyond `max_connections`. Writing an answer and the idle wait after it share
    one `idle_timeout` deadline, so a peer that never reads cannot hold a connection slot.
    """

    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 4 * 1024 * 1024
    read_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_connections: int = 1000
    #: After this many requests the response carries `Connection: close`; None: no limit.
    max_requests_per_connection: int | None = 10_000
    #: On graceful shutdown, in-flight requests get this long to finish before they are
    #: cancelled.
    shutdown_grace: float = 10.0

    def __post_init__(self) -> None:
        for name in ("max_header_bytes", "max_body_bytes", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"LeanLimits.{name}: must be at least 1")
        for name in ("read_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LeanLimits.{name}: must be more than 0 seconds")
        if self.shutdown_grace < 0:
            raise ValueError("LeanLimits.shutdown_grace: must not be negative")
        if self.max_requests_per_connection is not None and self.max_requests_per_connection < 1:
            raise ValueError("LeanLimits.max_requests_per_connection: must be at least 1 or None")
