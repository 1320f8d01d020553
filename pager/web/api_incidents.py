"""REST: incidents. List and filter, one incident with its alerts and timeline, and the
actions (acknowledge, resolve, snooze, escalate, notes), each journaled with who did it and
broadcast; 409 when the incident's state does not allow the action."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.archived import ensure_incident
from pager.actors.messages import Act
from pager.actors.system import System
from pager.config.durations import parse_duration
from pager.core.archive import IncidentSummary
from pager.core.commands import Acknowledge, AddNote, Command, Escalate, Resolve, Snooze
from pager.core.model import Incident, Status, statuses_for
from pager.core.views import incident_json, summary_json
from pager.errors import BadRequest, NotFound
from pager.ingest.validate import parse_time

from .api_notifications import Breakers, no_breakers, notification_json
from .auth import acting_user, authenticate
from .responses import MAX_NOTE, free_text, json_body, jsonify
from .shown import timeline_json_shown

__all__ = ["register"]

MAX_LIMIT = 1000


def _statuses(raw: str | None) -> frozenset[Status] | None:
    """The statuses `status=` picks (a comma list of StatusFilter words); None for all."""
    try:
        return statuses_for(raw or "")
    except ValueError as e:
        raise BadRequest(f"status: {e}") from None


def _since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise BadRequest(f"since: {raw!r} is not an ISO 8601 instant") from None


def _always() -> None:
    return None


def register(
    app: QuartTrio,
    system: System,
    open_breakers: Breakers = no_breakers,
    refuse_on_standby: Callable[[], None] = _always,
) -> None:
    """The incidents API; an action raises 503 (`refuse_on_standby`) on a pager that is not
    the active one."""

    @app.get("/api/v1/incidents")
    async def list_incidents() -> Response:
        authenticate(system, request.headers)
        statuses = _statuses(request.args.get("status"))
        service = request.args.get("service") or None
        since = _since(request.args.get("since"))
        try:
            limit = int(request.args.get("limit", "100"))
        except ValueError:
            raise BadRequest("limit: must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}")
        state = system.state
        if statuses is not None and Status.RESOLVED not in statuses:
            rows: list[Incident | IncidentSummary] = sorted(
                state.open_incidents(), key=lambda i: i.number, reverse=True
            )
        else:
            rows = state.newest_first()
        wanted = None if statuses is None else {s.value for s in statuses}
        found: list[Incident | IncidentSummary] = []
        for row in rows:
            status = str(row.status)  # Status is a StrEnum; a summary holds the str
            if wanted is not None and status not in wanted:
                continue
            if service is not None and row.service_id != service:
                continue
            if since is not None and row.created_at < since:
                continue
            found.append(row)
            if len(found) >= limit:
                break
        return jsonify(
            {
                "incidents": [
                    incident_json(r) if isinstance(r, Incident) else summary_json(r) for r in found
                ],
                "limit": limit,
            }
        )

    @app.get("/api/v1/incidents/<incident_id>")
    async def get_incident(incident_id: str) -> Response:
        who = authenticate(system, request.headers)
        inc = await ensure_incident(system.state, system.log, incident_id)
        if inc is None:
            raise NotFound(f"no incident {incident_id}")
        notes = system.state.notifications.for_incident(incident_id)
        admin = who.may("admin")
        out = incident_json(inc, detail=True)
        out["timeline"] = timeline_json_shown(out["timeline"], notes, admin=admin)
        breakers = open_breakers()
        out["notifications"] = [notification_json(n, breakers, addresses=admin) for n in notes]
        return jsonify(out)

    async def act(incident_id: str, make: Any) -> Response:
        token = authenticate(system, request.headers, need="responder")
        body = await json_body(any_type=True)
        refuse_on_standby()  # with the body read: the connection can carry the next request
        # the person acting (`by`), and the token whose request it is, for the journal
        made = make(body, acting_user(system, body, token))
        command: Command = dataclasses.replace(made, token_name=token.token_name)
        outcome = await system.submit(Act(incident_id, command))
        inc = outcome.incident or await ensure_incident(system.state, system.log, incident_id)
        if inc is None:
            raise NotFound(f"no incident {incident_id}")
        out = incident_json(inc, detail=True)
        notes = system.state.notifications.for_incident(incident_id)
        out["timeline"] = timeline_json_shown(out["timeline"], notes, admin=token.may("admin"))
        return jsonify(out)

    @app.post("/api/v1/incidents/<incident_id>/acknowledge")
    async def acknowledge(incident_id: str) -> Response:
        return await act(incident_id, lambda b, by: Acknowledge(by=by, via="api"))

    @app.post("/api/v1/incidents/<incident_id>/resolve")
    async def resolve(incident_id: str) -> Response:
        return await act(incident_id, lambda b, by: Resolve(by=by, via="api"))

    @app.post("/api/v1/incidents/<incident_id>/snooze")
    async def snooze(incident_id: str) -> Response:
        def make(body: dict[str, Any], by: str) -> Command:
            raw = body.get("for")
            if not isinstance(raw, str):
                raise BadRequest('for: required, a duration like "30m"')
            try:
                duration = parse_duration(raw)
            except ValueError as e:
                raise BadRequest(f"for: {e}") from None
            return Snooze(duration=duration, by=by, via="api")

        return await act(incident_id, make)

    @app.post("/api/v1/incidents/<incident_id>/escalate")
    async def escalate(incident_id: str) -> Response:
        def make(body: dict[str, Any], by: str) -> Command:
            level = body.get("level")
            if isinstance(level, float) and level.is_integer() and abs(level) < 2**53:
                level = int(level)  # JSON has one number type: 2.0 is the integer 2
            if not isinstance(level, int) or isinstance(level, bool):
                raise BadRequest("level: required, an integer (1 is the first level)")
            return Escalate(level=level, by=by, via="api")

        return await act(incident_id, make)

    @app.post("/api/v1/incidents/<incident_id>/notes")
    async def add_note(incident_id: str) -> Response:
        def make(body: dict[str, Any], by: str) -> Command:
            text = free_text(body, "text", MAX_NOTE, multiline=True, required=True)
            assert text is not None
            return AddNote(text=text, by=by, via="api")

        return await act(incident_id, make)
