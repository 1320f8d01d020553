"""The analytics report: the ledger's facts over a time range, as plain JSON-able data.

An incident counts in the range (and in the day or week of the series) in which it opened;
its acknowledgement and resolution count with it, whenever they came. MTTA is from opening
to the first acknowledgement (a snooze of a triggered incident acknowledges it), MTTR from
opening to resolution. Escalations are steps up a policy: by its timeout, or by a person
(manual); the start of paging (level 1 of the first walk) is not one. Notifications count by
when they were requested, pages by when they started, interruptions by when they were sent.
`people.py`, `noise.py` and `delivery.py` make those parts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .columns import NONE, is_none
from .delivery import delivery_part
from .ledger import Ledger
from .noise import noise_part
from .people import people_part, rotations_part
from .query import Directory, Query
from .stats import Periods, summary
from .vocabulary import (
    BY_SOURCE,
    BY_TIMEOUT,
    HOW,
    RESOLVED,
)

__all__ = ["REOPEN_WINDOW", "incident_rows", "report"]

REOPEN_WINDOW = 86400.0  # opened again within a day of the previous one resolving: reopened


class _Group:
    """Counts and durations of a set of incidents."""

    __slots__ = (
        "acked", "alerts", "auto", "esc_manual", "esc_timeout", "last_level", "open", "opened",
        "quiet", "reopened", "resolved", "retriggered", "tta", "ttr",
    )  # fmt: skip

    def __init__(self) -> None:
        self.opened = self.acked = self.resolved = self.auto = self.reopened = 0
        self.retriggered = self.open = self.quiet = self.alerts = 0
        self.esc_timeout = self.esc_manual = self.last_level = 0
        self.tta: list[float] = []
        self.ttr: list[float] = []

    def json(self) -> dict[str, Any]:
        return {
            "incidents": {
                "opened": self.opened,
                "acknowledged": self.acked,
                "resolved": self.resolved,
                "auto_resolved": self.auto,
                "reopened": self.reopened,
                "retriggered": self.retriggered,
                "unacknowledged": self.opened - self.acked,
                "open": self.open,
                "opened_in_maintenance": self.quiet,
            },
            "mtta_seconds": summary(self.tta),
            "mttr_seconds": summary(self.ttr),
            "escalations": {
                "total": self.esc_timeout + self.esc_manual,
                "timeout": self.esc_timeout,
                "manual": self.esc_manual,
                "reached_last_level": self.last_level,
            },
            "alerts": self.alerts,
        }


def _selected(led: Ledger, q: Query) -> list[int]:
    """Rows of the incidents opened in the range (of the service, if one is asked)."""
    lo, hi = q.start.timestamp(), q.end.timestamp()
    rows = [i for i, t in enumerate(led.incidents.cols["opened"]) if lo <= t < hi]
    if q.service is not None:
        want = led.names.find(q.service)
        svc = led.incidents.cols["service"]
        rows = [i for i in rows if svc[i] == want]
    return rows


def _reached_last(led: Ledger, d: Directory, row: int) -> bool:
    c = led.incidents.cols
    level = c["level"][row]
    if level < 0:
        return False
    policy = d.policies.get(led.names.strings[c["policy"][row]])
    if policy is None or not policy.levels:  # not configured any more: did it run out?
        return bool(c["exhausted"][row])
    return bool(level >= len(policy.levels) - 1)


def _add(g: _Group, led: Ledger, d: Directory, row: int) -> None:
    c = led.incidents.cols
    opened = c["opened"][row]
    g.opened += 1
    acked, resolved = c["acked"][row], c["resolved"][row]
    if not is_none(acked):
        g.acked += 1
        g.tta.append(acked - opened)
    if not is_none(resolved):
        g.resolved += 1
        g.ttr.append(resolved - opened)
        if c["how"][row] in (BY_SOURCE, BY_TIMEOUT):
            g.auto += 1
    if c["state"][row] != RESOLVED:
        g.open += 1
    reopen = c["reopen"][row]
    if not is_none(reopen) and reopen <= REOPEN_WINDOW:
        g.reopened += 1
    g.retriggered += c["retriggered"][row]
    g.quiet += c["quiet"][row]
    g.alerts += c["alerts"][row]
    g.esc_timeout += c["esc_timeout"][row]
    g.esc_manual += c["esc_manual"][row]
    if _reached_last(led, d, row):
        g.last_level += 1


def _maintenance(led: Ledger, d: Directory, q: Query) -> dict[str, float]:
    """Seconds each service spent in maintenance within the range (windows of the log and
    of the configuration, overlaps counted once)."""
    lo, hi = q.start.timestamp(), q.end.timestamp()
    spans: dict[str, list[tuple[float, float]]] = {}
    for svc, start, end in led.windows.values():
        spans.setdefault(led.names.strings[svc], []).append((start, end))
    for sid, windows in d.windows.items():
        for w in windows:
            spans.setdefault(sid, []).append((w.start.timestamp(), w.end.timestamp()))
    out: dict[str, float] = {}
    for sid, found in spans.items():
        if q.service is not None and sid != q.service:
            continue
        total, reach = 0.0, lo
        for start, end in sorted(found):
            start, end = max(start, reach), min(end, hi)
            if end > start:
                total += end - start
                reach = end
        if total:
            out[sid] = round(total, 3)
    return out


def _series(
    led: Ledger, d: Directory, q: Query, rows: list[int], people: dict[str, Any]
) -> list[dict[str, Any]]:
    periods = Periods(q.start, q.end, q.group_by, q.timezone)
    groups = [_Group() for _ in range(len(periods))]
    opened = led.incidents.cols["opened"]
    for row in rows:
        _add(groups[periods.index(opened[row])], led, d, row)
    pages = [0] * len(periods)
    interruptions = [0] * len(periods)
    for t in people["page_times"]:
        pages[periods.index(t)] += 1
    for t in people["interruption_times"]:
        interruptions[periods.index(t)] += 1
    out = []
    for i, g in enumerate(groups):
        start, end = periods.bounds(i)
        j = g.json()
        out.append(
            {
                "period": periods.labels[i].isoformat(),
                "start": start,
                "end": end,
                "opened": g.opened,
                "acknowledged": g.acked,
                "resolved": g.resolved,
                "mtta_seconds": j["mtta_seconds"],
                "mttr_seconds": j["mttr_seconds"],
                "escalations": j["escalations"]["total"],
                "pages": pages[i],
                "interruptions": interruptions[i],
            }
        )
    return out


def _rows_by(led: Ledger, d: Directory, rows: Iterable[int], column: str) -> dict[int, _Group]:
    groups: dict[int, _Group] = {}
    col = led.incidents.cols[column]
    for row in rows:
        g = groups.get(col[row])
        if g is None:
            g = groups[col[row]] = _Group()
        _add(g, led, d, row)
    return groups


def report(led: Ledger, q: Query, d: Directory) -> dict[str, Any]:
    """The whole report (see the module's docstring and docs/analytics.md)."""
    rows = _selected(led, q)
    total = _Group()
    for row in rows:
        _add(total, led, d, row)
    maintenance = _maintenance(led, d, q)
    services = []
    for code, g in sorted(
        _rows_by(led, d, rows, "service").items(), key=lambda kv: led.names.strings[kv[0]]
    ):
        sid = led.names.strings[code]
        services.append(
            {
                "service": sid,
                "name": d.service_names.get(sid, sid),
                **_flat(g),
                "maintenance_seconds": maintenance.get(sid, 0.0),
            }
        )
    listed = {s["service"] for s in services}
    for sid, seconds in sorted(maintenance.items()):  # in maintenance, without incidents
        if sid not in listed:
            services.append(
                {"service": sid, "name": d.service_names.get(sid, sid), **_flat(_Group()),
                 "maintenance_seconds": seconds}
            )  # fmt: skip
    policies = [
        {"escalation_policy": led.names.name(code), **_flat(g)}
        for code, g in sorted(
            _rows_by(led, d, rows, "policy").items(),
            key=lambda kv: led.names.name(kv[0]) or "",
        )
    ]
    people = people_part(led, d, q, rows)
    head = total.json()
    return {
        "from": q.start,
        "to": q.end,
        "service": q.service,
        "group_by": q.group_by,
        "timezone": q.timezone,
        "as_of_seq": led.last_seq,
        "incidents": head["incidents"],
        "mtta_seconds": head["mtta_seconds"],
        "mttr_seconds": head["mttr_seconds"],
        "escalations": head["escalations"],
        "alerts": head["alerts"],
        "maintenance_seconds": round(math.fsum(maintenance.values()), 3),
        "services": services,
        "escalation_policies": policies,
        "noise": noise_part(led, q, rows),
        "delivery": delivery_part(led, q, rows),
        "people": people["rows"],
        "rotations": rotations_part(led, d, q, people),
        "series": _series(led, d, q, rows, people),
    }


def _flat(g: _Group) -> dict[str, Any]:
    j = g.json()
    return {**j["incidents"], **{k: v for k, v in j.items() if k != "incidents"}}


def incident_rows(led: Ledger, q: Query) -> list[dict[str, Any]]:
    """One row per incident opened in the range, oldest first (the CSV's rows)."""
    c = led.incidents.cols
    name = led.names.name
    out = []
    for row in _selected(led, q):
        opened, acked, resolved = c["opened"][row], c["acked"][row], c["resolved"][row]
        how = c["how"][row]
        out.append(
            {
                "id": led.incident_ids[row],
                "number": c["number"][row],
                "service": name(c["service"][row]),
                "title": name(c["title"][row]),
                "opened": _instant(opened),
                "acknowledged": _instant(acked),
                "resolved": _instant(resolved),
                "seconds_to_ack": None if is_none(acked) else round(acked - opened, 3),
                "seconds_to_resolve": None if is_none(resolved) else round(resolved - opened, 3),
                "acknowledged_by": name(c["ack_by"][row]),
                "acknowledged_via": name(c["ack_via"][row]),
                "escalations": c["esc_timeout"][row] + c["esc_manual"][row],
                "resolved_by": name(c["res_by"][row]),
                "resolution": None if how == NONE else HOW[how],
            }
        )
    return out


def _instant(t: float) -> datetime | None:
    return None if is_none(t) else datetime.fromtimestamp(t, UTC)
