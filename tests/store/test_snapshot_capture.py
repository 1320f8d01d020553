"""A snapshot made in two steps (core/state.py `SystemState.capture()` on the event loop,
`StateCapture.to_snapshot(pause)` in the log's worker thread): the file holds the same bytes
as the snapshot made at once on the event loop before the two steps existed (that code is
kept below, `made_at_once`, as the reference), through the JSON-lines log and the PostgreSQL
one, on a state with something in every part, its long lists, sorts and columns cut into
many small pieces; and what the state does after the capture (incidents opened, changed,
resolved, notifications, analytics rows enough to grow the columns, a maintenance window
changed in place) does not reach the snapshot."""

from __future__ import annotations

import base64
import sys
from array import array
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trio

from pager.core import pacing
from pager.core.analytics import Ledger, columns
from pager.core.analytics.columns import Table
from pager.core.analytics.ledger import LEDGER_VERSION, MEMORY
from pager.core.analytics.vocabulary import SENT
from pager.core.archive import summarize
from pager.core.bundles import Bundle
from pager.core.heartbeat import Beat, HeartbeatSpec
from pager.core.model import Status
from pager.core.notifications import Notification
from pager.core.overrides import ApiOverride
from pager.core.state import STATE_VERSION, MaintenanceWindow, SystemState
from pager.core.vocabulary import NotificationStatus
from pager.store import snapshots
from pager.store.jsonl import JsonlLog
from pager.store.snapshots import ItemCache, snapshot_body, write_snapshot

from .conftest import T0, active_postgres_log, draft
from .test_snapshot_cache import add_incident, cloned_state


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything in many pieces: lists of 3 (sorted runs merged), base64 of 6 bytes at a
    time, strings of 5 characters, the log's lists of 7."""
    monkeypatch.setattr(pacing, "STEP", 3)
    monkeypatch.setattr(columns, "ENCODE_PIECE", 6)
    monkeypatch.setattr(snapshots, "STR_PIECE", 5)
    monkeypatch.setattr(snapshots, "CHUNK", 7)


def made_at_once(s: SystemState) -> dict[str, Any]:
    """`SystemState.to_snapshot()` as it was, on the event loop, before the capture."""
    archive = dict(s.archive)
    whole = []
    for inc in s.incidents.values():
        if inc.status is Status.RESOLVED:
            archive[inc.id] = summarize(inc)
        else:
            whole.append(inc)
    live = {inc.id for inc in whole}
    number = lambda x: x.number  # noqa: E731
    return {
        "version": STATE_VERSION,
        "last_seq": s.last_seq,
        "last_ts": s.last_ts,
        "next_number": s.next_number,
        "config_digest": s.config_digest,
        "incidents": sorted(whole, key=number),
        "archive": sorted(archive.values(), key=number),
        "maintenance": list(s.maintenance.values()),
        "changes": {k: list(v) for k, v in s.changes.items()},
        "notifications": [
            n for n in s.notifications.by_id.values() if n.incident_id in live or n.open
        ],
        "used_links": [
            [link_id, expires]
            for link_id, expires in s.used_links.items()
            if s.last_ts is None or expires > s.last_ts
        ],
        "opted_out": [[m, a, u] for (m, a), u in s.opted_out.items()],
        "opt_message_sids": sorted(s.opt_message_sids),
        "beats": [
            [name, b.pinged_at, b.late_at, b.down_at, b.down, b.failed]
            for name, b in s.beats.items()
        ],
        "api_heartbeats": [
            [h.name, h.service_id, h.interval.total_seconds(), h.grace.total_seconds()]
            for h in s.api_heartbeats.values()
        ],
        "overrides": [
            [o.id, o.schedule_id, o.user, o.start, o.end, o.by] for o in s.overrides.values()
        ],
        "calendar_generations": dict(s.calendar_generations),
        "reports_sent": dict(s.reports_sent),
        "analytics": ledger_at_once(s.analytics),
        "bundles": s.bundles.to_snapshot(),
        "seen_requests": [
            [key, expires]
            for key, expires in s.seen_requests.items()
            if s.last_ts is None or expires > s.last_ts
        ],
    }


def ledger_at_once(led: Ledger) -> dict[str, Any]:
    """analytics `to_snapshot(ledger)` as it was (each column's base64 in one call), with
    what the ledger forgets after MEMORY (written since) left out once that old."""
    before = led.t_max - MEMORY
    outcome, sent = led.notifications.cols["outcome"], led.notifications.cols["sent"]

    def table(t: Table) -> dict[str, str]:
        out = {}
        for name, col in t.copy().cols.items():
            if sys.byteorder == "big":
                col = array(col.typecode, col)
                col.byteswap()
            out[name] = base64.b64encode(col.tobytes()).decode("ascii")
        return out

    return {
        "v": LEDGER_VERSION,
        "last_seq": led.last_seq,
        "in_order": led.in_order,
        "last_t": led.last_t if led.last_t != float("-inf") else None,
        "t_max": led.t_max if led.t_max != float("-inf") else None,
        "names": list(led.names.strings),
        "incident_ids": list(led.incident_ids),
        "incidents": table(led.incidents),
        "notifications": table(led.notifications),
        "open_notifications": [
            (nid, n)
            for nid, n in led.open_notifications.items()
            if outcome[n] != SENT or sent[n] >= before
        ],
        "pages": table(led.pages),
        "fires": table(led.fires),
        "windows": [[k, *v] for k, v in led.windows.items()],
        "last_resolved": [[s, k, t] for (s, k), t in led.last_resolved.items() if t >= before],
        "outcome_events": [[m, o, n] for (m, o), n in led.outcome_events.items()],
        "bundles_first_sent": [[b, t] for b, t in led.bundles_sent.items() if t >= before],
    }


