"""The ledger's columns are written through memoryviews into spare blank rows
(`columns.Table`: `new_row()` and a store per column that is not blank), where they were
appended a value at a time. That must change nothing a ledger answers or writes:

- a log of 400 incidents (every event type the ledger folds, the columns growing many times,
  their spare rows cut off by reads in the middle of the fold) gives, value for value, the
  snapshot that the appending ledger wrote of the same log (tests/fixtures/analytics/
  ledger-appended.json, written by the code before the change);
- that old snapshot loads, answers the report of a fresh fold, and goes on folding into the
  same ledger as one that never stopped (a new row after a restart is blank as it should be);
- a table's rows, whatever the order of new rows, stores, reads, copies and snapshots, are
  what a plain list of rows says.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pager.core.analytics import Directory, Ledger, Query, from_snapshot, report, to_snapshot
from pager.core.analytics.columns import NONE, Table
from pager.core.events import (
    Attribution,
    Event,
    IncidentEdited,
    IncidentSnoozed,
    IncidentUnacknowledged,
    MaintenanceEnded,
    MaintenanceStarted,
    NoteAdded,
    NotificationCancelled,
    NotificationRequested,
    NotificationSent,
)
from pager.core.vocabulary import NotificationKind

from .analytics_log import Log

FIXTURE = Path(__file__).parent.parent / "fixtures" / "analytics" / "ledger-appended.json"
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
S = timedelta(seconds=1)
USERS = ("ana", "ben", "chi", "dev")
METHODS = ("sms", "voice", "email", "slack", "push")


def storm_log(incidents: int = 400, seed: int = 12) -> list[tuple[Event, datetime]]:
    """A log with every event the ledger folds, the same every time (its snapshot by the
    appending ledger is the fixture)."""
    rnd = random.Random(seed)
    log = Log()
    t = T0
    log.add(t, MaintenanceStarted(window_id="w1", service_id="db", start=t, end=t + 3600 * S))
    for n in range(1, incidents + 1):
        t += rnd.randint(1, 90) * S
        iid = f"inc-{n}"
        service = rnd.choice(("web", "db", "queue"))
        quiet = service == "db" and t < T0 + 3600 * S
        labels = {"alertname": rnd.choice(("HighLatency", "DiskFull", "Down"))}
        log.open(iid, t, service=service, key=f"k{rnd.randint(1, 60)}", labels=labels,
                 reason="maintenance window w1" if quiet else None)  # fmt: skip
        if rnd.random() < 0.3:
            log.fire(iid, t + 5 * S, f"{iid}-b", "another", alertname="Down")
            log.fire(iid, t + 6 * S, f"{iid}-c", "no alert name")
        if n == 200:
            log.add(t, MaintenanceEnded(window_id="w1", service_id="db"))
        if quiet:
            continue
        paged = tuple(rnd.sample(USERS, rnd.randint(1, 2)))
        log.escalate(iid, t, 0, paged)
        for user in paged:
            method = rnd.choice(METHODS)
            if rnd.random() < 0.1:
                nid = f"{iid}-c-{user}"
                log.add(t, NotificationRequested(
                    incident_id=iid, notification_id=nid, kind=NotificationKind.PAGE,
                    method=method, address="x", user_id=user, step=0, urgency="high"))  # fmt: skip
                log.add(t + S, NotificationCancelled(incident_id=iid, notification_id=nid,
                                                     reason="acknowledged"))  # fmt: skip
                continue
            receipt = (
                (3.0, rnd.choice(("delivered", "failed"))) if method in ("sms", "voice") else None
            )
            nid = log.notify(iid, t, user, method, sent_after=rnd.choice((0.5, 2.0, None)),
                             fail=rnd.random() < 0.1, receipt=receipt)  # fmt: skip
            if rnd.random() < 0.1:  # a bundle: one message carries this page and another
                log.add(t + 2 * S, NotificationSent(incident_id=iid, notification_id=nid, attempt=2,
                                                    method=method, bundle_id=f"b{n % 7}"))  # fmt: skip
        u = rnd.random()
        later = t + rnd.randint(10, 900) * S
        if u < 0.15:
            log.escalate(iid, later, 1, (rnd.choice(USERS),), rnd=1, last=True)
        elif u < 0.25:
            log.escalate(iid, later, 1, ("ana",), by="ben", via="slack")
        elif u < 0.35:
            log.add(later, IncidentSnoozed(incident_id=iid, until=later + 600 * S,
                                           attribution=Attribution("chi", "web")))  # fmt: skip
            log.add(later + 600 * S, IncidentUnacknowledged(incident_id=iid, reason="snooze ended"))
        elif u < 0.7:
            log.ack(iid, later, rnd.choice((*USERS, None)), rnd.choice(("sms", "slack", "web")))
        if rnd.random() < 0.2:
            log.add(later + S, NoteAdded(incident_id=iid, text="looking",
                                         attribution=Attribution("dev", "web")))  # fmt: skip
        if rnd.random() < 0.1:
            log.add(later + S, IncidentEdited(incident_id=iid, title="renamed",
                                              attribution=Attribution("ana", "web")))  # fmt: skip
        if rnd.random() < 0.75:
            r = rnd.random()
            if r < 0.3:
                log.resolve(iid, later + 60 * S, "ana", "web")
            elif r < 0.6:
                log.resolve(iid, later + 60 * S, None, "pager", "auto-resolved")
            else:
                log.resolve(iid, later + 60 * S, None, "alertmanager", "all alerts resolved")
    return sorted(log.records, key=lambda r: r[1])  # (stable: records of one instant in order)


def fold(records: list[tuple[Event, datetime]], led: Ledger | None = None, start: int = 1,
         read_every: int = 0) -> Ledger:  # fmt: skip
    led = led or Ledger()
    for seq, (ev, at) in enumerate(records, start):
        led.apply(ev, seq, at)
        if read_every and seq % read_every == 0:  # a reader cuts the spare rows off
            _ = led.incidents.cols, led.notifications.cols, led.pages.cols, led.fires.cols
    return led


def snapshot_json(led: Ledger) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(to_snapshot(led)))
    return data


def old_form(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot as the ledger wrote it before it forgot what is a day old (ledger.MEMORY:
    the log here spans hours, so nothing is forgotten): no `t_max`; the bundles sent by id
    only (`bundles_sent`, sorted), not with the instant of the first send; the last resolve
    of each key in the order of the keys' first resolve (now the order of the last), so
    compared as a sorted list."""
    out = dict(snap)
    assert out.pop("t_max") == out["last_t"]
    out["bundles_sent"] = sorted(b for b, _ in out.pop("bundles_first_sent"))
    out["last_resolved"] = sorted(out["last_resolved"])
    return out


