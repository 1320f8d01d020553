"""Every error pager raises on purpose, and the HTTP answer each one means.

The tree::

    PagerError                      500  something we did not expect to fail
    ├── BadRequest                  400
    │   └── InvalidEvent            400  an ingest payload failed validation; `errors` names each field
    ├── Unauthorized                401  no credentials, or a signature that does not verify
    ├── Forbidden                   403  credentials that are not allowed
    │   └── LinkRefused             403  an action link that is forged, expired or already used
    ├── NotFound                    404
    ├── Conflict                    409
    │   └── TransitionRefused       409  the incident's state does not allow the command
    ├── Gone                        410  it existed, but journal.retention deleted its history
    ├── PayloadTooLarge             413
    ├── UnsupportedMediaType        415
    ├── TooManyRequests             429  carries `retry_after` seconds
    └── Unavailable                 503  try again later
        └── LogUnavailable          503  the event log cannot be written (disk full, I/O error)
            └── NotActive           503  a standby: another pager process holds the lease and writes

Errors carry their meaning to the edges: the web layer turns any `PagerError` into its
status code and a JSON body that says what was wrong and where. This module imports nothing
but the standard library, so the pure core can raise these too.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "InvalidEvent",
    "LinkRefused",
    "LogUnavailable",
    "NotActive",
    "NotFound",
    "PagerError",
    "PayloadTooLarge",
    "TooManyRequests",
    "TransitionRefused",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
]


class PagerError(Exception):
    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, object]:
        return {"status": "error", "message": self.message}


class BadRequest(PagerError):
    status_code = 400


class InvalidEvent(BadRequest):
    """An ingest payload that failed validation. `errors` holds one line per problem,
    each naming the field: ``payload.severity: must be one of critical, error, warning, info``."""

    def __init__(self, errors: list[str], message: str = "Event object is invalid") -> None:
        super().__init__(message)
        self.errors = errors

    def __str__(self) -> str:
        return f"{self.message}: {'; '.join(self.errors)}"

    def to_json(self) -> dict[str, object]:
        return {"status": "invalid event", "message": self.message, "errors": self.errors}


class Unauthorized(PagerError):
    status_code = 401


class Forbidden(PagerError):
    status_code = 403


class LinkRefused(Forbidden):
    """A signed action link (email, Teams) that does not verify, has expired, or was used
    already. `reason` is one of "invalid", "expired", "used"; the message says it to the
    person who opened it (and never repeats the token)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotFound(PagerError):
    status_code = 404


class Conflict(PagerError):
    status_code = 409


class TransitionRefused(Conflict):
    """The command is not allowed in the incident's current state; the state is unchanged."""

    def __init__(self, incident_id: str, status: str, command: str) -> None:
        super().__init__(f"incident {incident_id} is {status}: cannot {command}")
        self.incident_id = incident_id
        self.status = status
        self.command = command

    def to_json(self) -> dict[str, object]:
        return {
            "status": "error",
            "message": self.message,
            "incident": self.incident_id,
            "state": self.status,
        }


class Gone(PagerError):
    """What was asked for existed, but its history is no longer kept (the store's
    HistoryDeleted, journal.retention in `delete` mode)."""

    status_code = 410


class PayloadTooLarge(PagerError):
    status_code = 413


class UnsupportedMediaType(PagerError):
    status_code = 415


class TooManyRequests(PagerError):
    status_code = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(PagerError):
    status_code = 503


class LogUnavailable(Unavailable):
    """The event log cannot be written. Nothing of the failed append is on disk; the service
    keeps running and the next append tries again."""


class NotActive(LogUnavailable):
    """This pager is a standby (the PostgreSQL store, docs/high-availability.md): another
    pager process holds the lease, writes the log and runs the actors; this one only reads.
    Nothing was written or done."""
