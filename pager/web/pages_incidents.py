"""Dashboard: the incidents list (the home page, `/`), its live rows fragment, one
incident, and the actions on it. Actions are plain forms (they work without JavaScript)
checked for the session's CSRF token, need the responder role, and are journaled as the
signed-in person `via web`; then the browser is sent back where it came from (303)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.archived import ensure_incident
from pager.actors.messages import Act
from pager.actors.system import System
from pager.config.durations import parse_duration
from pager.core.archive import IncidentSummary
from pager.core.commands import Acknowledge, AddNote, Command, Escalate, Resolve, Snooze
from pager.core.model import Incident, StatusFilter
from pager.core.timeline_words import last_via, named
from pager.core.views import timeline_lines
from pager.core.vocabulary import AlertStatus
from pager.errors import BadRequest, NotFound

from .api_notifications import Breakers, next_try, no_breakers
from .dashboard import Dashboard, goto, local_path
from .shown import lines_shown, notification_shown

__all__ = ["SNOOZES", "register"]

ROWS = 100
SNOOZES = ("15m", "1h", "4h")
STATUS_FILTERS = tuple(StatusFilter)


class Row(NamedTuple):
    """One line of the incidents list. A named tuple, not a dict: the template reads each
    field as `r.status`, which Jinja tries as an attribute first (on a dict, a raised and
    caught AttributeError per field per row)."""

    id: str
    short_code: str
    title: str
    service: str
    status: str
    severity: str
    urgency: str
    created_at: datetime
    acknowledged_by: str | None
    resolved_by: str | None
    firing: int
    via: str | None  # how it was acknowledged or resolved: web, slack, sms, api, ...


def via(inc: Incident, kind: str) -> str | None:
    """How `inc` was last acknowledged or resolved (`kind`, an event type): the channel of
    the newest such entry of its timeline."""
    return last_via(inc.history, kind)


_DONE = {"acknowledged": "incident.acknowledged", "resolved": "incident.resolved"}


def _row(r: Incident | IncidentSummary) -> Row:
    how = None
    if isinstance(r, Incident):
        firing = sum(1 for a in r.alerts.values() if a.status == AlertStatus.FIRING)
        status = r.status.value
        if status in _DONE:
            how = via(r, _DONE[status])
    else:
        firing, status = r.alerts_firing, str(r.status)
    return Row(
        r.id, r.short_code, r.title, r.service_id, status, r.severity, r.urgency,
        r.created_at, r.acknowledged_by, r.resolved_by, firing, how,
    )  # fmt: skip


def _filters() -> dict[str, str]:
    status = request.args.get("status", "open")
    if status not in STATUS_FILTERS:
        raise BadRequest(f"status: {status!r} is not one of {', '.join(STATUS_FILTERS)}")
    urgency = request.args.get("urgency", "")
    if urgency not in ("", "high", "low"):
        raise BadRequest("urgency: high or low")
    return {
        "status": status,
        "service": request.args.get("service", ""),
        "urgency": urgency,
        "q": request.args.get("q", "").strip()[:200],
    }


def select(system: System, f: dict[str, str], limit: int = ROWS) -> list[Row]:
    """The rows the filters keep: open incidents first (newest first), then the rest."""
    state = system.state
    open_rows: list[Incident | IncidentSummary] = sorted(
        state.open_incidents(), key=attrgetter("number"), reverse=True
    )
    status, service, urgency, q = f["status"], f["service"], f["urgency"], f["q"].lower()
    candidates: Any = open_rows
    if status in ("resolved", "all"):
        rest = (r for r in state.newest_first() if str(r.status) == "resolved")
        candidates = rest if status == "resolved" else [*open_rows, *rest]
    out: list[Row] = []
    for r in candidates:
        if status in ("triggered", "acknowledged") and str(r.status) != status:
            continue
        if service and r.service_id != service:
            continue
        if urgency and r.urgency != urgency:
            continue
        if (
            q
            and q not in r.title.lower()
            and q not in r.dedup_key.lower()
            and q != r.short_code.lower()
        ):
            continue
        out.append(_row(r))
        if len(out) >= limit:
            break
    return out


def _home() -> str:
    """The incidents list with the request's filters: where its row actions come back to."""
    query = request.query_string.decode("latin-1")
    return f"/?{query}" if query else "/"


def _back(default: str) -> str:
    """Where an action sends the browser: its `next`, when that is a path on this site."""
    return local_path(request.args.get("next")) or default


