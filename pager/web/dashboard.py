"""The dashboard's shared parts: templates, the signed-in person, CSRF, and the sign-in and
sign-out pages. The pages themselves are pages_incidents, pages_people, pages_services.

Every page asks `Dashboard.principal()`: without a valid session cookie a page redirects to
`/login` (a fragment request answers 401). Every state-changing form carries the session's
CSRF token (`csrf` field or `X-CSRF-Token` header), compared in constant time; the sign-in
form carries a double-submit token bound to a cookie of its own.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import trio
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.errors import Forbidden, PagerError

from . import dashboard_html as html
from .auth import Principal, check_role
from .sessions import COOKIE, SessionStore, Throttle

__all__ = ["Dashboard", "NotSignedIn", "goto", "is_page", "register"]

log = logging.getLogger("pager.web.dashboard")

HERE = Path(__file__).parent
LOGIN_COOKIE = "pager_login"
ADDRESS_FACTOR = 4  # failures allowed from one address: this many times those per name
# verified when the user is unknown, so an unknown name costs the same time as a wrong password
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$NKi0cRaHWUOVMw7jn"
    "tNLWQ$0Bd/bpQXCqjhqTjNpb4DMONccEhrm8FaY9gHjeGcxWw"
)


class NotSignedIn(PagerError):
    status_code = 401


def _verify(hash_: str, password: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


def goto(url: str, status: int = 303) -> Response:
    """A redirect (303 See Other: the browser follows with GET)."""
    return Response("", status, headers={"Location": url})


class Dashboard:
    def __init__(self, system: System) -> None:
        self.system = system
        self.sessions = SessionStore(Path(system.config.data_dir))
        self.throttle = Throttle()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["iso"] = lambda t: "" if t is None else t.isoformat()
        self.env.filters["dur"] = html.duration
        self.env.globals["status"] = html.status

    @property
    def secure(self) -> bool:
        return str(self.system.config.server.public_url).startswith("https://")

    def now(self) -> datetime:
        return self.system.clock.now()

    def session_principal(self, cookie: str | None) -> tuple[Principal, str] | None:
        """The person a session cookie signs in, and the session's CSRF token."""
        s = self.sessions.get(cookie, self.now())
        if s is None:
            return None
        user = self.system.config.user(s.user)
        if user is None:  # removed from the configuration since
            return None
        return Principal(name=user.id, role=user.role, user=user.id, via="web"), s.csrf

    def proxy_user(self) -> Any:
        """The user `auth.proxy_header` names, when a trusted proxy sent the request."""
        auth = self.system.config.auth
        if auth.proxy_header is None:
            return None
        value = (request.headers.get(auth.proxy_header) or "").strip()
        try:
            remote = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return None
        if not value or not any(
            remote in ipaddress.ip_network(n, strict=False) for n in auth.trusted_proxies
        ):
            return None
        return next(
            (u for u in self.system.config.users if value in (u.id, u.contacts.email)), None
        )

    def principal(self, need: str = "viewer") -> tuple[Principal, str]:
        found = self.session_principal(request.cookies.get(COOKIE))
        proxied = self.proxy_user()
        if found is not None and proxied is not None and found[0].user != proxied.id:
            found = None  # the proxy signed in someone else since
        if found is None:
            raise NotSignedIn("sign in first")
        check_role(found[0], need)
        return found

    async def form(self, csrf: str) -> dict[str, str]:
        """The posted form, after checking its CSRF token (403 without the right one)."""
        data = await request.form
        sent = request.headers.get("x-csrf-token") or data.get("csrf") or ""
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise Forbidden("this form's CSRF token is missing or stale: reload the page")
        return {k: v for k, v in data.items()}

    def render(self, name: str, who: Principal | None, csrf: str = "", **ctx: Any) -> str:
        users = self.system.rules.users
        me = None
        if who is not None:
            u = users.get(who.name)
            me = {"id": who.name, "name": getattr(u, "name", None) or who.name, "role": who.role}
        now = self.now()
        return self.env.get_template(name).render(
            me=me,
            csrf=csrf,
            now=now,
            ago=lambda t: html.ago(t, now),
            when=html.when_at(now),
            action=partial(html.action, csrf),
            may=(lambda need: who is not None and who.may(need)),
            name_of=lambda uid: (getattr(users.get(uid), "name", None) or uid) if uid else "",
            path=request.path,
            **ctx,
        )

    def error_page(self, status: int, message: str) -> Response:
        found = self.session_principal(request.cookies.get(COOKIE))
        who, csrf = found if found is not None else (None, "")
        heading = HEADINGS.get(status, "Something went wrong")
        body = self.render("error.html", who, csrf, status=status, heading=heading, message=message)
        return self.page(body, status)

    def page(self, body: str, status: int = 200) -> Response:
        r = Response(body, status, content_type="text/html; charset=utf-8")
        r.headers["Cache-Control"] = "no-store"
        r.headers["X-Frame-Options"] = "DENY"
        r.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self' ws: wss:; frame-ancestors 'none'; form-action 'self'"
        )
        r.headers["Referrer-Policy"] = "same-origin"
        return r

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """A browser's websocket: its Origin must be pager's own (public_url or the Host)."""
        if not origin:
            return False
        o = urlsplit(origin)
        public = urlsplit(str(self.system.config.server.public_url))
        if (o.scheme, o.netloc) == (public.scheme, public.netloc):
            return True
        return bool(host) and o.netloc == host and o.scheme in ("http", "https")


