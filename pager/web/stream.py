"""`GET /api/v1/stream?since=SEQ`: a websocket carrying every journaled event, as the JSON
line the log holds (`{"v","seq","ts","type","subject","data"}`), one per message, in order.

Programs authenticate with a bearer token; a browser (which cannot set the header) with its
dashboard session cookie, accepted only when the Origin is pager's own.

A contact address (a phone number, a mail address, a Teams or webhook URL, which carry
credentials) is the admins' to see, on the stream as on the REST API: below admin, a record
of an event with an `address` (`notification.requested`, `notification.bundled`,
`contact.opted_out`...) comes with `address` null, and the `error` of
`notification.failed` and `notification.delivered` (a provider's words, which may quote the
address) without it; the rest of it as the log holds it. An admin sees a URL address
without the parts that may be credentials (pager.web.shown).

`since` is inclusive: a client that last saw record N resumes with `since=N+1` and misses
nothing. Without `since`, the stream starts with the next event. A client whose socket stops
draining for SEND_TIMEOUT is closed with code 4000 and the reason `resume with since=N`; at
shutdown every stream is closed with 1001.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import trio
from quart import Response, websocket
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core.events import EVENT_TYPES
from pager.core.redaction import shown_address
from pager.errors import Forbidden, PagerError, Unauthorized
from pager.store.base import LINE_OPTIONS, Record

from .auth import Principal, authenticate
from .dashboard import Dashboard
from .responses import jsonify
from .sessions import COOKIE
from .shown import error_shown

__all__ = ["ADDRESSED", "SEND_TIMEOUT", "message", "register"]

SEND_TIMEOUT = 30.0
ADDRESSED = frozenset(tag for tag, cls in EVENT_TYPES.items() if "address" in cls._fields)
"""The tags of the events that name a contact address."""


TEXTS = {"notification.failed": "error", "notification.delivered": "error",
         "notification.cancelled": "reason"}  # fmt: skip
"""The events whose text may quote what a provider said about a notification, and where."""


def _nobody(notification_id: str) -> str | None:
    return None


def message(rec: Record, addresses: bool, address_of: Callable[[str], str | None] = _nobody) -> str:
    """The record as a stream message: its contact address only if `addresses` (and a URL
    without its credentials), and a provider's text about a notification as the REST API
    shows it (`pager.web.shown`; `address_of` a notification's id -> its address)."""
    data = rec.data
    changes: dict[str, Any] = {}
    address = data.get("address") if rec.type in ADDRESSED else None
    if address is not None:
        shown = shown_address(address) if addresses else None
        if shown != address:
            changes["address"] = shown
    field = TEXTS.get(rec.type)
    if field is not None and data.get(field):
        text = error_shown(data[field], (address_of(data.get("notification_id", "")),),
                           admin=addresses)  # fmt: skip
        if text != data[field]:
            changes[field] = text
    if not changes:
        return rec.json_bytes().decode()
    hidden = {**rec.to_json(), "data": {**data, **changes}}
    return orjson.dumps(hidden, option=LINE_OPTIONS).decode()


def register(app: QuartTrio, system: System, dash: Dashboard) -> None:
    def who_is_it() -> Principal:
        cookie = websocket.cookies.get(COOKIE)
        if websocket.headers.get("authorization") or not cookie:
            return authenticate(system, websocket.headers)
        # the session first: a made-up cookie with a made-up Origin is refused without a
        # word in the log (the refusals logged once per Origin are for people signed in)
        found = dash.session_principal(cookie)
        named, proxied = dash.proxy_identity()
        if found is None or (named and (proxied is None or proxied.id != found[0].user)):
            raise Unauthorized("the session has ended: sign in again")
        if not dash.origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host")):
            raise Forbidden(dash.refusal("a session's stream was opened"))
        return found[0]

    def address_of(notification_id: str) -> str | None:
        n = system.state.notifications.by_id.get(notification_id)
        return None if n is None else n.address

    @app.websocket("/api/v1/stream")
    async def stream() -> Response | None:
        try:
            addresses = who_is_it().may("admin")
            raw = websocket.args.get("since")
            since = system.log.last_seq + 1 if raw is None else int(raw)
            if since < 0:
                raise ValueError
        except PagerError as e:
            return jsonify(e.to_json(), e.status_code)
        except ValueError:
            return jsonify(
                {"status": "error", "message": "since: must be a sequence number >= 0"}, 400
            )
        await websocket.accept()
        async for rec in system.hub.subscribe(since):
            with trio.move_on_after(SEND_TIMEOUT) as scope:
                await websocket.send(message(rec, addresses, address_of))
            if scope.cancelled_caught:
                await websocket.close(4000, f"too slow; resume with since={rec.seq}")
                return None
        await websocket.close(1001, "pager is shutting down")
        return None
