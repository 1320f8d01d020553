"""REST: maintenance windows. While a window covers a service, its alerts are recorded and
nobody is paged. Windows come from the configuration (`services[].maintenance`) or from
here, with an end time; both are listed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.config.durations import parse_duration
from pager.core.events import Attribution, MaintenanceEnded, MaintenanceStarted
from pager.errors import BadRequest, NotFound
from pager.ingest.validate import parse_time

from .auth import acting_user, authenticate
from .responses import MAX_REASON, free_text, json_body, jsonify

__all__ = ["register"]


def _window_json(
    wid: str, service: str, start: datetime, end: datetime, reason: str | None, source: str
) -> dict[str, Any]:
    return {
        "id": wid,
        "service": service,
        "start": start,
        "end": end,
        "reason": reason,
        "source": source,
    }


def _always() -> None:
    return None


def register(
    app: QuartTrio, system: System, refuse_on_standby: Callable[[], None] = _always
) -> None:
    """The maintenance API; starting or ending a window raises 503 (`refuse_on_standby`) on
    a pager that is not the active one."""

    @app.get("/api/v1/maintenance")
    async def list_windows() -> Response:
        authenticate(system, request.headers)
        now = system.clock.now()
        out = []
        for sid, svc in system.rules.services.items():
            for w in svc.maintenance:
                if w.end > now:
                    out.append(_window_json(w.id or "", sid, w.start, w.end, w.reason, "config"))
        for mw in system.state.maintenance.values():
            if mw.end > now:
                out.append(_window_json(mw.id, mw.service_id, mw.start, mw.end, mw.reason, "api"))
        return jsonify({"maintenance": out})

    @app.post("/api/v1/services/<service_id>/maintenance")
    async def create_window(service_id: str) -> Response:
        token = authenticate(system, request.headers, need="admin")
        if service_id not in system.rules.services:
            raise NotFound(f"no service {service_id}")
        body = await json_body(required=True)
        refuse_on_standby()  # with the body read: the connection can carry the next request
        now = system.clock.now()
        try:
            start = parse_time(body["start"]) if body.get("start") else now
            if body.get("end"):
                end = parse_time(body["end"])
            elif isinstance(body.get("for"), str):
                end = start + parse_duration(body["for"])
            else:
                raise BadRequest('end or for: required (e.g. "for": "2h")')
        except (ValueError, TypeError) as e:
            raise BadRequest(f"start/end/for: {e}") from None
        if end <= start:
            raise BadRequest("end: must be after start")
        if end <= now:
            raise BadRequest("end: must be in the future")
        reason = free_text(body, "reason", MAX_REASON)
        ev = MaintenanceStarted(
            window_id=f"mw-{uuid.uuid4().hex[:12]}",
            service_id=service_id,
            start=start,
            end=end,
            reason=reason,
            attribution=Attribution(acting_user(system, body, token), None, token.token_name),
        )
        await system.journal.record([ev], now)
        return jsonify(_window_json(ev.window_id, service_id, start, end, reason, "api"), 201)

    @app.delete("/api/v1/maintenance/<window_id>")
    async def end_window(window_id: str) -> Response:
        token = authenticate(system, request.headers, need="admin")
        refuse_on_standby()
        w = system.state.maintenance.get(window_id)
        if w is None:
            raise NotFound(f"no maintenance window {window_id} created through the API")
        await system.journal.record(
            [
                MaintenanceEnded(
                    window_id=window_id,
                    service_id=w.service_id,
                    attribution=Attribution(token.name, None, token.token_name),
                )
            ],
            system.clock.now(),
        )
        return jsonify({"status": "ended", "id": window_id})
