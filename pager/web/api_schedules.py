"""REST: who is on call, and the shifts of a schedule, in UTC and in the schedule's local
time. A gap (nobody on call) is reported, never hidden."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core import schedule as sched
from pager.errors import BadRequest, NotFound
from pager.ingest.validate import parse_instant

from .auth import authenticate
from .responses import jsonify

__all__ = ["MAX_RANGE", "oncall_json", "register"]

MAX_RANGE = timedelta(days=366)


def _instant(name: str, default: datetime) -> datetime:
    raw = request.args.get(name)
    if not raw:
        return default
    return parse_instant(name, raw)


def _times(t: datetime, tz: ZoneInfo) -> dict[str, str]:
    return {"utc": t.astimezone(ZoneInfo("UTC")).isoformat(), "local": t.astimezone(tz).isoformat()}


def _shift_json(s: sched.Shift, tz: ZoneInfo, names: dict[str, str]) -> dict[str, Any]:
    return {
        "user": s.user,
        "name": names.get(s.user, s.user),
        "source": s.source,
        "start": _times(s.start, tz),
        "end": _times(s.end, tz),
    }


def oncall_json(s: sched.Schedule, at: datetime, names: dict[str, str]) -> dict[str, Any]:
    """Who is on call on `s` at `at`, with the shift that covers it (or the gap)."""
    tz = ZoneInfo(s.timezone)
    longest = max((layer.rotation.every for layer in s.layers), default=timedelta(days=1))
    window = longest + timedelta(days=1)
    # whole: the shift on now from when it began until it ends (a person alone on a layer
    # is on call until the end of `whole_shifts`' reach, not until the end of the window)
    pieces = sched.whole_shifts(s, at, at + window)
    current = next((p for p in pieces if p.start <= at < p.end), None)
    out: dict[str, Any] = {"schedule": s.id, "timezone": s.timezone, "at": _times(at, tz)}
    if current is None:
        nxt = next((p for p in pieces if p.start > at), None)
        out.update(user=None, gap=True, next=_shift_json(nxt, tz, names) if nxt else None)
    else:
        out.update(user=current.user, name=names.get(current.user, current.user), gap=False,
                   shift=_shift_json(current, tz, names))  # fmt: skip
    return out


def register(app: QuartTrio, system: System) -> None:
    def names() -> dict[str, str]:
        return {u.id: u.name or u.id for u in system.rules.users.values()}

    def schedule(sid: str) -> sched.Schedule:
        s = system.rules.schedules.get(sid)
        if s is None:
            raise NotFound(f"no schedule {sid}")
        return s

    @app.get("/api/v1/oncall")
    async def oncall() -> Response:
        authenticate(system, request.headers)
        at = _instant("at", system.clock.now())
        sid = request.args.get("schedule")
        chosen = [schedule(sid)] if sid else list(system.rules.schedules.values())
        return jsonify({"oncall": [oncall_json(s, at, names()) for s in chosen]})

    @app.get("/api/v1/schedules")
    async def list_schedules() -> Response:
        authenticate(system, request.headers)
        return jsonify(
            {
                "schedules": [
                    {
                        "id": s.id,
                        "timezone": s.timezone,
                        "layers": [layer.name for layer in s.layers],
                    }
                    for s in system.rules.schedules.values()
                ]
            }
        )

    @app.get("/api/v1/schedules/<sid>/shifts")
    async def shifts(sid: str) -> Response:
        authenticate(system, request.headers)
        s = schedule(sid)
        start = _instant("from", system.clock.now())
        end = _instant("to", start + timedelta(days=7))
        if end <= start:
            raise BadRequest("to: must be after from")
        if end - start > MAX_RANGE:
            raise BadRequest("to: at most 366 days after from")
        tz = ZoneInfo(s.timezone)
        n = names()
        return jsonify(
            {
                "schedule": s.id,
                "timezone": s.timezone,
                "from": _times(start, tz),
                "to": _times(end, tz),
                "shifts": [_shift_json(p, tz, n) for p in sched.shifts(s, start, end)],
                "gaps": [
                    {"start": _times(a, tz), "end": _times(b, tz)}
                    for a, b in sched.gaps(s, start, end)
                ],
            }
        )
