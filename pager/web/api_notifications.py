"""REST: notifications — every one, its attempts and its outcome (sent with the provider's
id, delivered or failed from receipts, cancelled), newest last; each names the bundle that
carried it (storm mode), and a bundle lists what it carried."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.archived import ensure_incident
from pager.actors.dispatcher import Dispatcher
from pager.actors.system import System
from pager.core.bundles import Bundle
from pager.core.notifications import Notification
from pager.core.redaction import shown_address
from pager.core.vocabulary import NotificationStatus
from pager.errors import BadRequest, NotFound

from .auth import authenticate
from .responses import jsonify
from .shown import notification_shown

__all__ = [
    "Breakers",
    "bundle_json",
    "next_try",
    "no_breakers",
    "notification_json",
    "open_breakers",
    "register",
]

MAX_LIMIT = 1000
STATUSES = tuple(NotificationStatus)


Breakers = Callable[[], dict[str, datetime]]


def no_breakers() -> dict[str, datetime]:
    return {}


def open_breakers(dispatcher: Dispatcher | None) -> dict[str, datetime]:
    """Per method, when its open circuit breaker lets attempts out again."""
    out: dict[str, datetime] = {}
    if dispatcher is not None:
        for method, actor in dispatcher.actors.items():
            until = actor.breaker_open_until()
            if until is not None:
                out[method] = until
    return out


def next_try(n: Notification, breakers: dict[str, datetime]) -> datetime | None:
    """When an open notification is tried again: its retry time, or later when its
    method's circuit breaker holds it (`breakers` from `open_breakers`)."""
    held = breakers.get(n.method) if n.open else None
    if held is not None and (n.retry_at is None or n.retry_at < held):
        return held
    return n.retry_at


def notification_json(
    n: Notification, breakers: dict[str, datetime] | None = None, *, addresses: bool = True
) -> dict[str, Any]:
    """`breakers` (from `open_breakers`): a notification held by its method's open circuit
    breaker shows when the breaker lets it go, not a retry time already past. Without
    `addresses` (a principal below admin) the contact address is left out, and taken out of
    the error texts: phone numbers, mail addresses and webhook URLs are the admins' to see,
    as in GET /api/v1/users (`pager.web.shown`)."""
    held = (breakers or {}).get(n.method) if n.open else None
    retry_at = next_try(n, breakers or {})
    n = notification_shown(n, admin=addresses)
    return {
        "id": n.id,
        "incident": n.incident_id,
        "kind": n.kind,
        "method": n.method,
        "address": n.address,
        "user": n.user_id,
        "topic": n.topic,
        "step": n.step,
        "status": n.status,
        "requested_at": n.requested_at,
        "attempts": n.attempts,
        "provider_id": n.provider_id,
        "retry_at": retry_at,
        "circuit_open_until": held,
        "last_error": n.last_error,
        "bundle": n.bundle_id,
        "history": [
            {"at": a.at, "outcome": a.outcome, "attempt": a.attempt, "detail": a.detail}
            for a in n.history
        ],
    }


def bundle_json(b: Bundle, system: System, *, addresses: bool = True) -> dict[str, Any]:
    """A bundle: to whom (`user`; null for a service chat channel's, `kind` "chat"), by
    which method, which pages or status posts (and incidents, each once) it carried, and its
    provider id once sent; with each as the notifications API shows it."""
    book = system.state.notifications
    incidents = b.incidents
    return {
        "id": b.id,
        "kind": "chat" if b.chat else "page",
        "user": b.user_id,
        "method": b.method,
        "address": shown_address(b.address) if addresses else None,
        "requested_at": b.requested_at,
        "sent_at": b.sent_at,
        "provider_id": b.provider_id,
        "count": len(incidents),
        "incidents": list(incidents),
        "notifications": [
            notification_json(n, addresses=addresses)
            if (n := book.by_id.get(nid)) is not None
            else {"id": nid}
            for nid in b.notification_ids
        ],
    }


def register(app: QuartTrio, system: System, open_breakers: Breakers = no_breakers) -> None:
    @app.get("/api/v1/notifications")
    async def list_notifications() -> Response:
        who = authenticate(system, request.headers)
        book = system.state.notifications
        incident = request.args.get("incident")
        status = request.args.get("status")
        try:
            limit = int(request.args.get("limit", "200"))
        except ValueError:
            raise BadRequest("limit: must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}")
        if incident:
            if await ensure_incident(system.state, system.log, incident) is None:
                raise NotFound(f"no incident {incident}")
            found = book.for_incident(incident)
        else:
            found = list(book.by_id.values())
        if status and status not in STATUSES:
            raise BadRequest(f"status: {status!r} is not one of {', '.join(STATUSES)}")
        if status:
            found = [n for n in found if n.status == status]
        breakers = open_breakers()
        shown = [notification_json(n, breakers, addresses=who.may("admin")) for n in found[-limit:]]
        return jsonify({"notifications": shown})

    @app.get("/api/v1/bundles/<bundle_id>")
    async def get_bundle(bundle_id: str) -> Response:
        who = authenticate(system, request.headers)
        b = system.state.bundles.by_id.get(bundle_id)
        if b is None:
            raise NotFound(f"no bundle {bundle_id}")
        return jsonify(bundle_json(b, system, addresses=who.may("admin")))

    @app.get("/api/v1/notifications/<nid>")
    async def get_notification(nid: str) -> Response:
        who = authenticate(system, request.headers)
        n = system.state.notifications.by_id.get(nid)
        if n is None:
            raise NotFound(f"no notification {nid}")
        return jsonify(notification_json(n, open_breakers(), addresses=who.may("admin")))
