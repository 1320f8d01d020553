"""Calendar feeds (see `pager.core.calendars`): `GET /ical/schedules/{id}/{token}.ics` and
`GET /ical/users/{id}/{token}.ics` for calendar apps, which cannot send a bearer token, so the
URL is the credential; and, behind the API's bearer tokens, the URL of each feed
(`GET /api/v1/schedules/{id}/calendar`, `/api/v1/users/{id}/calendar`) and its revocation
(`POST .../calendar/revoke`: journaled, the old URL stops working, a new one is returned).
A person's feed URL is shown to that person (a token with their `user`) and to admins; a
schedule's to the people on it and to admins: whoever holds the URL reads the feed, also
once their own access is gone.

A feed answers 404 — the same answer as any unknown path, and after the same work — when
`auth.calendar_secret` is not set, when the schedule or person is not configured, or when
the token is wrong or revoked: nothing tells which. Tokens are compared in constant time and
never logged (the request path is logged without them). `?weeks=` (1 to 52, default 8) is
how far ahead the feed reaches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import trio
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import NotFound as NoSuchPath

from pager.actors.system import System
from pager.core import calendars as cal
from pager.core.events import Attribution, CalendarFeedRevoked
from pager.core.ical import render_calendar
from pager.errors import BadRequest, Conflict, Forbidden, NotFound

from .auth import Principal, authenticate, check_role
from .responses import jsonify

__all__ = ["register"]

log = logging.getLogger("pager.web.calendars")

HEADERS = {
    "Cache-Control": "private, no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
_PLACEHOLDER = "-"  # the id a token is checked against when the feed does not exist


def _weeks() -> int:
    raw = request.args.get("weeks")
    if raw is None:
        return cal.DEFAULT_WEEKS
    if not raw.isdigit() or not 1 <= int(raw) <= cal.MAX_WEEKS:
        raise BadRequest(f"weeks: {raw!r} is not a number of weeks from 1 to {cal.MAX_WEEKS}")
    return int(raw)


def register(app: QuartTrio, system: System) -> None:
    def exists(kind: str, ident: str) -> bool:
        rules = system.current_rules()
        return ident in (rules.schedules if kind == "schedules" else rules.users)

    def generation(kind: str, ident: str) -> int:
        return system.state.calendar_generations.get(cal.feed_key(kind, ident), 0)

    def secret() -> str:
        value = system.config.auth.calendar_secret
        if not value:
            raise Conflict("calendar feeds are off: set auth.calendar_secret")
        return str(value)

    def feed_url(kind: str, ident: str) -> str:
        token = cal.feed_token(secret(), kind, ident, generation(kind, ident))
        return f"{system.config.server.public_url}/ical/{kind}/{ident}/{token}.ics"

    def domain() -> str:
        return urlsplit(system.config.server.public_url).hostname or "pager"

    def schedule_feed(sid: str, weeks: int) -> Callable[[], str]:
        """The feed's text, to compute in a worker thread (from frozen values only)."""
        s = system.current_rules().schedules[sid]
        config = system.config.schedule(sid)
        name = config.name if config is not None else sid
        users = {u.id: u.name or u.id for u in system.current_rules().users.values()}
        now, host = system.clock.now(), domain()

        def text() -> str:
            window = cal.feed_window(now, s.timezone, weeks)
            events = cal.schedule_events(
                s, window, schedule_name=name, user_names=users, domain=host
            )
            return render_calendar(f"On call: {name}", events, now)

        return text

    def user_feed(uid: str, weeks: int) -> Callable[[], str]:
        rules = system.current_rules()
        user = system.config.user(uid)
        timezone = user.timezone if user is not None else "UTC"
        names = {s.id: s.name for s in system.config.schedules}
        person = rules.users[uid].name or uid
        now, host = system.clock.now(), domain()

        def text() -> str:
            window = cal.feed_window(now, timezone, weeks)
            events = cal.user_events(
                rules.schedules, uid, window, schedule_names=names, domain=host
            )
            return render_calendar(f"On call: {person}", events, now)

        return text

    @app.get("/ical/<kind>/<ident>/<token>.ics")
    async def feed(kind: str, ident: str, token: str) -> Response:
        value = system.config.auth.calendar_secret
        known = kind in cal.FEED_KINDS and exists(kind, ident)
        # the same work whether or not the feed exists: a token is always computed
        checked = cal.token_matches(
            str(value or _PLACEHOLDER),
            kind if known else "schedules",
            ident if known else _PLACEHOLDER,
            generation(kind, ident) if known else 0,
            token,
        )
        if not (value and known and checked):
            raise NoSuchPath()
        weeks = _weeks()
        build = schedule_feed(ident, weeks) if kind == "schedules" else user_feed(ident, weeks)
        # a year of an hourly rotation takes ~0.2 s: not on the loop that pages people
        text = await trio.to_thread.run_sync(build)
        return Response(text, 200, headers=HEADERS, content_type="text/calendar; charset=utf-8")

    def answer(kind: str, ident: str) -> dict[str, Any]:
        return {
            "feed": cal.feed_key(kind, ident),
            "url": feed_url(kind, ident),
            "weeks": {"default": cal.DEFAULT_WEEKS, "max": cal.MAX_WEEKS},
        }

    def known(kind: str, ident: str) -> None:
        if not exists(kind, ident):
            what = "schedule" if kind == "schedules" else "user"
            raise NotFound(f"no {what} {ident}")

    def members(sid: str) -> set[str]:
        """The people of its layers, and of its overrides that have not ended (someone who
        covered one shift last month is no member for good)."""
        s = system.current_rules().schedules[sid]
        now = system.clock.now()
        covering = {o.user for o in s.overrides if o.end > now}
        return {u for layer in s.layers for u in layer.users} | covering

    def may_see(who: Principal, kind: str, ident: str) -> None:
        """A feed's URL is a credential that outlives the principal's access (a calendar
        app keeps it): a person's is theirs and the admins', a schedule's its members'
        (the people of its layers and of its overrides not ended yet) and the admins'."""
        if who.may("admin"):
            return
        if kind == "users" and who.user == ident:
            return
        if kind == "schedules" and who.user is not None and who.user in members(ident):
            return
        whose = f"{ident}'s" if kind == "users" else f"schedule {ident}'s"
        others = f"{ident} or an admin" if kind == "users" else "its members and admins"
        raise Forbidden(f"{whose} calendar feed URL is for {others} to see; {who.name} is not")

    async def show(kind: str, ident: str) -> Response:
        who = authenticate(system, request.headers)
        known(kind, ident)
        may_see(who, kind, ident)
        return jsonify(answer(kind, ident), 200, {"Cache-Control": "no-store"})

    async def revoke(kind: str, ident: str) -> Response:
        # a person may revoke their own feed; anything else is an admin's
        who = authenticate(system, request.headers)
        if not (kind == "users" and who.user == ident):
            check_role(who, "admin")
        by = who.name
        known(kind, ident)
        secret()  # off: nothing to revoke
        key = cal.feed_key(kind, ident)
        ev = CalendarFeedRevoked(
            feed=key, generation=generation(kind, ident) + 1, attribution=Attribution(by)
        )
        await system.journal.record([ev], system.clock.now())
        log.info("calendar feed %s revoked by %s (generation %d)", key, by, ev.generation)
        body = {**answer(kind, ident), "status": "revoked"}
        return jsonify(body, 200, {"Cache-Control": "no-store"})

    @app.get("/api/v1/schedules/<sid>/calendar")
    async def schedule_calendar(sid: str) -> Response:
        return await show("schedules", sid)

    @app.post("/api/v1/schedules/<sid>/calendar/revoke")
    async def schedule_calendar_revoke(sid: str) -> Response:
        return await revoke("schedules", sid)

    @app.get("/api/v1/users/<uid>/calendar")
    async def user_calendar(uid: str) -> Response:
        return await show("users", uid)

    @app.post("/api/v1/users/<uid>/calendar/revoke")
    async def user_calendar_revoke(uid: str) -> Response:
        return await revoke("users", uid)
