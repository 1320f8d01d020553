"""Dashboard: the Analytics page — the report of `GET /api/v1/analytics` for a range of days
(UTC, both ends included), a service or all, as figures, server-made SVG charts (incidents per
day or week, time to acknowledge and resolve, each person's interruptions by part of their
day, delivery) and tables, with the CSV downloads. Any signed-in role may see it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core.analytics import MAX_RANGE, Query
from pager.core.analytics.text import duration
from pager.errors import BadRequest
from pager.ingest.validate import FIRST_YEAR, LAST_YEAR

from . import charts
from .api_analytics import compute_report
from .dashboard import Dashboard

__all__ = ["register"]

DAYS = 7
HOURS = (("business hours", "c-business"), ("off hours", "c-off"), ("sleep hours", "c-sleep"))


def _day(name: str, raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise BadRequest(f"{name}: {raw!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    return day


def _query(system: System) -> tuple[Query, dict[str, Any]]:
    today = system.clock.now().astimezone(UTC).date()
    last = _day("to", request.args.get("to"), today)
    first = _day("from", request.args.get("from"), last - timedelta(days=DAYS - 1))
    start = datetime.combine(first, datetime.min.time(), UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    service = request.args.get("service") or None
    if service is not None and service not in system.rules.services:
        raise BadRequest(f"service: no service {service!r}")
    group_by = request.args.get("group_by") or "day"
    if end - start > MAX_RANGE:
        raise BadRequest(f"to: at most {MAX_RANGE.days} days after from")
    try:
        q = Query(start, end, service=service, group_by=group_by)
    except ValueError as e:
        raise BadRequest(str(e)) from None
    form = {"from": first.isoformat(), "to": last.isoformat(), "service": service or "",
            "group_by": group_by}  # fmt: skip
    return q, form


def _charts(r: dict[str, Any]) -> dict[str, Any]:
    series = r["series"]
    labels = [s["period"][5:] for s in series]  # MM-DD
    opened = [s["opened"] for s in series]
    acked = [s["acknowledged"] for s in series]
    out: dict[str, Any] = {
        "incidents": charts.bars(
            "Incidents opened per period: acknowledged and not",
            labels,
            [
                ("acknowledged", "c-ack", acked),
                (
                    "not acknowledged",
                    "c-unack",
                    [o - a for o, a in zip(opened, acked, strict=True)],
                ),
            ],
        ),
        "incidents_legend": charts.legend(
            [("acknowledged", "c-ack"), ("not acknowledged", "c-unack")]
        ),
        "times": charts.bars(
            "Median minutes to acknowledge per period",
            labels,
            [
                (
                    "median time to acknowledge",
                    "c-ack",
                    [round((s["mtta_seconds"]["p50"] or 0) / 60, 1) for s in series],
                )
            ],
            unit=" min",
        ),
    }
    people = [p for p in r["people"] if p["interruptions"]["total"] or p["pages"]["total"]]
    out["people"] = charts.hbars(
        "Interruptions per person by part of their day",
        [(p["user"], [p["interruptions"][k] for k in ("business", "off_hours", "sleep")])
         for p in people],
        [c for _, c in HOURS],
    ) if people else None  # fmt: skip
    out["people_legend"] = charts.legend(list(HOURS))
    methods = r["delivery"]["methods"]
    out["delivery"] = charts.hbars(
        "Notifications per method: sent or delivered, failed, other",
        [(m["method"], [m["sent"] + m["delivered"], m["failed"] + m["undelivered"],
                        m["pending"] + m["retrying"] + m["cancelled"]]) for m in methods],
        ["c-ack", "c-unack", "c-other"],
    ) if methods else None  # fmt: skip
    out["delivery_legend"] = charts.legend(
        [("sent or delivered", "c-ack"), ("failed", "c-unack"), ("pending or cancelled", "c-other")]
    )
    return out


def register(app: QuartTrio, system: System, dash: Dashboard) -> None:
    @app.get("/analytics")
    async def page_analytics() -> Response:
        who, csrf = dash.principal()
        q, form = _query(system)
        r = await compute_report(system, q)
        args = {"from": q.start.isoformat(), "to": q.end.isoformat()}
        if q.service:
            args["service"] = q.service
        links = {
            "incidents": "/api/v1/analytics/incidents.csv?" + urlencode(args),
            "people": "/api/v1/analytics/people.csv?" + urlencode(args),
            "json": "/api/v1/analytics?" + urlencode({**args, "group_by": q.group_by}),
        }
        body = dash.render(
            "analytics.html", who, csrf, r=r, f=form, links=links, charts=_charts(r),
            services=sorted(system.rules.services), secs=duration,
        )  # fmt: skip
        return dash.page(body)