PAGE_PREFIXES = ("/login", "/logout", "/incidents", "/oncall", "/schedules", "/notifications",
                 "/services", "/maintenance")  # fmt: skip
HEADINGS = {400: "That did not work", 403: "Not allowed", 404: "Not found",
            409: "Already changed", 429: "Too many requests"}  # fmt: skip


def is_page(path: str) -> bool:
    """Whether `path` is one of the dashboard's (its errors are pages, not JSON)."""
    return path == "/" or any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


def register(app: QuartTrio, system: System) -> Dashboard:
    dash = Dashboard(system)
    cfg = system.config.auth

    @app.errorhandler(NotSignedIn)
    async def not_signed_in(e: NotSignedIn) -> Response:
        if request.headers.get("hx-request"):
            r = Response("sign in again", 401)
            r.headers["HX-Redirect"] = "/login"
            return r
        return goto("/login")

    def login_page(error: str = "", status: int = 200, username: str = "") -> Response:
        token = secrets.token_urlsafe(24)
        r = dash.page(
            dash.render("login.html", None, login_csrf=token, error=error, username=username),
            status,
        )
        r.set_cookie(
            LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=dash.secure,
            path="/login", max_age=3600,
        )  # fmt: skip
        return r

    async def signed_in(user_id: str, now: datetime) -> Response:
        session = await dash.sessions.create(user_id, now, cfg.session_lifetime)
        r = goto("/")
        r.set_cookie(
            COOKIE, session, httponly=True, samesite="Lax", secure=dash.secure, path="/",
            max_age=int(cfg.session_lifetime.total_seconds()),
        )  # fmt: skip
        r.delete_cookie(LOGIN_COOKIE, path="/login")
        return r

    @app.get("/login")
    async def dash_login_form() -> Response:
        proxied = dash.proxy_user()
        current = dash.session_principal(request.cookies.get(COOKIE))
        if proxied is not None and (current is None or current[0].user != proxied.id):
            log.info("dashboard sign-in: %s by %s", proxied.id, cfg.proxy_header)
            return await signed_in(proxied.id, dash.now())
        if current is not None:
            return goto("/")
        return login_page()

    @app.post("/login")
    async def dash_login() -> Response:
        data = await request.form
        sent, kept = data.get("csrf", ""), request.cookies.get(LOGIN_COOKIE, "")
        if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
            return login_page("The form expired: please sign in again.", 403)
        name = data.get("user", "").strip()
        password = data.get("password", "")
        now = dash.now()
        keys = [f"user:{name.lower()}", f"addr:{request.remote_addr}"]
        limits = [(keys[0], cfg.signin_attempts), (keys[1], ADDRESS_FACTOR * cfg.signin_attempts)]
        wait = dash.throttle.retry_after(limits, now, cfg.signin_window)
        if wait > 0:
            r = login_page(
                f"Too many failed sign-ins: try again in {int(wait // 60) + 1} min.", 429, name
            )
            r.headers["Retry-After"] = str(int(wait) + 1)
            return r
        config = system.config
        user = next(
            (u for u in config.users if name and (u.id == name or u.contacts.email == name)),
            None,
        )
        hash_ = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
        ok = await trio.to_thread.run_sync(_verify, hash_, password)
        if user is None or not user.password_hash or not ok:
            dash.throttle.fail(keys, now)
            log.info("dashboard sign-in refused for %r from %s", name[:64], request.remote_addr)
            return login_page("Wrong user or password.", 401, name)
        dash.throttle.clear(keys[0])
        log.info("dashboard sign-in: %s from %s", user.id, request.remote_addr)
        return await signed_in(user.id, now)

    @app.post("/logout")
    async def dash_logout() -> Response:
        _, csrf = dash.principal()
        await dash.form(csrf)
        await dash.sessions.end(request.cookies.get(COOKIE), dash.now())
        r = goto("/login")
        r.delete_cookie(COOKIE, path="/")
        return r

    return dash