def _always() -> None:
    return None


def register(
    app: QuartTrio,
    system: System,
    dash: Dashboard,
    open_breakers: Breakers = no_breakers,
    refuse_on_standby: Callable[[], None] = _always,
) -> None:
    """The incident pages; an action raises 503 (`refuse_on_standby`) on a pager that is
    not the active one."""

    @app.get("/")
    async def page_incidents() -> Response:
        who, csrf = dash.principal()
        f = _filters()
        rows = select(system, f)
        services = sorted(system.rules.services)
        body = dash.render(
            "incidents.html", who, csrf, rows=rows, f=f, services=services,
            statuses=STATUS_FILTERS, last_seq=system.log.last_seq, limit=ROWS, back=_home(),
        )  # fmt: skip
        return dash.page(body)

    @app.get("/incidents/rows")
    async def page_incident_rows() -> Response:
        who, csrf = dash.principal()
        rows = select(system, _filters())
        body = dash.render("_rows.html", who, csrf, rows=rows, limit=ROWS, back=_home())
        return dash.page(body)

    @app.get("/incidents/<incident_id>")
    async def page_incident(incident_id: str) -> Response:
        who, csrf = dash.principal()
        inc = await ensure_incident(system.state, system.log, incident_id)
        if inc is None:
            raise NotFound(f"no incident {incident_id}")
        breakers = open_breakers()
        notes = system.state.notifications.for_incident(incident_id)
        retries = {n.id: next_try(n, breakers) for n in notes if n.open}
        admin = who.may("admin")
        lines = timeline_lines(named(e, dash.name_of) for e in inc.history)
        timeline = lines_shown(lines, notes, admin=admin)
        notes = [notification_shown(n, admin=admin) for n in notes]
        svc = system.rules.services.get(inc.service_id)
        policy = None
        if inc.escalation is not None:
            policy = system.rules.policies.get(inc.escalation.policy_id)
        elif svc is not None:
            policy = svc.policy
        status = inc.status.value
        how = via(inc, _DONE[status]) if status in _DONE else None
        body = dash.render(
            "incident.html", who, csrf, inc=inc, notifications=notes, retries=retries,
            policy=policy, service=svc, snoozes=SNOOZES, last_seq=system.log.last_seq, via=how,
            timeline=timeline,
        )  # fmt: skip
        return dash.page(body)

    async def act(incident_id: str, make: Any) -> Response:
        who, csrf = dash.principal("responder")
        form = await dash.form(csrf)
        refuse_on_standby()
        command: Command = make(form, who.name)
        outcome = await system.submit(Act(incident_id, command))
        if outcome.incident is None and not system.state.knows(incident_id):
            raise NotFound(f"no incident {incident_id}")
        return goto(_back(f"/incidents/{incident_id}"), 303)

    @app.post("/incidents/<incident_id>/acknowledge")
    async def page_acknowledge(incident_id: str) -> Response:
        return await act(incident_id, lambda f, by: Acknowledge(by=by, via="web"))

    @app.post("/incidents/<incident_id>/resolve")
    async def page_resolve(incident_id: str) -> Response:
        return await act(incident_id, lambda f, by: Resolve(by=by, via="web"))

    @app.post("/incidents/<incident_id>/snooze")
    async def page_snooze(incident_id: str) -> Response:
        def make(f: dict[str, str], by: str) -> Command:
            raw = f.get("for", "")
            if raw not in SNOOZES:
                raise BadRequest(f"for: one of {', '.join(SNOOZES)}")
            return Snooze(duration=parse_duration(raw), by=by, via="web")

        return await act(incident_id, make)

    @app.post("/incidents/<incident_id>/escalate")
    async def page_escalate(incident_id: str) -> Response:
        def make(f: dict[str, str], by: str) -> Command:
            try:
                level = int(f.get("level", ""))
            except ValueError:
                raise BadRequest("level: required, an integer (1 is the first level)") from None
            return Escalate(level=level, by=by, via="web")

        return await act(incident_id, make)

    @app.post("/incidents/<incident_id>/notes")
    async def page_add_note(incident_id: str) -> Response:
        def make(f: dict[str, str], by: str) -> Command:
            text = f.get("text", "").strip()
            if not text:
                raise BadRequest("text: required")
            if len(text) > 10_000:
                raise BadRequest("text: at most 10000 characters")
            return AddNote(text=text, by=by, via="web")

        return await act(incident_id, make)
