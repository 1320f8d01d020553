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

from ..schedule import shifts
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

    # counts per person: [total, business, off hours, sleep], filled in one pass each
    page_counts: dict[int, list[int]] = {}
    page_times: list[float] = []
    pages: list[tuple[int, float, int, int]] = []  # (user, at, incident row, level)
    pc = led.pages.cols
    span = led.span(pc["at"], lo, hi)
    a, b = span.start, span.stop
    for at, inc, user, level in zip(
        pc["at"][a:b], pc["inc"][a:b], pc["user"][a:b], pc["level"][a:b], strict=True
    ):
        if not lo <= at < hi or (want is not None and svc[inc] != want):
            continue
        counts = page_counts.get(user)
        if counts is None:
            counts = page_counts[user] = [0, 0, 0, 0]
        counts[0] += 1
        counts[1 + hours_of(user).of(at)] += 1
        page_times.append(at)
        pages.append((user, at, inc, level))
    interruption_times: list[float] = []
    interrupting = {led.names.find(m) for m in INTERRUPTING}
    told: dict[int, int] = {}
    interrupted: dict[int, list[int]] = {}
    n = led.notifications.cols
    span = led.span(n["requested"], lo, hi)
    a, b = span.start, span.stop
    for requested, sent, inc, method, user, kind, dup in zip(
        n["requested"][a:b], n["sent"][a:b], n["inc"][a:b], n["method"][a:b],
        n["user"][a:b], n["kind"][a:b], n["dup"][a:b], strict=True,
    ):  # fmt: skip
        if kind != 0 or user < 0 or not lo <= requested < hi:
            continue
        if want is not None and svc[inc] != want:
            continue
        told[user] = told.get(user, 0) + 1
        # (NaN: never sent; a bundle's further pages went out in the same message)
        if method in interrupting and sent == sent and dup != 1:
            counts = interrupted.get(user)
            if counts is None:
                counts = interrupted[user] = [0, 0, 0, 0]
            counts[0] += 1
            counts[1 + hours_of(user).of(sent)] += 1
            interruption_times.append(requested)
    for user, counts in page_counts.items():
        person(user)["pages"] = dict(zip(("total", *HOURS), counts, strict=True))
    for user, counts in interrupted.items():
        person(user)["interruptions"] = dict(zip(("total", *HOURS), counts, strict=True))
    for user, k in told.items():
        person(user)["notifications"] = k
    for (by,) in led.incidents.pick(rows, "ack_by"):
        if by >= 0:
            person(by)["acknowledged"] += 1
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
        "page_times": page_times,
        "interruption_times": interruption_times,
        "pages": pages,
        "oncall": oncall,
        "hours": hours_of,
    }


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

    hours = people["hours"]
    for user, at, inc, level in people["pages"]:
        for sid in schedules_of(policy_col[inc], level):
            if _on(oncall[sid].get(names[user]), at):
                c = counts[sid]
                c[0] += 1
                if hours(user).of(at) != BUSINESS:
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
