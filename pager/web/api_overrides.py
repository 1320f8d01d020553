"""REST: schedule overrides without editing YAML. `POST /api/v1/schedules/{id}/overrides`
(`{user, start, end, by?}`) puts a person on call over a span, above the layers and the
configured overrides; `DELETE .../overrides/{override_id}` removes one; `GET` lists both
kinds. Journaled (`schedule.override_added` / `_removed`), so they survive restarts and
reloads, and applied at once to paging, `/oncall` and the shifts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core.events import Attribution, OverrideAdded, OverrideRemoved
from pager.core.overrides import applies
from pager.errors import BadRequest, NotFound

from .auth import acting_user, authenticate
from .responses import json_body, jsonify

__all__ = ["MAX_SPAN", "register"]

MAX_SPAN = timedelta(days=366)
_FIELDS = {"user", "start", "end", "by"}


def _instant(body: dict[str, Any], field: str) -> datetime:
    raw = body.get(field)
    if not isinstance(raw, str):
        raise BadRequest(f'{field}: required, an ISO 8601 instant such as "2026-12-24T18:00:00Z"')
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{field}: {raw!r} is not an ISO 8601 instant") from None
    if at.tzinfo is None:
        raise BadRequest(f"{field}: {raw!r} needs a UTC offset (Z or +01:00)")
    if not 1970 <= at.year <= 9000:
        raise BadRequest(f"{field}: {raw!r} is out of range (years 1970 to 9000)")
    return at


def _always() -> None:
    return None


def register(
    app: QuartTrio, system: System, refuse_on_standby: Callable[[], None] = _always
) -> None:
    """The overrides API; adding or removing one raises 503 (`refuse_on_standby`) on a
    pager that is not the active one."""

    def schedule_id(sid: str) -> str:
        if sid not in system.compiled_rules.schedules:
            raise NotFound(f"no schedule {sid}")
        return sid

    @app.get("/api/v1/schedules/<sid>/overrides")
    async def list_overrides(sid: str) -> Response:
        authenticate(system, request.headers)
        schedule_id(sid)
        out: list[dict[str, Any]] = [
            {"id": None, "user": o.user, "start": o.start, "end": o.end, "source": "config"}
            for o in system.compiled_rules.schedules[sid].overrides
        ]
        for o in system.state.overrides.values():
            if o.schedule_id == sid:
                out.append(
                    {
                        "id": o.id,
                        "user": o.user,
                        "start": o.start,
                        "end": o.end,
                        "by": o.by,
                        "source": "api",
                        "active": applies(system.compiled_rules, o),
                    }
                )
        return jsonify({"schedule": sid, "overrides": out})

    @app.post("/api/v1/schedules/<sid>/overrides")
    async def add_override(sid: str) -> Response:
        token = authenticate(system, request.headers, need="admin")
        schedule_id(sid)
        body = await json_body(required=True)
        refuse_on_standby()  # with the body read: the connection can carry the next request
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise BadRequest(f"{unknown[0]}: unknown field (expected user, start, end, by)")
        user = body.get("user")
        if not isinstance(user, str) or not user:
            raise BadRequest("user: required, a user id")
        if user not in system.compiled_rules.users:
            raise BadRequest(f"user: unknown user {user!r}")
        start, end = _instant(body, "start"), _instant(body, "end")
        if end <= start:
            raise BadRequest("end: must be after start")
        if end - start > MAX_SPAN:
            raise BadRequest("end: at most 366 days after start")
        now = system.clock.now()
        if end <= now:
            raise BadRequest("end: must be in the future")
        ev = OverrideAdded(
            override_id=f"ov-{uuid.uuid4().hex[:12]}",
            schedule_id=sid,
            user=user,
            start=start,
            end=end,
            attribution=Attribution(acting_user(system, body, token), None, token.token_name),
        )
        await system.journal.record([ev], now)
        system.refresh_overrides()
        return jsonify(
            {
                "id": ev.override_id,
                "schedule": sid,
                "user": user,
                "start": start,
                "end": end,
                "by": ev.by,
                "source": "api",
            },
            201,
        )

    @app.delete("/api/v1/schedules/<sid>/overrides/<oid>")
    async def remove_override(sid: str, oid: str) -> Response:
        token = authenticate(system, request.headers, need="admin")
        refuse_on_standby()
        o = system.state.overrides.get(oid)
        if o is None or o.schedule_id != sid:
            raise NotFound(f"no override {oid} made through the API on schedule {sid}")
        await system.journal.record(
            [
                OverrideRemoved(
                    override_id=oid,
                    schedule_id=sid,
                    attribution=Attribution(token.name, None, token.token_name),
                )
            ],
            system.clock.now(),
        )
        system.refresh_overrides()
        return jsonify({"status": "removed", "id": oid})
