"""The dashboard's sign-in and sign-out: `GET/POST /login`, `POST /logout`.

The form carries a double-submit token bound to a cookie of its own (`pager_login`,
SameSite=Strict, path /login), so another site cannot sign a browser in as someone else.
A password is checked against the user's argon2id hash in a worker thread, at most two at a
time (each check holds 64 MiB); an unknown name is checked against a hash of the same cost,
so it takes the same time as a wrong password.

Throttling (pager.core.signin_throttle): after `auth.signin_attempts` failures within
`auth.signin_window` for a person (by id or email: one count), or four times as many from
one address (an IPv6 /64; behind a trusted proxy, the address it forwarded), further
attempts are refused (429) whatever the password. A browser where the person signed in with
their password before (the `pager_device` cookie, 30 days) is counted on its own instead,
so a stranger who keeps failing as alice does not keep alice out of her own phone. The
failures are counted in this process's memory, or with the PostgreSQL store in the
database, shared by every node (`Dashboard.throttle`, chosen by the composition root).

A sign-in never keeps a session id from before it, and returns to the page that was asked
for (`next`, only a path on this site).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

import trio
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core.ratelimit import client_of

from .dashboard import Dashboard, goto, local_path
from .sessions import COOKIE, DEVICE_COOKIE, fingerprint

__all__ = ["ADDRESS_FACTOR", "CHECKS_AT_ONCE", "DEVICE_LIFETIME", "dummy_hash", "register"]

log = logging.getLogger("pager.web.dashboard")

LOGIN_COOKIE = "pager_login"
ADDRESS_FACTOR = 4  # failures allowed from one address: this many times those per person
DEVICE_LIFETIME = timedelta(days=30)
CHECKS_AT_ONCE = 2  # argon2id checks at once: each holds its memory cost (64 MiB by default)
_dummies: dict[str, str] = {}  # the parameters of a hash -> a hash of nothing with them


def _verify(hash_: str, password: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_hash(like: str | None) -> str:
    """A hash of a random password with the same parameters (memory, time, parallelism) as
    `like` (a configured user's hash), or the library's defaults: checking a password
    against it costs what checking one against `like` costs."""
    from argon2 import PasswordHasher, extract_parameters
    from argon2.exceptions import InvalidHashError

    try:
        params = extract_parameters(like) if like else None
    except InvalidHashError:
        params = None
    hasher = PasswordHasher.from_parameters(params) if params else PasswordHasher()
    tag = f"{hasher.memory_cost},{hasher.time_cost},{hasher.parallelism},{hasher.hash_len}"
    if tag not in _dummies:
        _dummies[tag] = hasher.hash(secrets.token_urlsafe(16))
    return _dummies[tag]


def register(app: QuartTrio, system: System, dash: Dashboard) -> None:
    checks = trio.CapacityLimiter(CHECKS_AT_ONCE)

    def find_user(name: str) -> Any:
        """The configured user `name` names: by id, or by email in any case."""
        if not name:
            return None
        lowered = name.lower()
        return next(
            (
                u
                for u in system.config.users
                if u.id == name or (u.contacts.email and u.contacts.email.lower() == lowered)
            ),
            None,
        )

    def login_page(
        error: str = "", status: int = 200, username: str = "", back: str | None = None
    ) -> Response:
        # the token of a form still open in another tab stays valid: reuse it
        token = request.cookies.get(LOGIN_COOKIE) or ""
        if len(token) != 32:
            token = secrets.token_urlsafe(24)
        body = dash.render(
            "login.html", None, login_csrf=token, error=error, username=username,
            back=back or "",
        )  # fmt: skip
        r = dash.page(body, status)
        r.set_cookie(
            LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=dash.secure,
            path="/login", max_age=3600,
        )  # fmt: skip
        return r

    async def signed_in(user: Any, now: datetime, back: str | None, device: bool) -> Response:
        cfg = system.config.auth
        key = fingerprint(user.password_hash)
        old = request.cookies.get(COOKIE)
        session = await dash.sessions.create(user.id, now, cfg.session_lifetime, key, old)
        r = goto(back or "/")
        r.set_cookie(
            COOKIE, session, httponly=True, samesite="Lax", secure=dash.secure, path="/",
            max_age=int(cfg.session_lifetime.total_seconds()),
        )  # fmt: skip
        r.delete_cookie(LOGIN_COOKIE, path="/login")
        if device:
            known = await dash.sessions.remember_device(
                user.id, now, DEVICE_LIFETIME, key, request.cookies.get(DEVICE_COOKIE)
            )
            r.set_cookie(
                DEVICE_COOKIE, known, httponly=True, samesite="Strict", secure=dash.secure,
                path="/login", max_age=int(DEVICE_LIFETIME.total_seconds()),
            )  # fmt: skip
        return r

    @app.get("/login")
    async def dash_login_form() -> Response:
        back = local_path(request.args.get("next"))
        named, proxied = dash.proxy_identity()
        current = dash.session_principal(request.cookies.get(COOKIE))
        if proxied is not None and (current is None or current[0].user != proxied.id):
            log.info("dashboard sign-in: %s by %s", proxied.id, system.config.auth.proxy_header)
            return await signed_in(proxied, dash.now(), back, device=False)
        if current is not None and not named:
            return goto(back or "/")
        return login_page(back=back)

    @app.post("/login")
    async def dash_login() -> Response:
        cfg = system.config.auth
        data = await request.form
        back = local_path(data.get("next"))
        name = data.get("user", "").strip()[:320]
        sent, kept = data.get("csrf", ""), request.cookies.get(LOGIN_COOKIE, "")
        if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
            return login_page("The form expired: please sign in again.", 403, name, back)
        password = data.get("password", "")
        now = dash.now()
        address = dash.client_address()
        user = find_user(name)
        known = dash.sessions.device(request.cookies.get(DEVICE_COOKIE), now)
        if (
            user is not None
            and known is not None
            and known[1].user == user.id
            and known[1].key == fingerprint(user.password_hash)  # not since a new password
        ):
            limits = [(f"device:{known[0]}", cfg.signin_attempts)]
        else:
            person = f"user:{user.id}" if user is not None else f"name:{name.lower()}"
            limits = [
                (person, cfg.signin_attempts),
                (f"addr:{client_of(address)}", ADDRESS_FACTOR * cfg.signin_attempts),
            ]
        wait = await dash.throttle.attempt(limits, now, cfg.signin_window)
        if wait > 0:
            r = login_page(
                f"Too many failed sign-ins: try again in {int(wait // 60) + 1} min.", 429, name,
                back,
            )  # fmt: skip
            r.headers["Retry-After"] = str(int(wait) + 1)
            return r
        own: str | None = user.password_hash if user is not None else None
        async with checks:
            if own:
                hash_ = own
            else:  # no one to check against: spend the same time as if there were
                hash_ = await trio.to_thread.run_sync(dummy_hash, _any_hash(system))
            ok = await trio.to_thread.run_sync(_verify, hash_, password)
        if not (own and ok):
            # the name only when it is a person's: a password typed in the wrong field
            # must not reach the log
            who = user.id if user is not None else "an unknown name"
            log.info("dashboard sign-in refused for %s from %s", who, address)
            return login_page("Wrong user or password.", 401, name, back)
        await dash.throttle.succeeded([k for k, _ in limits], now)
        log.info("dashboard sign-in: %s from %s", user.id, address)
        return await signed_in(user, now, back, device=True)

    @app.post("/logout")
    async def dash_logout() -> Response:
        _, csrf = dash.principal()
        await dash.form(csrf)
        await dash.sessions.end(request.cookies.get(COOKIE), dash.now())
        r = goto("/login")
        r.delete_cookie(COOKIE, path="/")
        return r


def _any_hash(system: System) -> str | None:
    """A configured password hash, for the cost of checking an unknown name."""
    return next((u.password_hash for u in system.config.users if u.password_hash), None)
