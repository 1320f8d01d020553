"""REST: analytics (docs/analytics.md). `GET /api/v1/analytics` answers the report as JSON;
`/api/v1/analytics/incidents.csv` and `/people.csv` its tables as CSV a spreadsheet opens.
Any role may read them (viewer and up), with an API token or the dashboard's session.

The report is computed over a copy of the ledger's columns (taken at once, on the event loop)
in a worker thread, so a year's report does not hold the loop that pages people.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import trio
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core.analytics import Directory, Query, frozen, report
from pager.core.analytics.tables import incidents_csv, people_csv
from pager.errors import BadRequest
from pager.ingest.validate import parse_instant

from .auth import Principal, authenticate
from .dashboard import Dashboard
from .responses import jsonify

__all__ = ["DEFAULT_RANGE", "analytics_query", "compute_report", "directory", "register"]

DEFAULT_RANGE = timedelta(days=7)


def directory(system: System) -> Directory:
    """What the configuration in force says that the log does not."""
    zones = {u.id: u.timezone for u in system.config.users}
    return Directory.from_rules(system.rules, zones)


def analytics_query(system: System, args: Any) -> Query:
    """The query of a request's arguments: from, to (ISO 8601; default the last 7 days),
    service, group_by (day or week), tz (the series' calendar; default UTC)."""
    now = system.clock.now()
    raw_to, raw_from = args.get("to"), args.get("from")
    end = parse_instant("to", raw_to) if raw_to else now
    start = parse_instant("from", raw_from) if raw_from else end - DEFAULT_RANGE
    service = args.get("service") or None
    known = service in system.rules.services or system.state.analytics.names.find(service) >= 0
    if service is not None and not known:
        raise BadRequest(f"service: no service {service!r}")
    group_by = args.get("group_by") or "day"
    tz = args.get("tz") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"tz: {tz!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    try:
        return Query(start, end, service=service, group_by=group_by, timezone=tz)
    except ValueError as e:
        raise BadRequest(str(e)) from None


async def compute_report(system: System, q: Query) -> dict[str, Any]:
    led = frozen(system.state.analytics)
    return await trio.to_thread.run_sync(report, led, q, directory(system))


def _csv(body: str, name: str, q: Query) -> Response:
    days = f"{q.start:%Y-%m-%d}-{q.end:%Y-%m-%d}"
    svc = f"-{q.service}" if q.service else ""
    filename = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"pager-{name}{svc}-{days}")
    r = Response(body.encode("utf-8"), 200, content_type="text/csv; charset=utf-8; header=present")
    r.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    r.headers["Cache-Control"] = "no-store"
    return r


def register(app: QuartTrio, system: System, dash: Dashboard) -> None:
    def reader() -> Principal:
        """An API token (viewer and up), or else the dashboard's session (a CSV link)."""
        if not request.headers.get("authorization"):
            found = dash.signed_in()
            if found is not None:
                return found[0]
        return authenticate(system, request.headers, "viewer")

    @app.get("/api/v1/analytics")
    async def analytics() -> Response:
        reader()
        q = analytics_query(system, request.args)
        return jsonify(await compute_report(system, q))

    @app.get("/api/v1/analytics/incidents.csv")
    async def analytics_incidents_csv() -> Response:
        reader()
        q = analytics_query(system, request.args)
        led = frozen(system.state.analytics)
        body = await trio.to_thread.run_sync(incidents_csv, led, q)
        return _csv(body, "incidents", q)

    @app.get("/api/v1/analytics/people.csv")
    async def analytics_people_csv() -> Response:
        reader()
        q = analytics_query(system, request.args)
        r = await compute_report(system, q)
        return _csv(people_csv(r["people"]), "people", q)
