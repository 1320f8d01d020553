"""The dashboard's shared parts: templates, the signed-in person, CSRF, the trusted proxy,
and the pages' headers. Sign-in and sign-out are in signin; the pages themselves in
pages_incidents, pages_people, pages_services.

Every page asks `Dashboard.principal()`: without a valid session cookie a page redirects to
`/login?next=<the page>` (a fragment request answers 401). Every state-changing form carries
the session's CSRF token (`csrf` field or `X-CSRF-Token` header), compared in constant time,
and is refused when the browser says it was sent from another site's page (`Origin`,
`Sec-Fetch-Site`).
Before every request (and websocket) what its cookies name is loaded from where sessions
are kept (`Sessions.load`: the file in memory, or the database with the PostgreSQL store),
so the checks themselves never wait.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import jinja2
from quart import Response, has_websocket_context, request, websocket
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core.signin_throttle import SigninThrottle
from pager.errors import Forbidden, PagerError

from . import dashboard_html as html
from .auth import Principal, check_role
from .sessions import COOKIE, DEVICE_COOKIE, Sessions, SessionStore, fingerprint

__all__ = [
    "Dashboard",
    "LocalSigninThrottle",
    "NotSignedIn",
    "SigninThrottles",
    "goto",
    "is_page",
    "register",
]

log = logging.getLogger("pager.web.dashboard")

HERE = Path(__file__).parent


class NotSignedIn(PagerError):
    status_code = 401

    def __init__(self, message: str, back: str | None = None) -> None:
        super().__init__(message)
        self.back = back  # the page to come back to after signing in


def local_path(value: str | None) -> str | None:
    """`value` when it is a path on this site (`/incidents/x?y=z`), else None: the only
    kind of address pager redirects to from what a request says (`next`). Refused: other
    schemes and hosts, `//host` and `/\\host` (both mean another host to a browser), any
    control character or space, which browsers strip before they parse (`/<TAB>/host` is
    `//host`), and anything not ASCII (a Location header is bytes; paths arrive encoded).
    """
    if not value or len(value) > 2000 or not value.startswith("/"):
        return None
    if any(c <= " " or c >= "\x7f" or c == "\\" for c in value):
        return None
    if value.startswith("//"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value.removesuffix("?")


def _incoming() -> Any:
    """The request or the websocket being handled (both have headers and remote_addr)."""
    return websocket if has_websocket_context() else request


def request_target() -> str:
    """The path and query the browser asked for, as it sent them (still percent-encoded,
    unlike `request.path`)."""
    raw = request.scope.get("raw_path") or request.path.encode()
    query = request.query_string
    return (raw + b"?" + query if query else raw).decode("latin-1")


def goto(url: str, status: int = 303) -> Response:
    """A redirect (303 See Other: the browser follows with GET)."""
    return Response("", status, headers={"Location": url})


_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}://[A-Za-z0-9.:\[\]-]{1,255}")
_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,255}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(value: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an origin or a URL, lower case, the scheme's default port as
    none; None when it is not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return None
    return scheme, host, None if port == _DEFAULT_PORTS.get(scheme) else port


def _quoted(value: str | None, shape: re.Pattern[str]) -> str:
    """A header's value for a message: as written when it has the shape of an origin or a
    host, else said to be unreadable (it could be anything an attacker wrote)."""
    if value is None:
        return "none"
    return repr(value) if shape.fullmatch(value) else "one pager cannot read"


class SigninThrottles(Protocol):
    """Where failed sign-ins are counted (pager.core.signin_throttle's rules): this
    process's memory, or with the PostgreSQL store the database, shared by every node."""

    async def attempt(
        self, limits: Sequence[tuple[str, int]], now: datetime, window: timedelta
    ) -> float: ...

    async def succeeded(self, keys: Sequence[str], at: datetime) -> None: ...


class LocalSigninThrottle:
    """Failed sign-ins counted in this process's memory (one pager)."""

    def __init__(self) -> None:
        self.counts = SigninThrottle()

    async def attempt(
        self, limits: Sequence[tuple[str, int]], now: datetime, window: timedelta
    ) -> float:
        return self.counts.attempt(limits, now, window)

    async def succeeded(self, keys: Sequence[str], at: datetime) -> None:
        self.counts.succeeded(keys, at)


class Dashboard:
    def __init__(
        self,
        system: System,
        sessions: Sessions | None = None,
        throttle: SigninThrottles | None = None,
    ) -> None:
        self.system = system
        # the file in data_dir unless the composition root chose (PostgreSQL: shared)
        self.sessions: Sessions = (
            SessionStore(Path(system.config.data_dir)) if sessions is None else sessions
        )
        self.throttle: SigninThrottles = LocalSigninThrottle() if throttle is None else throttle
        self._warned: set[str] = set()
        self._refused: set[str] = set()  # Origin and hosts of refused forms, logged once
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
        self.env.globals["links"] = html.links
        self.env.globals["detail"] = html.detail

    @property
    def secure(self) -> bool:
        return str(self.system.config.server.public_url).startswith("https://")

    def now(self) -> datetime:
        return self.system.clock.now()

    def session_principal(self, cookie: str | None) -> tuple[Principal, str] | None:
        """The person a session cookie signs in, and the session's CSRF token. A session
        ends when its person leaves the configuration or their password hash changes."""
        s = self.sessions.get(cookie, self.now())
        if s is None:
            return None
        user = self.system.config.user(s.user)
        if user is None or s.key != fingerprint(user.password_hash):
            return None
        return Principal(name=user.id, role=user.role, user=user.id, via="web"), s.csrf

    def proxy_identity(self) -> tuple[bool, Any]:
        """(whether a trusted proxy named a person, the configured user it named or None).
        `auth.proxy_header` is believed only in a request whose peer is one of
        `auth.trusted_proxies` and only when it appears once with one value: a proxy that
        appends to what the client sent, rather than replacing it, must not let the
        client's copy through. From anyone else it is ignored, with a warning (once per
        address) that names the address, so a proxy missing from the list is found."""
        auth = self.system.config.auth
        if auth.proxy_header is None:
            return False, None
        asked = _incoming()
        values = asked.headers.getlist(auth.proxy_header)
        if not values:
            return False, None
        if not self.trusted_peer():
            self.warn_untrusted(asked.remote_addr or "-", auth.proxy_header)
            return False, None
        value = values[0].strip()
        if len(values) != 1 or not value or "," in value:
            log.warning(
                "%s arrived %d times or with a list: ignored", auth.proxy_header, len(values)
            )
            return True, None
        lowered = value.lower()
        user = next(
            (
                u
                for u in self.system.config.users
                if value == u.id or (u.contacts.email and lowered == u.contacts.email.lower())
            ),
            None,
        )
        return True, user

    def trusted_peer(self) -> bool:
        """Whether the request came straight from one of `auth.trusted_proxies`."""
        try:
            remote = ipaddress.ip_address(_incoming().remote_addr or "")
        except ValueError:
            return False
        return any(
            remote in ipaddress.ip_network(n, strict=False)
            for n in self.system.config.auth.trusted_proxies
        )

    def client_address(self) -> str:
        """The browser's address: the peer's, or behind a trusted proxy the last address
        of X-Forwarded-For that is not one of the trusted proxies (the one the proxies
        themselves saw; what a client wrote further left is not believed)."""
        remote = request.remote_addr or "-"
        if not self.trusted_peer():
            return remote
        nets = [
            ipaddress.ip_network(n, strict=False) for n in self.system.config.auth.trusted_proxies
        ]
        hops = ",".join(request.headers.getlist("x-forwarded-for")).split(",")
        for hop in reversed([h.strip() for h in hops if h.strip()]):
            try:
                addr = ipaddress.ip_address(hop)
            except ValueError:
                return remote  # a hop we cannot read: no further left is believed
            if not any(addr in n for n in nets):
                return str(addr)
        return remote

    def warn_untrusted(self, remote: str, header: str) -> None:
        if remote not in self._warned and len(self._warned) < 1000:
            self._warned.add(remote)
            log.warning("%s from %s, which is not in auth.trusted_proxies: ignored", header, remote)

    def signed_in(self) -> tuple[Principal, str] | None:
        """The request's session (its person and CSRF token), unless a trusted proxy now
        names someone else, or nobody it knows."""
        found = self.session_principal(request.cookies.get(COOKIE))
        named, proxied = self.proxy_identity()
        if found is not None and named and (proxied is None or found[0].user != proxied.id):
            return None  # the proxy signs in someone else now
        return found

    def principal(self, need: str = "viewer") -> tuple[Principal, str]:
        found = self.signed_in()
        if found is None:
            back = local_path(request_target()) if request.method == "GET" else None
            raise NotSignedIn("sign in first", back=back)
        check_role(found[0], need)
        return found

    def from_another_site(self) -> bool:
        """Whether the browser says the request comes from another site's page: a
        `Sec-Fetch-Site` of `cross-site` or `same-site` (another origin on the same site),
        or an `Origin` that is not pager's own. A request with neither header (not a
        browser, or an old one) is left to the CSRF token."""
        fetch_site = request.headers.get("sec-fetch-site", "").lower()
        if fetch_site in ("cross-site", "same-site"):
            return True
        origin = request.headers.get("origin")
        return origin is not None and not self.origin_allowed(origin, request.headers.get("host"))

    def refusal(self, what: str = "this form was sent") -> str:
        """Why `from_another_site` refused a request, saying what was compared and what to
        set when it is pager's own page behind a proxy; what the request said is quoted only
        when it reads as an origin or a host (and the page escapes it anyway)."""
        asked = _incoming()
        fetch_site = asked.headers.get("sec-fetch-site", "").lower()
        if fetch_site in ("cross-site", "same-site"):
            return (
                f"{what} from another site's page (the browser says "
                f"Sec-Fetch-Site: {fetch_site}): use pager's own"
            )
        origin = _quoted(asked.headers.get("origin"), _ORIGIN)
        hosts = " or ".join(_quoted(h, _HOST) for h in self.hosts()) or "none"
        public = str(self.system.config.server.public_url)
        self.warn_refused(origin, hosts)
        return (
            f"{what} from another site's page: its Origin, {origin}, is neither "
            f"server.public_url ({public}) nor the host this request was sent to ({hosts}). "
            "If that is pager's own address behind a proxy that changes the Host header, set "
            "server.public_url to it (or have the proxy pass Host through, or send "
            "X-Forwarded-Host from one of auth.trusted_proxies)"
        )

    def warn_refused(self, origin: str, hosts: str) -> None:
        key = f"{origin} {hosts}"
        if key not in self._refused and len(self._refused) < 1000:
            self._refused.add(key)
            log.warning(
                "dashboard form refused: Origin %s is neither server.public_url (%s) nor the "
                "Host (%s); behind a proxy that changes Host, set server.public_url to the "
                "address people open pager at",
                origin, self.system.config.server.public_url, hosts,
            )  # fmt: skip

    async def form(self, csrf: str) -> dict[str, str]:
        """The posted form, after checking where it comes from (403 from another site's
        page, `from_another_site`) and its CSRF token (403 without the right one)."""
        if self.from_another_site():
            raise Forbidden(self.refusal())
        data = await request.form
        sent = request.headers.get("x-csrf-token") or data.get("csrf") or ""
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise Forbidden("this form's CSRF token is missing or stale: reload the page")
        return {k: v for k, v in data.items()}

    def name_of(self, uid: str | None) -> str:
        """What the dashboard calls a person: their display name (their id when they have
        none, or are no longer in the configuration)."""
        if not uid:
            return ""
        return getattr(self.system.rules.users.get(uid), "name", None) or uid

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
            name_of=self.name_of,
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
        r.headers["Content-Security-Policy"] = self.csp
        r.headers["Referrer-Policy"] = "same-origin"
        r.headers["X-Content-Type-Options"] = "nosniff"
        return r

    @property
    def csp(self) -> str:
        """What a page may load: its own scripts, styles and images, and its stream. The
        stream's origin is named as well as 'self' (which covers ws: and wss: to the same
        host in current browsers, not in every older one); never any host (`ws:`)."""
        public = urlsplit(str(self.system.config.server.public_url))
        ws = ("wss://" if public.scheme == "https" else "ws://") + public.netloc
        return (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"connect-src 'self' {ws}; frame-ancestors 'none'; form-action 'self'; "
            "base-uri 'none'; object-src 'none'"
        )

    def forwarded_host(self) -> str | None:
        """The X-Forwarded-Host of a request from one of `auth.trusted_proxies` (one
        value), the host the browser asked for when the proxy changed Host."""
        forwarded = _incoming().headers.getlist("x-forwarded-host")
        if len(forwarded) == 1 and "," not in forwarded[0] and self.trusted_peer():
            return forwarded[0].strip() or None
        return None

    def hosts(self) -> list[str]:
        """The hosts this request was sent to: its Host, and a trusted proxy's
        X-Forwarded-Host."""
        return [h for h in (_incoming().headers.get("host"), self.forwarded_host()) if h]

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """Whether an Origin is pager's own: `server.public_url`'s, or that of the host the
        request was sent to (`host`, and a trusted proxy's X-Forwarded-Host). Compared as
        browsers write origins: scheme and host in any case, a default port or none."""
        if not origin:
            return False
        o = _origin(origin)
        if o is None:
            return False
        if o == _origin(str(self.system.config.server.public_url)):
            return True
        hosts = [h for h in (host, self.forwarded_host()) if h]
        return o[0] in ("http", "https") and any(
            o == _origin(f"{o[0]}://{h}") for h in hosts if _HOST.fullmatch(h)
        )


PAGE_PREFIXES = ("/login", "/logout", "/incidents", "/oncall", "/schedules", "/notifications",
                 "/services", "/maintenance", "/analytics")  # fmt: skip
HEADINGS = {400: "That did not work", 403: "Not allowed", 404: "Not found",
            409: "Already changed", 429: "Too many requests"}  # fmt: skip


def is_page(path: str) -> bool:
    """Whether `path` is one of the dashboard's (its errors are pages, not JSON)."""
    return path == "/" or any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


def register(
    app: QuartTrio,
    system: System,
    sessions: Sessions | None = None,
    throttle: SigninThrottles | None = None,
) -> Dashboard:
    dash = Dashboard(system, sessions, throttle)

    @app.before_request
    async def load_session() -> None:
        """What the request's cookies name, fetched before anything asks (`Sessions`);
        not for the pages' scripts and styles, which no session guards."""
        if request.path.startswith("/static/"):
            return
        cookies = request.cookies
        await dash.sessions.load(cookies.get(COOKIE), cookies.get(DEVICE_COOKIE), dash.now())

    @app.before_websocket
    async def load_stream_session() -> None:
        await dash.sessions.load(websocket.cookies.get(COOKIE), None, dash.now())

    @app.errorhandler(NotSignedIn)
    async def not_signed_in(e: NotSignedIn) -> Response:
        if request.headers.get("hx-request"):
            r = Response("sign in again", 401)
            r.headers["HX-Redirect"] = "/login"
            return r
        if e.back and e.back != "/":
            return goto("/login?" + urlencode({"next": e.back}))
        return goto("/login")

    return dash