def varied_state(tmp_path: Path) -> SystemState:
    """The replay fixture's state, its open incident cloned (test_snapshot_cache.py), and
    something in every part of the state: incidents resolved but not archived yet (one of
    them an archived one rebuilt), with a notification still in flight; an archive out of
    number order; and windows, links, opt-outs, heartbeats, overrides, feeds, reports,
    seen requests, bundles and the analytics ledger's small tables."""
    st = cloned_state(tmp_path)
    at = st.last_ts
    assert at is not None
    for k in (3, 17, 30):
        inc = st.incidents[f"inc-{100 + k}"]
        st.incidents[inc.id] = replace(inc, status=Status.RESOLVED, resolved_at=at)
    in_flight = next(n for n in st.notifications.by_id.values() if n.incident_id == "inc-117")
    st.notifications.by_id[in_flight.id] = replace(in_flight, status=NotificationStatus.RETRYING)
    model = st.incidents["inc-100"]
    for number in (500, 60, 420, 75, 300, 61, 62, 63):  # archived out of number order
        inc = replace(model, id=f"old-{number}", number=number, status=Status.RESOLVED)
        st.archive[inc.id] = summarize(inc)
    rebuilt = replace(
        model, id="old-420", number=420, status=Status.RESOLVED, resolved_at=at, title="rebuilt"
    )
    st.incidents[rebuilt.id] = rebuilt
    st.maintenance["w1"] = MaintenanceWindow("w1", "checkout", at, at + timedelta(hours=1), "db")
    st.used_links.update({"l-gone": at - timedelta(minutes=1), "l-live": at + timedelta(days=1)})
    st.seen_requests.update({"slack:1": at - timedelta(1), "slack:2": at + timedelta(1)})
    st.opted_out[("sms", "+15550100")] = "alice"
    st.opt_message_sids.update({"SM9", "SM1", "SM5", "SM3", "SM7", "SM2", "SM8"})
    st.beats["nightly"] = Beat(at, at + timedelta(1), at + timedelta(2), False, 1)
    st.api_heartbeats["cron"] = HeartbeatSpec(
        "cron", "checkout", timedelta(minutes=5), timedelta(minutes=1), "api"
    )
    st.overrides["o1"] = ApiOverride("o1", "primary", "bob", at, at + timedelta(hours=8), "carol")
    st.calendar_generations["bob"] = 2
    st.reports_sent["weekly"] = at
    st.bundles.by_id["b1"] = Bundle("b1", "alice", "sms", None, ("n1",), ("inc-100",), at)
    st.bundles.lanes[("alice", "sms")] = [at]
    led = st.analytics
    led.windows["w1"] = [led.names.code("checkout"), 10.0, 20.0]
    # (one of each a day and more old: forgotten, not in the snapshot)
    led.last_resolved.update({(1, k): led.t_max - 4 * 3600.0 * (7 - k) for k in range(8)})
    led.outcome_events[(1, "sent")] = 4
    led.bundles_sent.update((f"b{k}", led.t_max - 1e4 * k) for k in (9, 3, 7, 1, 8, 2, 6, 4, 5))
    return st


def file_of(folder: Path, state: Any, cache: ItemCache | None = None, seq: int = 7) -> bytes:
    folder.mkdir(exist_ok=True)
    return write_snapshot(folder, seq, T0, state, cache).read_bytes()


def test_the_file_is_the_one_made_at_once_on_the_event_loop(tmp_path: Path) -> None:
    st = varied_state(tmp_path)
    reference = file_of(tmp_path / "then", made_at_once(st))
    snap = made_at_once(st)
    assert len(snap["incidents"]) == 38 and len(snap["archive"]) == 13
    numbers = [s.number for s in snap["archive"]]
    assert numbers == [1, 2, 60, 61, 62, 63, 75, 103, 117, 130, 300, 420, 500]
    assert snap["archive"][-2].title == "rebuilt"  # the incident rebuilt, not its summary
    assert len(snap["notifications"]) == 38 * 4 + 1  # 4 per open incident; the one in flight

    built = file_of(tmp_path / "now", st.capture().to_snapshot)  # built in write_snapshot
    assert built == reference
    assert file_of(tmp_path / "direct", st.to_snapshot()) == reference  # capture, at once
    cache = ItemCache()
    assert file_of(tmp_path / "cached", st.capture().to_snapshot, cache) == reference
    assert file_of(tmp_path / "cached", st.capture().to_snapshot, cache) == reference
    assert cache.hits > 100


