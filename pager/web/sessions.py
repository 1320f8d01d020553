"""Dashboard sessions and sign-in throttling.

A session is a random 256-bit id in an HttpOnly, SameSite=Lax cookie (Secure when
`server.public_url` is https). The server keeps only the sha256 of each id, with the user,
the expiry and the session's CSRF token, in `data_dir/web-sessions.json` (mode 0600,
replaced atomically), so sessions survive a restart and a stolen file holds no cookie.
Sign-out removes the session; expired ones are dropped when seen and on every write.

Sign-in attempts are throttled per user name and per client address: after
`auth.signin_attempts` failures for a name (four times as many from one address, which
people behind one proxy share) within `auth.signin_window`, further attempts are refused
(429) until the oldest failure leaves the window, whatever the password.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import trio

__all__ = ["COOKIE", "Session", "SessionStore", "Throttle"]

COOKIE = "pager_session"
FILE = "web-sessions.json"


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    expires: datetime
    csrf: str


class SessionStore:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE
        self._sessions: dict[str, Session] = {}
        self._lock = trio.Lock()
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            return  # unreadable: everyone signs in again, nothing else is lost
        for key, v in raw.get("sessions", {}).items():
            try:
                self._sessions[key] = Session(
                    str(v["user"]), datetime.fromisoformat(v["expires"]), str(v["csrf"])
                )
            except (KeyError, TypeError, ValueError):
                continue

    def _body(self, now: datetime) -> bytes:
        """The file's new content (expired sessions dropped), made in the trio thread so no
        other task changes the sessions while it is read."""
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
        body = {
            "v": 1,
            "sessions": {
                k: {"user": s.user, "expires": s.expires.isoformat(), "csrf": s.csrf}
                for k, s in self._sessions.items()
            },
        }
        return json.dumps(body).encode()

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    async def _save(self, now: datetime) -> None:
        async with self._lock:  # one writer at a time; the last one writes the newest
            await trio.to_thread.run_sync(self._write, self._body(now))

    async def create(self, user: str, now: datetime, lifetime: timedelta) -> str:
        """A new session for `user`; returns the cookie value."""
        session_id = secrets.token_urlsafe(32)
        self._sessions[_digest(session_id)] = Session(
            user, now + lifetime, secrets.token_urlsafe(24)
        )
        await self._save(now)
        return session_id

    def get(self, session_id: str | None, now: datetime) -> Session | None:
        if not session_id:
            return None
        found = self._sessions.get(_digest(session_id))
        if found is None or found.expires <= now:
            return None
        return found

    async def end(self, session_id: str | None, now: datetime) -> None:
        if session_id and self._sessions.pop(_digest(session_id), None) is not None:
            await self._save(now)

    def __len__(self) -> int:
        return len(self._sessions)


class Throttle:
    """Failures per key within a sliding window."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[datetime]] = {}

    def retry_after(self, limits: list[tuple[str, int]], now: datetime, window: timedelta) -> float:
        """Seconds until an attempt under every (key, limit) is allowed again (0: now)."""
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

    def fail(self, keys: list[str], now: datetime) -> None:
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > 10_000:  # bound memory under a spray of made-up names
            for key in list(self._failures)[:5000]:  # the oldest keys first
                del self._failures[key]

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)
