"""Dashboard sessions and known browsers, kept in `data_dir/web-sessions.json`.

A session is a random 256-bit id in an HttpOnly, SameSite=Lax cookie (Secure when
`server.public_url` is https). The server keeps only the sha256 of each id, with the user,
the expiry, the session's CSRF token and a fingerprint of the user's password hash at
sign-in, so sessions survive a restart, a stolen file holds no cookie, and a session ends
when the person's password hash changes (the first thing to do for a stolen password).
Sign-out removes the session; expired ones are dropped when seen and on every write.

A *known browser* is one where a person signed in with their password before: it holds a
second random id (the `pager_device` cookie, sent only to /login), kept the same way. The
sign-in throttle counts its failures apart from everyone else's, so someone who keeps
failing as a person elsewhere does not keep that person out of the browsers they use
(OWASP's "device cookies").

This module keeps them in a file, for one pager (the JSON-lines store). With the PostgreSQL
store they are kept in the database instead, shared by every node
(pager/store/pg_sessions.py), behind the same interface (`Sessions`): the composition root
chooses. Both fetch what a request's cookies name in `load`, before the request is handled
(the file store has it all in memory already), so `get` and `device` never block.

The file is written with mode 0600 and replaced atomically. A file that cannot be read or
does not hold what pager writes is set aside with a warning: everyone signs in again and
nothing else is lost. One found with looser permissions is made 0600.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import trio

from pager.core.sessions import DEVICES_PER_USER, Device, Session, fingerprint
from pager.core.sessions import digest as _digest

__all__ = [
    "COOKIE",
    "DEVICE_COOKIE",
    "Device",
    "Session",
    "SessionStore",
    "Sessions",
    "fingerprint",
]

log = logging.getLogger("pager.web.sessions")

COOKIE = "pager_session"
DEVICE_COOKIE = "pager_device"
FILE = "web-sessions.json"


class Sessions(Protocol):
    """Where the dashboard keeps sessions and known browsers. Each request's cookies are
    `load`ed first; `get` and `device` then answer from memory."""

    async def load(self, session_id: str | None, device_id: str | None, now: datetime) -> None:
        """Fetch the session and the known browser these cookie values name."""

    def get(self, session_id: str | None, now: datetime) -> Session | None: ...

    def device(self, device_id: str | None, now: datetime) -> tuple[str, Device] | None: ...

    async def create(
        self,
        user: str,
        now: datetime,
        lifetime: timedelta,
        key: str = "",
        replaces: str | None = None,
    ) -> str: ...

    async def end(self, session_id: str | None, now: datetime) -> None: ...

    async def remember_device(
        self, user: str, now: datetime, lifetime: timedelta, key: str, old: str | None = None
    ) -> str: ...


class SessionStore:
    """The sessions of one pager, in `data_dir/web-sessions.json`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE
        self._sessions: dict[str, Session] = {}
        self._devices: dict[str, Device] = {}
        self._lock = trio.Lock()
        self._load()

    def _load(self) -> None:
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            self._set_aside(f"cannot be read ({type(e).__name__})")
            return
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o): made 0600", self.path, mode)
            os.chmod(self.path, 0o600)
        if not isinstance(raw, dict):
            self._set_aside("does not hold an object")
            return
        sessions, devices = raw.get("sessions", {}), raw.get("devices", {})
        if not isinstance(sessions, dict) or not isinstance(devices, dict):
            self._set_aside("does not hold sessions")
            return
        for digest, v in sessions.items():
            try:
                self._sessions[digest] = Session(
                    str(v["user"]),
                    _instant(v["expires"]),
                    str(v["csrf"]),
                    str(v.get("key", "")),
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        for digest, v in devices.items():
            try:
                self._devices[digest] = Device(
                    str(v["user"]), _instant(v["expires"]), str(v["key"])
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                continue

    def _set_aside(self, why: str) -> None:
        aside = self.path.with_name(self.path.name + ".unreadable")
        try:
            os.replace(self.path, aside)
        except OSError:
            aside = self.path
        log.warning(
            "%s %s: everyone signs in to the dashboard again (the file is now %s)",
            self.path,
            why,
            aside,
        )

    def _body(self, now: datetime) -> bytes:
        """The file's new content (expired entries dropped), made in the trio thread so no
        other task changes the sessions while it is read."""
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
        self._devices = {k: d for k, d in self._devices.items() if d.expires > now}
        body = {
            "v": 1,
            "sessions": {
                k: {"user": s.user, "expires": s.expires.isoformat(), "csrf": s.csrf, "key": s.key}
                for k, s in self._sessions.items()
            },
            "devices": {
                k: {"user": d.user, "expires": d.expires.isoformat(), "key": d.key}
                for k, d in self._devices.items()
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

    async def load(self, session_id: str | None, device_id: str | None, now: datetime) -> None:
        """Nothing to fetch: the whole file is in memory."""

    async def _save(self, now: datetime) -> None:
        async with self._lock:  # one writer at a time; the last one writes the newest
            await trio.to_thread.run_sync(self._write, self._body(now))

    async def create(
        self,
        user: str,
        now: datetime,
        lifetime: timedelta,
        key: str = "",
        replaces: str | None = None,
    ) -> str:
        """A new session for `user` (ending the session `replaces`, the cookie the browser
        came with: a sign-in never keeps an id from before it); returns the cookie value."""
        if replaces:
            self._sessions.pop(_digest(replaces), None)
        session_id = secrets.token_urlsafe(32)
        self._sessions[_digest(session_id)] = Session(
            user, now + lifetime, secrets.token_urlsafe(24), key
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

    async def remember_device(
        self, user: str, now: datetime, lifetime: timedelta, key: str, old: str | None = None
    ) -> str:
        """A browser `user` signed in on with their password: a new id for it (replacing
        `old`, its previous one), kept for `lifetime`. Returns the cookie value."""
        if old:
            self._devices.pop(_digest(old), None)
        mine = [k for k, d in self._devices.items() if d.user == user]
        for k in mine[: max(0, len(mine) - DEVICES_PER_USER + 1)]:
            del self._devices[k]  # the oldest of theirs beyond the bound
        device_id = secrets.token_urlsafe(32)
        self._devices[_digest(device_id)] = Device(user, now + lifetime, key)
        await self._save(now)
        return device_id

    def device(self, device_id: str | None, now: datetime) -> tuple[str, Device] | None:
        """The known browser `device_id` names (and the throttle's key for it)."""
        if not device_id:
            return None
        digest = _digest(device_id)
        found = self._devices.get(digest)
        if found is None or found.expires <= now:
            return None
        return digest, found

    def __len__(self) -> int:
        return len(self._sessions)


def _instant(value: Any) -> datetime:
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError("an instant without a time zone")
    return when