def test_the_state_moving_on_after_the_capture_does_not_reach_the_snapshot(
    tmp_path: Path,
) -> None:
    st = varied_state(tmp_path)
    reference = file_of(tmp_path / "then", made_at_once(st))
    capture = st.capture()

    model = st.incidents["inc-101"]
    add_incident(st, model, 901)
    st.incidents["inc-102"] = replace(st.incidents["inc-102"], title="changed")
    st.incidents["inc-104"] = replace(model, id="inc-104", status=Status.RESOLVED, resolved_at=T0)
    del st.incidents["inc-105"]
    st.archive["old-77"] = summarize(replace(model, id="old-77", number=77))
    note: Notification = next(iter(st.notifications.by_id.values()))
    st.notifications.by_id[note.id] = replace(note, attempts=9)
    st.notifications.by_id["n-new"] = replace(note, id="n-new")
    st.used_links["l-new"] = T0 + timedelta(days=9)
    st.opt_message_sids.add("SM0")
    st.bundles.lanes[("alice", "sms")].append(T0)
    st.last_seq += 5
    led = st.analytics
    table = led.incidents
    for _ in range(200):  # past the columns' spare rows: they grow
        row = table.new_row()
        table.w["opened"][row] = 1.5
        led.incident_ids.append(f"inc-x{row}")
    table.w["acked"][0] = 99.0  # a row the capture copied, changed
    led.names.code("a name never seen")
    led.open_notifications["n-new"] = 0
    led.open_notifications.pop(next(iter(led.open_notifications)))
    led.windows["w1"][2] = 15.0  # (the ledger changes a window's list in place)
    led.last_resolved[(2, 2)] = 1.0
    led.bundles_sent["b0"] = led.t_max

    assert file_of(tmp_path / "moved", made_at_once(st)) != reference  # it did move on
    assert file_of(tmp_path / "now", capture.to_snapshot) == reference


async def test_the_json_lines_log_writes_the_capture_in_its_thread(tmp_path: Path) -> None:
    st = varied_state(tmp_path)
    reference = file_of(tmp_path / "then", made_at_once(st), seq=0)
    with trio.fail_after(20):
        lg = JsonlLog.open(tmp_path / "data")
        try:
            await lg.save_snapshot(0, T0, st.capture().to_snapshot)
            loaded = lg.load_snapshot()  # (a log without records: the snapshot at 0)
        finally:
            lg.release()
    assert (tmp_path / "data" / "snapshots" / f"{0:012d}.snap").read_bytes() == reference
    assert loaded is not None
    back = SystemState.from_snapshot(loaded.state)
    assert back.incidents.keys() == {i.id for i in made_at_once(st)["incidents"]}
    assert back.archive["old-420"].title == "rebuilt"


async def test_postgres_stores_the_body_made_at_once(
    tmp_path: Path, pg_dsn: str, nursery: trio.Nursery
) -> None:
    st = varied_state(tmp_path)
    with trio.fail_after(30):
        writer = await active_postgres_log(pg_dsn, nursery, node="writer")
        try:
            await writer.append([draft(1), draft(2)])
            for seq in (1, 2):  # a cold cache, then a warm one
                await writer.save_snapshot(seq, T0, st.capture().to_snapshot)
            with psycopg.connect(pg_dsn) as conn:
                rows = conn.execute("SELECT body FROM pager_snapshots ORDER BY seq").fetchall()
            loaded = writer.load_snapshot()
        finally:
            await writer.close()
    reference = snapshot_body(made_at_once(st))
    assert [bytes(r[0]) for r in rows] == [reference, reference]
    assert reference + b"\n" in file_of(tmp_path / "then", made_at_once(st))
    assert loaded is not None and loaded.seq == 2
    assert SystemState.from_snapshot(loaded.state).archive["old-420"].title == "rebuilt"


def test_compact_after_a_snapshot_looks_at_the_resolved_incidents_it_held(
    tmp_path: Path,
) -> None:
    st = varied_state(tmp_path)
    capture = st.capture()
    assert capture.resolved is None  # not built yet
    capture.to_snapshot()
    assert capture.resolved is not None
    assert sorted(i.id for i in capture.resolved) == ["inc-103", "inc-117", "inc-130", "old-420"]
    # since the capture: one reopened, one resolved (archived after the next snapshot)
    st.incidents["inc-117"] = replace(st.incidents["inc-117"], status=Status.TRIGGERED)
    st.incidents["inc-120"] = replace(
        st.incidents["inc-120"], status=Status.RESOLVED, resolved_at=st.last_ts
    )
    later = T0 + timedelta(days=400)
    assert st.compact(later, busy=lambda iid: iid == "inc-130", among=capture.resolved) == 2
    assert {"inc-103", "old-420"} <= st.archive.keys()
    assert {"inc-117", "inc-120", "inc-130"} <= st.incidents.keys()
    assert st.compact(later) == 2  # every incident looked at: inc-120 and inc-130
