"""The human side of a report: per person, the pages they received and the interruptions
they had, each placed in their own day (business hours, off hours, sleep hours) on their
own clock; the hours they were on call; and per rotation (schedule), the share of its pages
that came outside business hours.

A page is a person reached by an escalation step (once per incident and walk of the policy,
however many notifications follow). An interruption, as PagerDuty counts them, is a
notification of a page by SMS, voice call or push that the provider took (each one once,
however many attempts it needed; a bundle of pages in one message is one); email and chat are
not interruptions. Notifications and
interruptions count in the range by when they were requested; an interruption's part of the
day is by when it was sent. Hours on call come
from the schedules as configured now (with the API's overrides).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..schedule import shifts
from .columns import vector
from .ledger import Ledger
from .query import Directory, Query
from .stats import BUSINESS, HOURS, Hours
from .vocabulary import INTERRUPTING

__all__ = ["people_part", "rotations_part"]


def _buckets() -> dict[str, int]:
    return {"total": 0, **{h: 0 for h in HOURS}}


def _oncall(d: Directory, q: Query) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """schedule -> user -> their on-call spans (UTC seconds) within the range, sorted."""
    wanted = set(d.schedules)
    if q.service is not None:  # the schedules the service's policy pages
        policy = d.policies.get(d.service_policy.get(q.service, ""))
        wanted = {
            t.id
            for level in (policy.levels if policy else ())
            for t in level.targets
            if t.kind == "schedule"
        } & wanted
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for sid in sorted(wanted):
        per: dict[str, list[tuple[float, float]]] = {}
        for s in shifts(d.schedules[sid], q.start, q.end):
            per.setdefault(s.user, []).append((s.start.timestamp(), s.end.timestamp()))
        out[sid] = per
    return out


def people_part(led: Ledger, d: Directory, q: Query, rows: Sequence[int]) -> dict[str, Any]:
    lo, hi = q.start.timestamp(), q.end.timestamp()
    names = led.names.strings
    want = led.names.find(q.service) if q.service is not None else None
    svc = led.incidents.cols["service"]
    hours: dict[int, Hours] = {}

    def hours_of(user: int) -> Hours:
        h = hours.get(user)
        if h is None:
            h = hours[user] = Hours(d.zone(names[user]))
        return h

    people: dict[int, dict[str, Any]] = {}

    def person(user: int) -> dict[str, Any]:
        p = people.get(user)
        if p is None:
            p = people[user] = {
                "pages": _buckets(),
                "interruptions": _buckets(),
                "notifications": 0,
                "acknowledged": 0,
            }
        return p

    # the pages and notifications of the range as vectors of their columns (numpy), each
    # person's counted from a mask of theirs: [total, business, off hours, sleep]
    svc_all = vector(svc) if want is not None else None
    pc = led.pages.cols
    span = led.span(pc["at"], lo, hi)
    at, inc, user, level = (vector(pc[c], span) for c in ("at", "inc", "user", "level"))
    keep = (at >= lo) & (at < hi)
    if svc_all is not None:
        keep &= svc_all[inc] == want
    at, inc, user, level = at[keep], inc[keep], user[keep], level[keep]
    page_part = np.zeros(len(at), np.intp)
    for u in np.unique(user).tolist():
        mine = user == u
        page_part[mine] = parts = hours_of(u).parts(at[mine])
        person(u)["pages"] = _counted(parts)
    pages = (user, at, inc, level, page_part)
    interrupting = [led.names.find(m) for m in INTERRUPTING]
    n = led.notifications.cols
    span = led.span(n["requested"], lo, hi)
    requested, sent, inc, method, user, kind, dup = (
        vector(n[c], span) for c in ("requested", "sent", "inc", "method", "user", "kind", "dup")
    )
    keep = (kind == 0) & (user >= 0) & (requested >= lo) & (requested < hi)
    if svc_all is not None:
        keep &= svc_all[inc] == want
    told, k = np.unique(user[keep], return_counts=True)
    for u, count in zip(told.tolist(), k.tolist(), strict=True):
        person(u)["notifications"] = count
    # (NaN: never sent; a bundle's further pages went out in the same message)
    keep &= np.isin(method, interrupting) & ~np.isnan(sent) & (dup != 1)
    interruption_times = requested[keep]
    sent, user = sent[keep], user[keep]
    for u in np.unique(user).tolist():
        person(u)["interruptions"] = _counted(hours_of(u).parts(sent[user == u]))
    by = vector(led.incidents.cols["ack_by"], rows)
    acked, k = np.unique(by[by >= 0], return_counts=True)
    for u, count in zip(acked.tolist(), k.tolist(), strict=True):
        person(u)["acknowledged"] = count
    oncall = _oncall(d, q)
    hours_on: dict[str, float] = {}
    for per in oncall.values():
        for uid, spans in per.items():
            hours_on[uid] = hours_on.get(uid, 0.0) + sum(e - s for s, e in spans) / 3600
    ids = {names[u]: u for u in people}
    everyone = sorted(set(ids) | set(hours_on) | set(d.user_names) | set(d.zones))
    out = []
    for uid in everyone:
        code = ids.get(uid)
        p = people[code] if code is not None else _blank()
        out.append(
            {
                "user": uid,
                "name": d.user_names.get(uid, uid),
                "timezone": d.zone(uid),
                **p,
                "oncall_hours": round(hours_on.get(uid, 0.0), 2),
            }
        )
    return {
        "rows": out,
        "page_times": pages[1],
        "interruption_times": interruption_times,
        "pages": pages,
        "oncall": oncall,
        "hours": hours_of,
    }


def _counted(parts: npt.NDArray[np.intp]) -> dict[str, int]:
    """{total, business, off_hours, sleep} of the parts of the day of some instants."""
    counts = np.bincount(parts, minlength=len(HOURS)).tolist()
    return {"total": len(parts), **dict(zip(HOURS, counts, strict=True))}


def _blank() -> dict[str, Any]:
    return {"pages": _buckets(), "interruptions": _buckets(), "notifications": 0, "acknowledged": 0}


def _on(spans: list[tuple[float, float]] | None, t: float) -> bool:
    if not spans:
        return False
    i = bisect_right(spans, (t, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= t < spans[i][1]


def rotations_part(
    led: Ledger, d: Directory, q: Query, people: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per schedule: the pages that reached its on-call person through it (a schedule target
    of the escalation level that paged them, while they were on call on it), how many of
    those came outside business hours (in the person's own zone), and its hours on call."""
    names = led.names.strings
    policy_col = led.incidents.cols["policy"]
    oncall: dict[str, dict[str, list[tuple[float, float]]]] = people["oncall"]
    counts = {sid: [0, 0] for sid in oncall}
    through: dict[tuple[int, int], list[str]] = {}  # (policy, level) -> its schedules counted

    def schedules_of(code: int, level: int) -> list[str]:
        found = through.get((code, level))
        if found is None:
            policy = d.policies.get(names[code]) if code >= 0 else None
            found = []
            if policy is not None and 0 <= level < len(policy.levels):
                found = [t.id for t in policy.levels[level].targets
                         if t.kind == "schedule" and t.id in counts]  # fmt: skip
            through[(code, level)] = found
        return found

    users, ats, incs, levels, parts = (v.tolist() for v in people["pages"])
    for user, at, inc, level, part in zip(users, ats, incs, levels, parts, strict=True):
        for sid in schedules_of(policy_col[inc], level):
            if _on(oncall[sid].get(names[user]), at):
                c = counts[sid]
                c[0] += 1
                if part != BUSINESS:
                    c[1] += 1
    out = []
    for sid, (pages, outside) in counts.items():
        per = oncall[sid]
        out.append(
            {
                "schedule": sid,
                "pages": pages,
                "outside_business_hours": outside,
                "share_outside_business_hours": round(outside / pages, 4) if pages else None,
                "oncall_hours": {
                    uid: round(sum(e - s for s, e in spans) / 3600, 2)
                    for uid, spans in sorted(per.items())
                },
            }
        )
    return out
