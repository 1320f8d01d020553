"""Dashboard: who is on call now, the next 14 days of a schedule (each layer, then the final
rotation with overrides marked and gaps shown), and the notifications log."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core import schedule as sched
from pager.core.vocabulary import ContactMethod
from pager.errors import BadRequest, NotFound

from .api_notifications import STATUSES
from .api_schedules import oncall_json
from .dashboard import Dashboard
from .shown import notification_shown

__all__ = ["register"]

DAYS = 14
NOTIFICATION_ROWS = 200
METHODS = tuple(ContactMethod)


def _bars(shifts: list[sched.Shift], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Shifts as percentages of [start, end), for the timeline bars; each keeps its own
    start and end (a shift on at `start` began before it) for what the page says of it."""
    span = (end - start).total_seconds()
    out = []
    for s in shifts:
        a, b = max(s.start, start), min(s.end, end)
        if b <= a:
            continue
        out.append(
            {
                "user": s.user, "source": s.source, "start": s.start, "end": s.end,
                "left": round((a - start).total_seconds() * 100 / span, 3),
                "width": round((b - a).total_seconds() * 100 / span, 3),
            }
        )  # fmt: skip
    return out


def _local(tz: ZoneInfo, t: datetime) -> str:
    """An instant as the schedule's own wall clock reads it, `Mon 07 Dec 09:00 EST` (24 h,
    as its handoffs are written), beside the viewer's time that pager.js shows."""
    return t.astimezone(tz).strftime("%a %d %b %H:%M %Z")


def register(app: QuartTrio, system: System, dash: Dashboard) -> None:
    def names() -> dict[str, str]:
        return {u.id: u.name or u.id for u in system.rules.users.values()}

    @app.get("/oncall")
    async def page_oncall() -> Response:
        who, csrf = dash.principal()
        now = dash.now()
        rows = []
        for s in system.rules.schedules.values():
            row = oncall_json(s, now, names())
            upcoming = [
                p for p in sched.shifts(s, now, now + timedelta(days=DAYS)) if p.start > now
            ]
            row["until"] = row["shift"]["end"]["utc"] if not row["gap"] else None
            nxt = upcoming[0] if upcoming else None
            row["next_user"] = nxt.user if nxt else None
            row["next_at"] = nxt.start if nxt else None
            row["gaps"] = sched.gaps(s, now, now + timedelta(days=DAYS))
            rows.append(row)
        return dash.page(dash.render("oncall.html", who, csrf, rows=rows, days=DAYS))

    @app.get("/schedules/<sid>")
    async def page_schedule(sid: str) -> Response:
        who, csrf = dash.principal()
        s = system.rules.schedules.get(sid)
        if s is None:
            raise NotFound(f"no schedule {sid}")
        now = dash.now()
        start = now.replace(minute=0, second=0, microsecond=0)
        end = start + timedelta(days=DAYS)
        layers = []
        for i, layer in enumerate(s.layers):
            every = layer.rotation.every  # a layer's shift is one rotation at most: whole
            whole = sched.layer_shifts(s, i, start - every, end + every)
            layers.append({"name": layer.name, "bars": _bars(whole, start, end)})
        final = _bars(sched.whole_shifts(s, start, end), start, end)
        gaps = sched.gaps(s, start, end)
        gap_bars = _bars([sched.Shift("", a, b, "gap") for a, b in gaps], start, end)
        days = [start + timedelta(days=d) for d in range(DAYS)]
        body = dash.render(
            "schedule.html", who, csrf, s=s, layers=layers, final=final, gaps=gap_bars,
            start=start, end=end, days=days, schedules=sorted(system.rules.schedules),
            local=partial(_local, ZoneInfo(s.timezone)),
        )  # fmt: skip
        return dash.page(body)

    @app.get("/schedules")
    async def page_schedules() -> Response:
        dash.principal()
        first = sorted(system.rules.schedules)
        if not first:
            return await page_oncall()
        return await page_schedule(first[0])

    @app.get("/notifications")
    async def page_notifications() -> Response:
        who, csrf = dash.principal()
        f = {k: request.args.get(k, "") for k in ("user", "method", "status")}
        if f["status"] and f["status"] not in STATUSES:
            raise BadRequest(f"status: {f['status']!r} is not one of {', '.join(STATUSES)}")
        if f["method"] and f["method"] not in METHODS:
            raise BadRequest(f"method: {f['method']!r} is not one of {', '.join(METHODS)}")
        user, method, status = f["user"], f["method"], f["status"]
        found = []
        # newest first, without copying the book: an unfiltered page stops after 200
        for n in reversed(system.state.notifications.by_id.values()):
            if (
                (user and n.user_id != user)
                or (method and n.method != method)
                or (status and n.status != status)
            ):
                continue
            found.append(n)
            if len(found) >= NOTIFICATION_ROWS:
                break
        state = system.state
        titles = {}  # each row's incident as people name it: "#K7Q Disk full"
        for n in found:
            inc = state.incidents.get(n.incident_id) or state.archive.get(n.incident_id)
            if inc is not None:
                titles[n.incident_id] = f"#{inc.short_code} {inc.title}"
        body = dash.render(
            "notifications.html", who, csrf, f=f, titles=titles,
            rows=[notification_shown(n, admin=who.may("admin")) for n in found],
            users=sorted(system.rules.users),
            methods=METHODS, statuses=STATUSES, limit=NOTIFICATION_ROWS,
        )  # fmt: skip
        return dash.page(body)
