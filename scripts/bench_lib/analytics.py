"""`scripts/bench analytics`: issue 14's targets.

- answers for a year of history of 1,000,000 events in under a second: `report()` over the
  analytics ledger (a year, a week, one service), the incidents CSV, and `GET
  /api/v1/analytics` for the whole year from a running pager started on a data folder of
  those events (the answer a person waits for, JSON included);
- the running service pays a few microseconds an event to keep the aggregates:
  `Ledger.apply` per event, and `SystemState.apply` with the ledger and without it;
- what it costs besides: the ledger's memory, the copy a report takes on the event loop, a
  snapshot of the ledger (made on the loop, its size) and loading it back.

The history is a year of incidents on six services and twelve people in six time zones:
alerts (some firing again), escalations (some on timeout to a second level), Slack, SMS and
voice notifications with Twilio receipts (some failing), acknowledgements from every channel,
resolutions by people, by the source and by timeout, status posts to chat.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import trio

from pager.config import load_config_text
from pager.core.analytics import Directory, Ledger, Query, frozen, report
from pager.core.analytics.keeping import from_snapshot, to_snapshot
from pager.core.analytics.tables import incidents_csv
from pager.core.events import (
    SCHEMA_VERSION,
    AlertsUpdated,
    Attribution,
    Event,
    IncidentAcknowledged,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    encode,
)
from pager.core.state import SystemState
from pager.core.vocabulary import NotificationKind
from pager.service import run_pager
from pager.store.base import Draft
from pager.store.jsonl import JsonlLog

from .table import Row, Table, fmt_ms

__all__ = ["run_analytics"]

ANSWER_TARGET = 1.0  # s: a year of 1M events
FOLD_TARGET_US = 5.0  # "a few microseconds" an event
START = datetime(2025, 3, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
SERVICES = ("checkout", "payments", "search", "auth", "db", "queue")
ZONES = ("America/New_York", "Europe/Berlin", "Pacific/Auckland", "Asia/Kolkata",
         "America/Los_Angeles", "UTC")  # fmt: skip
USERS = tuple(f"u{i}" for i in range(12))
VIAS = ("slack", "slack", "slack", "sms", "voice", "web", "api", "email", "teams")


def notify(
    rnd: random.Random,
    later: list[tuple[datetime, Event]],
    iid: str,
    t: datetime,
    who: str | None,
    method: str,
    kind: NotificationKind = NotificationKind.PAGE,
) -> None:
    """A notification's events: requested, then sent (or, now and then, failed for good),
    then for SMS and calls a Twilio receipt (mostly delivered)."""
    nid = f"{iid}-n{sum(1 for _, e in later if isinstance(e, NotificationRequested)) + 1}"
    later.append((t, NotificationRequested(
        incident_id=iid, notification_id=nid, kind=kind, method=method, user_id=who)))  # fmt: skip
    sent = t + timedelta(milliseconds=rnd.randrange(80, 900))
    if rnd.random() < 0.03:
        later.append((sent, NotificationFailed(
            incident_id=iid, notification_id=nid, attempt=1, error="x", permanent=True)))  # fmt: skip
        return
    later.append((sent, NotificationSent(
        incident_id=iid, notification_id=nid, attempt=1, method=method)))  # fmt: skip
    if method in ("sms", "voice"):
        status = "delivered" if rnd.random() < 0.95 else "undelivered"
        receipt = sent + timedelta(seconds=rnd.randrange(2, 30))
        later.append((receipt, NotificationDelivered(
            incident_id=iid, notification_id=nid, status=status)))  # fmt: skip


def history(events: int, seed: int = 14) -> list[tuple[Event, datetime]]:
    """About `events` events over a year, in time order."""
    rnd = random.Random(seed)
    per = 11.74  # events an incident, on average, as made below
    incidents = max(round(events / per), 1)
    gap = YEAR / incidents
    out: list[tuple[Event, datetime]] = []
    pending: list[tuple[datetime, int, Event]] = []  # later events, merged in time order
    order = 0
    for n in range(1, incidents + 1):
        at = START + gap * (n - 1) + timedelta(seconds=rnd.uniform(0, gap.total_seconds() / 2))
        while pending and pending[0][0] <= at:
            t, _, ev = pending.pop(0)
            out.append((ev, t))
        later: list[tuple[datetime, Event]] = []
        iid = f"inc-{n}"
        svc = SERVICES[rnd.randrange(len(SERVICES))]
        key = f"{svc}-{rnd.randrange(60)}"
        name = f"Alert{rnd.randrange(40)}"
        alerts = tuple({"key": f"{key}-{i}", "summary": f"{name} on host {i}",
                        "severity": "critical", "labels": {"alertname": name}}
                       for i in range(rnd.choice((1, 1, 2, 3))))  # fmt: skip
        later.append((at, IncidentOpened(
            incident_id=iid, number=n, short_code="X", service_id=svc, dedup_key=key,
            integration="alertmanager", title=f"{name} firing", severity="critical",
            urgency="high", alerts=alerts)))  # fmt: skip
        user = USERS[rnd.randrange(len(USERS))]
        later.append((at, IncidentEscalated(
            incident_id=iid, policy_id="p", level=0, round=0, next_at=at + timedelta(minutes=5),
            targets=(user,), paged=(user,), first_after=(0.0,))))  # fmt: skip
        notify(rnd, later, iid, at, user, "slack")
        notify(rnd, later, iid, at + timedelta(minutes=1), user, "sms")
        t_ack = at + timedelta(seconds=rnd.expovariate(1 / 240))
        escalated = rnd.random() < 0.15
        if escalated:
            t_esc = at + timedelta(minutes=5)
            t_ack = max(t_ack, t_esc + timedelta(seconds=30))
            other = USERS[rnd.randrange(len(USERS))]
            later.append((t_esc, IncidentEscalated(
                incident_id=iid, policy_id="p", level=1, round=0, targets=(other,),
                paged=(other,), first_after=(0.0,))))  # fmt: skip
            notify(rnd, later, iid, t_esc, other, "voice")
        if rnd.random() < 0.3:
            later.append(
                (at + timedelta(minutes=2), AlertsUpdated(incident_id=iid, fired=alerts[:1]))
            )
        if rnd.random() < 0.85:
            later.append((t_ack, IncidentAcknowledged(
                incident_id=iid, attribution=Attribution(user, VIAS[rnd.randrange(len(VIAS))]))))  # fmt: skip
        t_res = t_ack + timedelta(seconds=rnd.expovariate(1 / 2400))
        how = rnd.random()
        if how < 0.6:
            res = IncidentResolved(incident_id=iid, attribution=Attribution(user, "slack"))
        elif how < 0.9:
            res = IncidentResolved(
                incident_id=iid,
                attribution=Attribution(None, "alertmanager"),
                reason="all alerts resolved",
            )
        else:
            res = IncidentResolved(
                incident_id=iid, attribution=Attribution(None, "pager"), reason="auto-resolved"
            )
        later.append((t_res, res))
        notify(rnd, later, iid, t_res, None, "slack", NotificationKind.STATUS)
        for t, ev in later:
            order += 1
            pending.append((t, order, ev))
        pending.sort(key=lambda p: (p[0], p[1]))
    out.extend((ev, t) for t, _, ev in pending)
    return out


CONFIG = """
server: {{listen: 127.0.0.1:0, public_url: http://127.0.0.1}}
data_dir: {data}
auth: {{api_tokens: [{{name: bench, token: bench-token-0123456789abcdef}}]}}
users:
{users}
schedules:
  - id: rota
    timezone: America/New_York
    layers:
      - name: weekly
        users: [u0, u1, u2, u3, u4, u5]
        rotation: {{every: 1w, handoff: "monday 09:00", start: 2025-01-06}}
escalation_policies:
  - id: p
    levels:
      - targets: [{{schedule: rota}}]
        escalate_after: 5m
      - targets: [{{user: u6}}]
        escalate_after: 10m
services:
{services}
channels: {{console: {{}}}}
journal: {{fsync: false}}
"""


def _config(data: Path) -> Any:
    users = "\n".join(
        f"  - {{id: {u}, timezone: {ZONES[i % len(ZONES)]}, notification_rules: "
        "[{after: 0m, via: console}]}"
        for i, u in enumerate(USERS)
    )
    services = "\n".join(
        f"  - {{id: {s}, escalation_policy: p, integrations: [{{type: generic, key: g-{s}}}]}}"
        for s in SERVICES
    )
    text = CONFIG.format(data=data, users=users, services=services)
    return load_config_text(text, source="bench analytics")


def _best(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _ledger_bytes(led: Ledger) -> int:
    """The ledger's own memory, about: the column buffers, the strings and the indexes."""
    n = sum(c.buffer_info()[1] * c.itemsize for t in (led.incidents, led.notifications,
            led.pages, led.fires) for c in t.cols.values())  # fmt: skip
    n += sys.getsizeof(led.names.strings) + sys.getsizeof(led.names.codes)
    n += sum(sys.getsizeof(s) for s in led.names.strings)
    n += sys.getsizeof(led.incident_ids) + sum(sys.getsizeof(s) for s in led.incident_ids)
    n += sys.getsizeof(led.incident_row) + sys.getsizeof(led.last_resolved)
    return n


async def _write(folder: Path, records: list[tuple[Event, datetime]]) -> None:
    log = JsonlLog.open(folder, fsync=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        for i in range(0, len(records), 2000):
            await log.append([Draft(ev.TYPE, ev.subject, at, encode(ev), SCHEMA_VERSION, ev)
                              for ev, at in records[i : i + 2000]])  # fmt: skip
        await log.close()


async def _over_http(folder: Path, runs: int) -> tuple[float, float, float, int]:
    """Start pager on the folder; (start-up s, best GET s for the year, best for a week,
    answer bytes)."""
    shutdown = trio.Event()
    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        running = await nursery.start(lambda task_status: run_pager(
            _config(folder), shutdown=shutdown, task_status=task_status))  # fmt: skip
        started = time.perf_counter() - t0
        base = running.urls[0]
        headers = {"Authorization": "Bearer bench-token-0123456789abcdef"}
        year = {"from": START.isoformat(), "to": (START + YEAR).isoformat()}
        week = {"from": (START + YEAR - timedelta(days=7)).isoformat(), "to": year["to"]}
        best_year = best_week = float("inf")
        size = 0
        async with httpx.AsyncClient(timeout=60) as client:
            for _ in range(runs):
                t = time.perf_counter()
                r = await client.get(f"{base}/api/v1/analytics", params=year, headers=headers)
                best_year = min(best_year, time.perf_counter() - t)
                assert r.status_code == 200, r.text
                size = len(r.content)
                t = time.perf_counter()
                r = await client.get(f"{base}/api/v1/analytics", params=week, headers=headers)
                best_week = min(best_week, time.perf_counter() - t)
        shutdown.set()
    return started, best_year, best_week, size


def run_analytics(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    events = 20_000 if quick else 1_000_000
    runs = 2 if quick else 3
    table = Table(f"analytics: a year of history, {events:,} events")
    say(f"making a year of history ({events:,} events) ...")
    t_make = time.perf_counter()
    records = history(events)
    t_make = time.perf_counter() - t_make
    n = len(records)

    say("the fold: Ledger.apply per event ...")

    def fold() -> Ledger:
        led = Ledger()
        for seq, (ev, at) in enumerate(records, 1):
            led.apply(ev, seq, at)
        led.aggregates  # noqa: B018  (what the fold kept aside to count in batches, counted)
        return led

    def yardstick() -> None:
        for _, at in records:
            at.timestamp()

    t_yard, _ = _best(yardstick, runs)
    table.add(Row("  yardstick: datetime.timestamp(), per call", f"{t_yard / n * 1e6:.2f} µs",
                  note="a fixed piece of work, to tell how busy the machine was: lower is quieter"))  # fmt: skip
    t_fold, led = _best(fold, runs)
    us = t_fold / n * 1e6
    table.add(Row("Ledger.apply, per event", f"{us:.2f} µs", f"<= {FOLD_TARGET_US:g} µs",
                  us <= FOLD_TARGET_US, f"{n:,} events folded in {t_fold:.2f} s (best of {runs})"))  # fmt: skip

    say("SystemState.apply with and without the ledger ...")

    def state_fold(with_ledger: bool) -> float:
        s = SystemState()
        if not with_ledger:
            s.analytics.apply = lambda *a: None  # type: ignore[method-assign]
        gc.collect()
        t = time.perf_counter()
        for seq, (ev, at) in enumerate(part, 1):
            s.apply_event(ev, seq, at)
        s.analytics.aggregates  # noqa: B018  (as in fold())
        return time.perf_counter() - t

    part = records[:200_000]  # the read model's fold is slow: a fifth of the year will tell
    with_l = min(state_fold(True) for _ in range(runs))
    without = min(state_fold(False) for _ in range(runs))
    m = len(part)
    added = (with_l - without) / m * 1e6
    table.add(Row("  SystemState.apply: cost the ledger adds, per event", f"{added:.2f} µs",
                  f"<= {FOLD_TARGET_US:g} µs", added <= FOLD_TARGET_US,
                  f"the read model's fold {without / m * 1e6:.2f} µs/event without it, "
                  f"{with_l / m * 1e6:.2f} with it, over the first {m:,} events (best of {runs})"))  # fmt: skip
    incidents = len(led.incidents)
    table.notes.append(
        f"history: {n:,} events ({incidents:,} incidents, {len(led.notifications):,} "
        f"notifications, {len(led.pages):,} pages, {len(led.fires):,} alert firings) over "
        f"365 days, 6 services, 12 people in 6 zones; made in {t_make:.1f} s"
    )
    d = Directory(zones={u: ZONES[i % len(ZONES)] for i, u in enumerate(USERS)})
    year = Query(START, START + YEAR)
    for label, q in (
        ("report(), the whole year", year),
        ("report(), the whole year by week", Query(START, START + YEAR, group_by="week")),
        ("report(), one service, the year", Query(START, START + YEAR, service="db")),
        ("report(), the last 7 days", Query(START + YEAR - timedelta(days=7), START + YEAR)),
    ):
        say(f"{label} ...")
        t, r = _best(partial(report, led, q, d), runs)
        table.add(Row(label, fmt_ms(t), f"< {ANSWER_TARGET:g} s", t < ANSWER_TARGET,
                      f"{r['incidents']['opened']:,} incidents (best of {runs})"))  # fmt: skip
    t, csv = _best(lambda: incidents_csv(led, year), runs)
    table.add(Row("incidents.csv, the whole year", fmt_ms(t), f"< {ANSWER_TARGET:g} s",
                  t < ANSWER_TARGET, f"{len(csv) / 1e6:.1f} MB of CSV"))  # fmt: skip
    t, _ = _best(lambda: frozen(led), runs)
    table.add(Row("  the copy a report reads (on the event loop)", fmt_ms(t),
                  note="columns copied; the report then runs in a worker thread"))  # fmt: skip
    t_snap, snap = _best(lambda: to_snapshot(led), runs)
    raw = orjson.dumps(snap)
    table.add(Row("  snapshot of the ledger (made on the event loop)", fmt_ms(t_snap),
                  note=f"{len(raw) / 1e6:.1f} MB of JSON in the snapshot file"))  # fmt: skip
    back = orjson.loads(raw)
    t_load, _ = _best(lambda: from_snapshot(back, led.last_seq), runs)
    table.add(Row("  loading it back at start-up", fmt_ms(t_load)))
    table.add(Row("  memory of the ledger", f"{_ledger_bytes(led) / 1e6:.0f} MB",
                  note="column buffers, strings and indexes"))  # fmt: skip

    if quick:
        table.notes.append(
            "quick: the HTTP answer on a running pager is measured in full runs only"
        )
        return table
    folder = scratch / "data"
    say(f"writing a data folder of {n:,} events ...")
    trio.run(_write, folder, records)
    records.clear()
    gc.collect()
    say("starting pager on it and asking GET /api/v1/analytics ...")
    started, t_year, t_week, size = trio.run(_over_http, folder, runs)
    table.add(Row("GET /api/v1/analytics, the whole year, on a running pager", fmt_ms(t_year),
                  f"< {ANSWER_TARGET:g} s", t_year < ANSWER_TARGET,
                  f"the answer a client waits for: copy, report in a thread, {size / 1e3:.0f} kB "
                  f"JSON (best of {runs})"))  # fmt: skip
    table.add(Row("GET /api/v1/analytics, the last 7 days", fmt_ms(t_week),
                  f"< {ANSWER_TARGET:g} s", t_week < ANSWER_TARGET))  # fmt: skip
    table.notes.append(f"pager started on the folder (no snapshot: the whole log folded) in "
                       f"{started:.1f} s")  # fmt: skip
    return table