def test_the_ledger_writes_the_snapshot_the_appending_ledger_wrote() -> None:
    want = json.loads(FIXTURE.read_text())
    want["last_resolved"] = sorted(want["last_resolved"])
    records = storm_log()
    assert old_form(snapshot_json(fold(records))) == want
    assert old_form(snapshot_json(fold(records, read_every=37))) == want


def test_an_appended_snapshot_loads_answers_the_same_and_folds_on_the_same() -> None:
    records = storm_log()
    old = json.loads(FIXTURE.read_text())
    loaded = from_snapshot(old, old["last_seq"])
    fresh = fold(records)
    q = Query(T0 - timedelta(days=1), T0 + timedelta(days=30))
    assert report(loaded, q, Directory()) == report(fresh, q, Directory())
    # restarted half way through: the rows added after loading are blank as they should be
    half = len(records) // 2
    mid = from_snapshot(snapshot_json(fold(records[:half])), half)
    fold(records[half:], mid, start=half + 1)
    assert snapshot_json(mid) == snapshot_json(fresh)
    old["last_resolved"] = sorted(old["last_resolved"])
    assert old_form(snapshot_json(mid)) == old
    assert report(mid, q, Directory()) == report(fresh, q, Directory())


# a table as a plain list of rows: operations drawn at random
ops = st.lists(
    st.one_of(
        st.tuples(st.just("row"), st.floats(allow_nan=False, width=32), st.integers(-5, 99)),
        st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(-5, 99)),
        st.tuples(st.just("append"), st.floats(allow_nan=False, width=32), st.integers(0, 9)),
        st.just(("read",)),
        st.just(("copy",)),
        st.just(("snapshot",)),
    ),
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(ops=ops)
def test_table_rows_are_what_a_list_of_rows_says(ops: list[tuple[Any, ...]]) -> None:
    spec = {"at": "d", "code": "i", "count": "i"}
    table = Table(spec, {"count": 0})
    model: list[list[Any]] = []
    copies: list[tuple[Table, list[list[Any]]]] = []
    for op in ops:
        if op[0] == "row":
            row = table.new_row()
            assert row == len(model)
            table.w["at"][row] = op[1]
            table.w["code"][row] = op[2]
            model.append([op[1], op[2], 0])
        elif op[0] == "set" and model:
            row = op[1] % len(model)
            table.w["count"][row] += op[2]
            model[row][2] += op[2]
        elif op[0] == "append":  # a row that leaves `code` blank and sets `count`
            row = table.new_row()
            assert row == len(model)
            table.w["at"][row] = op[1]
            table.w["count"][row] = op[2]
            model.append([op[1], NONE, op[2]])
        elif op[0] == "read":
            assert [list(r) for r in zip(*table.cols.values(), strict=True)] == model
        elif op[0] == "copy":
            copies.append((table.copy(), [list(r) for r in model]))
        elif op[0] == "snapshot":
            back = Table.from_snapshot(spec, json.loads(json.dumps(table.to_snapshot())))
            assert [list(r) for r in zip(*back.cols.values(), strict=True)] == model
    assert len(table) == len(model)
    assert [list(r) for r in zip(*table.cols.values(), strict=True)] == model
    for copy, then in copies:  # a copy stays as it was while the table goes on
        assert [list(r) for r in zip(*copy.cols.values(), strict=True)] == then
