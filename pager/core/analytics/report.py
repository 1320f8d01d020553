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
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from .columns import NONE, is_none, vector
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

__all__ = ["REOPEN_WINDOW", "incident_rows", "report", "selected"]

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

    def add(self, o: _Group) -> None:
        self.opened += o.opened
        self.acked += o.acked
        self.resolved += o.resolved
        self.auto += o.auto
        self.reopened += o.reopened
        self.retriggered += o.retriggered
        self.open += o.open
        self.quiet += o.quiet
        self.alerts += o.alerts
        self.esc_timeout += o.esc_timeout
        self.esc_manual += o.esc_manual
        self.last_level += o.last_level
        self.tta.extend(o.tta)
        self.ttr.extend(o.ttr)

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
            "mtta_seconds": summary(list(self.tta)),
            "mttr_seconds": summary(list(self.ttr)),
            "escalations": {
                "total": self.esc_timeout + self.esc_manual,
                "timeout": self.esc_timeout,
                "manual": self.esc_manual,
                "reached_last_level": self.last_level,
            },
            "alerts": self.alerts,
        }


def selected(led: Ledger, q: Query) -> Sequence[int]:
    """Rows of the incidents opened in the range (of the service, if one is asked), in
    order: a range of them while the log's instants never went back and no service is
    asked."""
    lo, hi = q.start.timestamp(), q.end.timestamp()
    opened = led.incidents.cols["opened"]
    span = led.span(opened, lo, hi)
    if q.service is None:
        if led.in_order:
            return span
        return [i for i in span if lo <= opened[i] < hi]
    want = led.names.find(q.service)
    return [
        i
        for i, (t, svc) in enumerate(led.incidents.pick(span, "opened", "service"), span.start)
        if lo <= t < hi and svc == want
    ]


def _last_levels(led: Ledger, d: Directory) -> dict[int, int]:
    """Policy code -> the index of its last level, for the policies configured now."""
    out = {}
    for pid, policy in d.policies.items():
        code = led.names.find(pid)
        if code >= 0 and policy.levels:
            out[code] = len(policy.levels) - 1
    return out


Key = tuple[int, int, int]  # (service code, policy code, period)


def _tally(led: Ledger, d: Directory, rows: Sequence[int], periods: Periods) -> dict[Key, _Group]:
    """The incidents of `rows`, counted per service, policy and period in one pass (the
    totals, per service, per policy and per period are sums of these)."""
    last_of = _last_levels(led, d)
    c = led.incidents.cols
    opened, acked, resolved, how, state, reopen, level, svc, policy, exhausted = (
        vector(c[name], rows)
        for name in (
            "opened", "acked", "resolved", "how", "state", "reopen", "level", "service",
            "policy", "exhausted",
        )
    )  # fmt: skip
    period = np.maximum(np.searchsorted(periods.starts, opened, side="right") - 1, 0)
    base = max(len(led.names.strings), len(periods)) + 2
    key = ((svc.astype(np.int64) + 1) * base + (policy + 1)) * base + period
    found, first, where = np.unique(key, return_index=True, return_inverse=True)
    k = len(found)

    def count(mask: npt.NDArray[np.bool_]) -> list[int]:
        out: list[int] = np.bincount(where[mask], minlength=k).tolist()
        return out

    def total(name: str) -> list[int]:
        sums = np.bincount(where, weights=vector(c[name], rows), minlength=k)
        out: list[int] = sums.astype(np.int64).tolist()
        return out

    def durations(at: npt.NDArray[np.float64]) -> list[list[float]]:
        done = ~np.isnan(at)
        mine = where[done]
        order = np.argsort(mine, kind="stable")
        values = (at[done] - opened[done])[order].tolist()
        edges = np.searchsorted(mine[order], np.arange(k + 1)).tolist()
        return [values[edges[i] : edges[i + 1]] for i in range(k)]

    # reached the last level of its policy: of a policy not configured any more, did the
    # incident run out of it?
    last = np.full(len(policy), -1, np.int64)
    known = np.zeros(len(policy), np.bool_)
    for code, n in last_of.items():
        mine = policy == code
        last[mine], known[mine] = n, True
    last_level = (level >= 0) & np.where(known, level >= last, exhausted != 0)
    opened_n = np.bincount(where, minlength=k).tolist()
    acked_n, resolved_n = count(~np.isnan(acked)), count(~np.isnan(resolved))
    auto = count(~np.isnan(resolved) & np.isin(how, _AUTO))
    still_open, reopened = count(state != RESOLVED), count(reopen <= REOPEN_WINDOW)
    retriggered, quiet, alerts = total("retriggered"), total("quiet"), total("alerts")
    esc_timeout, esc_manual = total("esc_timeout"), total("esc_manual")
    reached, tta, ttr = count(last_level), durations(acked), durations(resolved)
    groups: dict[Key, _Group] = {}
    for i in np.argsort(first, kind="stable").tolist():  # (in the order they first appear)
        g = _Group()
        g.opened, g.acked, g.resolved, g.auto = opened_n[i], acked_n[i], resolved_n[i], auto[i]
        g.open, g.reopened, g.retriggered = still_open[i], reopened[i], retriggered[i]
        g.quiet, g.alerts, g.esc_timeout = quiet[i], alerts[i], esc_timeout[i]
        g.esc_manual, g.last_level, g.tta, g.ttr = esc_manual[i], reached[i], tta[i], ttr[i]
        rest, p = divmod(int(found[i]), base)
        s, pol = divmod(rest, base)
        groups[(s - 1, pol - 1, p)] = g
    return groups


_AUTO = (BY_SOURCE, BY_TIMEOUT)


def _merge(groups: dict[Key, _Group], part: int) -> dict[int, _Group]:
    """The groups summed by one part of their key (0: service, 1: policy, 2: period)."""
    out: dict[int, _Group] = {}
    for key, g in groups.items():
        m = out.get(key[part])
        if m is None:
            m = out[key[part]] = _Group()
        m.add(g)
    return out


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
    periods: Periods, by_period: dict[int, _Group], people: dict[str, Any]
) -> list[dict[str, Any]]:
    pages = periods.count(np.sort(people["page_times"]))
    interruptions = periods.count(np.sort(people["interruption_times"]))
    out = []
    for i in range(len(periods)):
        g = by_period.get(i) or _Group()
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


def report(led: Ledger, q: Query, d: Directory) -> dict[str, Any]:
    """The whole report (see the module's docstring and docs/analytics.md)."""
    rows = selected(led, q)
    periods = Periods(q.start, q.end, q.group_by, q.timezone)
    groups = _tally(led, d, rows, periods)
    total = _Group()
    for g in groups.values():
        total.add(g)
    maintenance = _maintenance(led, d, q)
    name = led.names.strings
    services = []
    for code, g in sorted(_merge(groups, 0).items(), key=lambda kv: name[kv[0]]):
        sid = name[code]
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
        for code, g in sorted(_merge(groups, 1).items(), key=lambda kv: led.names.name(kv[0]) or "")
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
        "series": _series(periods, _merge(groups, 2), people),
    }


def _flat(g: _Group) -> dict[str, Any]:
    j = g.json()
    return {**j["incidents"], **{k: v for k, v in j.items() if k != "incidents"}}


def incident_rows(led: Ledger, q: Query) -> list[dict[str, Any]]:
    """One row per incident opened in the range, oldest first (the CSV's rows)."""
    c = led.incidents.cols
    name = led.names.name
    out = []
    for row in selected(led, q):
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
