"""What the dashboard keeps about a sign-in and a known browser, wherever it is kept (a file
in `data_dir`, pager/web/sessions.py; or PostgreSQL, shared by every node,
pager/store/pg_sessions.py): the values and the two digests. Pure: no I/O, no clock.

Only the sha256 of a cookie value is ever kept (`digest`), so a stolen store holds no
cookie; `fingerprint` stands in for the user's password hash at sign-in, so a session does
not outlive a new password.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

__all__ = ["DEVICES_PER_USER", "Device", "Session", "digest", "fingerprint"]

DEVICES_PER_USER = 20  # known browsers kept per person: the newest


def digest(cookie: str) -> str:
    """What is kept of a cookie value: its sha256, in hex."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def fingerprint(password_hash: str | None) -> str:
    """A short stand-in for a user's password hash: a session signed in under one hash does
    not outlive it."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    expires: datetime
    csrf: str
    key: str = ""  # fingerprint() of the user's password hash at sign-in


@dataclass(frozen=True, slots=True)
class Device:
    user: str
    expires: datetime
    key: str
