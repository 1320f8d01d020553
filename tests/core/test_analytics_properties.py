"""Properties of the analytics ledger over generated logs.

The running service keeps its ledger incrementally: one record at a time, across snapshots
and restarts (a snapshot written, read back from JSON, and the records after it folded in).
For any log and any prefix of it, that ledger must answer what a batch computation over the
same records answers. The batch side here is an independent oracle: a plain walk over the
events that works each number out the obvious way (statistics' quantiles, zoneinfo for every
instant), sharing no code with the ledger. And the running aggregates for Prometheus, updated
event by event, must equal a recount from the ledger's columns.
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.core.analytics import (
    Directory,
    Ledger,
    Query,
    from_snapshot,
    recount,
    report,
    to_snapshot,
)
from pager.core.analytics import ledger as ledger_module
from pager.core.events import (
    AlertsUpdated,
    Attribution,
    Event,
    IncidentAcknowledged,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    IncidentSnoozed,
    IncidentUnacknowledged,
    MaintenanceEnded,
    MaintenanceStarted,
    NoteAdded,
    NotificationCancelled,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
)
from pager.core.rules import LevelRules, PolicyRules, Target

T0 = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
USERS = ("anna", "ned", "uma")
ZONES = {"anna": "Pacific/Auckland", "ned": "America/New_York", "uma": "UTC"}
SERVICES = ("web", "db")
METHODS = ("sms", "voice", "email", "slack", "push")
VIAS = ("slack", "sms", "voice", "email", "teams", "web", "api")
POLICY = PolicyRules(
    "p",
    tuple(LevelRules((Target("user", u),), timedelta(minutes=5)) for u in ("anna", "ned", "uma")),
)
DIRECTORY = Directory(zones=ZONES, policies={"p": POLICY})


# ---------------------------------------------------------------- generating logs


@st.composite
def logs(draw: st.DrawFn) -> list[tuple[Event, datetime]]:
    """A plausible log: incidents that open, escalate, notify, get acknowledged, snoozed,
    re-triggered and resolved; notifications that are sent, fail, retry, get receipts or are
    cancelled; maintenance windows. Instants only move forward."""
    out: list[tuple[Event, datetime]] = []
    at = T0
    incidents: dict[str, str] = {}  # id -> status
    pending: dict[str, tuple[str, str]] = {}  # notification -> (incident, method)
    sent: dict[str, str] = {}  # notification sent by sms/voice, awaiting a receipt
    windows: list[tuple[str, str]] = []
    n_inc = n_note = 0
    for _ in range(draw(st.integers(1, 60))):
        at += timedelta(seconds=draw(st.integers(0, 6 * 3600)))
        open_ = [i for i, s in incidents.items() if s != "resolved"]
        choices = ["open", "window"]
        if open_:
            choices += ["escalate", "notify", "ack", "snooze", "resolve", "note", "fire", "unack"]
        if pending:
            choices += ["sent", "failed", "cancelled"]
        if sent:
            choices.append("receipt")
        if windows:
            choices.append("end_window")
        what = draw(st.sampled_from(choices))
        if what == "open":
            n_inc += 1
            iid = f"inc-{n_inc}"
            incidents[iid] = "triggered"
            labels = draw(st.sampled_from([None, {"alertname": "Disk"}, {"alertname": "CPU"}]))
            alert: dict[str, Any] = {"key": "k", "summary": "s", "severity": "critical"}
            if labels:
                alert["labels"] = labels
            out.append((
                IncidentOpened(
                    incident_id=iid, number=n_inc, short_code="X", service_id=draw(
                        st.sampled_from(SERVICES)), dedup_key=draw(st.sampled_from("abc")),
                    integration="generic", title=draw(st.sampled_from(["T1", "T2"])),
                    severity="critical", urgency="high",
                    reason=draw(st.sampled_from([None, "maintenance: deploy"])),
                    alerts=(alert,),
                ), at))  # fmt: skip
            continue
        if what == "window":
            wid = f"w{len(out)}"
            windows.append((wid, draw(st.sampled_from(SERVICES))))
            length = timedelta(minutes=draw(st.integers(1, 600)))
            out.append((MaintenanceStarted(window_id=wid, service_id=windows[-1][1],
                                           start=at, end=at + length), at))  # fmt: skip
            continue
        if what == "end_window":
            wid, sid = windows.pop(draw(st.integers(0, len(windows) - 1)))
            out.append((MaintenanceEnded(window_id=wid, service_id=sid), at))
            continue
        if what in ("sent", "failed", "cancelled"):
            nid = draw(st.sampled_from(sorted(pending)))
            iid, method = pending[nid]
            if what == "sent":
                del pending[nid]
                out.append((NotificationSent(incident_id=iid, notification_id=nid, attempt=1,
                                             method=method), at))  # fmt: skip
                if method in ("sms", "voice"):
                    sent[nid] = iid
            elif what == "failed":
                final = draw(st.booleans())
                if final:
                    del pending[nid]
                out.append((NotificationFailed(
                    incident_id=iid, notification_id=nid, attempt=1, error="x",
                    permanent=final, retry_at=None if final else at + timedelta(seconds=30)),
                    at))  # fmt: skip
            else:
                del pending[nid]
                out.append((NotificationCancelled(incident_id=iid, notification_id=nid,
                                                  reason="acknowledged"), at))  # fmt: skip
            continue
        if what == "receipt":
            nid = draw(st.sampled_from(sorted(sent)))
            iid = sent.pop(nid)
            status = draw(st.sampled_from(["delivered", "completed", "undelivered", "no-answer"]))
            out.append((NotificationDelivered(incident_id=iid, notification_id=nid,
                                              status=status), at))  # fmt: skip
            continue
        iid = draw(st.sampled_from(open_))
        status = incidents[iid]
        by = draw(st.sampled_from([None, *USERS]))
        via = draw(st.sampled_from(VIAS))
        if what == "escalate":
            level = draw(st.integers(0, 2))
            rnd = draw(st.integers(0, 1))
            manual = draw(st.booleans())
            paged = tuple(draw(st.lists(st.sampled_from(USERS), max_size=2, unique=True)))
            last = level == 2 and draw(st.booleans())
            out.append((IncidentEscalated(
                incident_id=iid, policy_id="p", level=level, round=rnd,
                next_at=None if last else at + timedelta(minutes=5), targets=paged,
                paged=paged,
                attribution=Attribution(by, via) if manual else Attribution()), at))  # fmt: skip
            if status == "acknowledged":
                incidents[iid] = "triggered"
        elif what == "notify":
            n_note += 1
            nid = f"n{n_note}"
            method = draw(st.sampled_from(METHODS))
            kind = draw(st.sampled_from(["page", "page", "status"]))
            user = draw(st.sampled_from(USERS)) if kind == "page" else None
            pending[nid] = (iid, method)
            out.append((NotificationRequested(incident_id=iid, notification_id=nid, kind=kind,
                                              method=method, user_id=user), at))  # fmt: skip
        elif what == "ack" and status == "triggered":
            incidents[iid] = "acknowledged"
            out.append(
                (IncidentAcknowledged(incident_id=iid, attribution=Attribution(by, via)), at)
            )
        elif what == "snooze":
            incidents[iid] = "acknowledged"
            out.append((IncidentSnoozed(incident_id=iid, until=at + timedelta(hours=1),
                                        attribution=Attribution(by, via)), at))  # fmt: skip
        elif what == "unack" and status == "acknowledged":
            incidents[iid] = "triggered"
            out.append((IncidentUnacknowledged(incident_id=iid, reason="snooze ended"), at))
        elif what == "resolve":
            incidents[iid] = "resolved"
            how = draw(st.sampled_from(["person", "source", "timeout"]))
            out.append((IncidentResolved(
                incident_id=iid, attribution=Attribution(by if how == "person" and by else None,
                "pager" if how == "timeout" else via),
                reason="auto-resolved" if how == "timeout" else None), at))  # fmt: skip
        elif what == "note":
            out.append((NoteAdded(incident_id=iid, text="x", attribution=Attribution(by, via)), at))
        elif what == "fire":
            fired = {"key": "k2", "summary": "s2", "severity": "error",
                     "labels": {"alertname": draw(st.sampled_from(["Disk", "CPU"]))}}  # fmt: skip
            out.append((AlertsUpdated(incident_id=iid, fired=(fired,)), at))
    return out


# ---------------------------------------------------------------- the oracle


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None}
    if len(values) == 1:
        return {"count": 1, "mean": values[0], "p50": values[0], "p90": values[0]}
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "p50": statistics.median(values),
        "p90": deciles[8],
    }


def _bucket(t: datetime, user: str) -> str:
    local = t.astimezone(ZoneInfo(ZONES[user]))
    if local.hour >= 22 or local.hour < 8:
        return "sleep"
    return "business" if local.weekday() < 5 and local.hour < 18 else "off_hours"


def oracle(records: list[tuple[Event, datetime]], q: Query) -> dict[str, Any]:
    """The numbers worked out the obvious way, incident by incident."""
    incs: dict[str, dict[str, Any]] = {}
    notes: dict[str, dict[str, Any]] = {}
    pages: list[tuple[str, datetime, str]] = []
    for ev, at in records:
        if isinstance(ev, IncidentOpened):
            incs[ev.incident_id] = {"opened": at, "service": ev.service_id, "acks": [],
                                    "resolved": None, "how": None, "timeout": 0, "manual": 0,
                                    "levels": []}  # fmt: skip
            continue
        inc = incs.get(getattr(ev, "incident_id", ""))
        if isinstance(ev, IncidentAcknowledged | IncidentSnoozed):
            inc["acks"].append((at, ev.via))
        elif isinstance(ev, IncidentResolved):
            inc["resolved"] = at
            inc["how"] = "person" if ev.by else ("timeout" if ev.reason else "source")
        elif isinstance(ev, IncidentEscalated):
            if ev.by or ev.via:
                inc["manual"] += 1
            elif (ev.level, ev.round) != (0, 0):
                inc["timeout"] += 1
            inc["levels"].append(ev.level)
            pages.extend((u, at, ev.incident_id) for u in ev.paged or ())
        elif isinstance(ev, NotificationRequested):
            notes[ev.notification_id] = {"inc": ev.incident_id, "method": ev.method,
                                         "user": ev.user_id, "kind": ev.kind, "at": at,
                                         "sent": None, "outcome": "pending"}  # fmt: skip
        elif isinstance(ev, NotificationSent):
            n = notes[ev.notification_id]
            n["sent"] = n["sent"] or at
            n["outcome"] = "sent"
        elif isinstance(ev, NotificationFailed):
            notes[ev.notification_id]["outcome"] = "failed" if ev.permanent else "retrying"
        elif isinstance(ev, NotificationDelivered):
            ok = ev.status in ("delivered", "completed")
            notes[ev.notification_id]["outcome"] = "delivered" if ok else "undelivered"
        elif isinstance(ev, NotificationCancelled):
            notes[ev.notification_id]["outcome"] = "cancelled"

    def wanted(iid: str) -> bool:
        return q.service is None or incs[iid]["service"] == q.service

    chosen = [i for i, v in incs.items() if q.start <= v["opened"] < q.end and wanted(i)]
    tta = [(incs[i]["acks"][0][0] - incs[i]["opened"]).total_seconds() for i in chosen
           if incs[i]["acks"]]  # fmt: skip
    ttr = [(incs[i]["resolved"] - incs[i]["opened"]).total_seconds() for i in chosen
           if incs[i]["resolved"]]  # fmt: skip
    via: dict[str, int] = {}
    for i in chosen:
        if incs[i]["acks"]:
            v = incs[i]["acks"][0][1]
            via[v] = via.get(v, 0) + 1
    methods: dict[str, dict[str, int]] = {}
    people = {u: {"pages": {"total": 0, "business": 0, "off_hours": 0, "sleep": 0},
                  "interruptions": {"total": 0, "business": 0, "off_hours": 0, "sleep": 0}}
              for u in USERS}  # fmt: skip
    for n in notes.values():
        if not wanted(n["inc"]):
            continue
        if q.start <= n["at"] < q.end:
            m = methods.setdefault(n["method"], {})
            m[n["outcome"]] = m.get(n["outcome"], 0) + 1
        s = n["sent"]
        interrupting = n["kind"] == "page" and n["method"] in ("sms", "voice", "push")
        if interrupting and s is not None and q.start <= n["at"] < q.end:
            b = people[n["user"]]["interruptions"]
            b["total"] += 1
            b[_bucket(s, n["user"])] += 1
    for user, at, iid in pages:
        if q.start <= at < q.end and wanted(iid):
            b = people[user]["pages"]
            b["total"] += 1
            b[_bucket(at, user)] += 1
    return {
        "incidents": {
            "opened": len(chosen),
            "acknowledged": len(tta),
            "resolved": len(ttr),
            "auto_resolved": sum(1 for i in chosen if incs[i]["how"] in ("source", "timeout")),
        },
        "mtta_seconds": _summary(tta),
        "mttr_seconds": _summary(ttr),
        "escalations": {
            "timeout": sum(incs[i]["timeout"] for i in chosen),
            "manual": sum(incs[i]["manual"] for i in chosen),
            "reached_last_level": sum(1 for i in chosen if 2 in incs[i]["levels"]),
        },
        "acknowledged_via": via,
        "methods": methods,
        "people": people,
    }


def _close(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["count"] == b["count"] and all(
        (a[k] is None and b[k] is None) or math.isclose(a[k], b[k], abs_tol=0.002)
        for k in ("mean", "p50", "p90")
    )


def check_against_oracle(got: dict[str, Any], want: dict[str, Any]) -> None:
    for k, v in want["incidents"].items():
        assert got["incidents"][k] == v, k
    assert _close(got["mtta_seconds"], want["mtta_seconds"]), (got["mtta_seconds"], want)
    assert _close(got["mttr_seconds"], want["mttr_seconds"]), (got["mttr_seconds"], want)
    for k, v in want["escalations"].items():
        assert got["escalations"][k] == v, k
    assert got["delivery"]["acknowledged_via"] == want["acknowledged_via"]
    methods = {
        m["method"]: {k: m[k] for k in ("pending", "retrying", "sent", "delivered",
                                        "undelivered", "failed", "cancelled") if m[k]}
        for m in got["delivery"]["methods"]
    }  # fmt: skip
    assert methods == want["methods"]
    people = {p["user"]: p for p in got["people"]}
    for user, p in want["people"].items():
        assert people[user]["pages"] == p["pages"], user
        assert people[user]["interruptions"] == p["interruptions"], user


# ---------------------------------------------------------------- the properties


def _through_json(led: Ledger) -> Ledger:
    """What a restart does: the ledger's snapshot, as bytes and back."""
    raw = orjson.loads(orjson.dumps(to_snapshot(led)))
    return from_snapshot(raw, led.last_seq)


def _query(draw: st.DrawFn) -> Query:
    start = T0 + timedelta(hours=draw(st.integers(-24, 24 * 5)))
    end = start + timedelta(hours=draw(st.integers(1, 24 * 20)))
    return Query(start, end, service=draw(st.sampled_from([None, *SERVICES])))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_incremental_across_restarts_equals_the_batch_oracle_for_any_prefix(
    data: st.DataObject,
) -> None:
    log = data.draw(logs())
    k = data.draw(st.integers(0, len(log)), label="prefix")
    cuts = sorted(data.draw(st.lists(st.integers(0, k), max_size=3), label="restarts"))
    led = Ledger()
    for seq, (ev, at) in enumerate(log[:k], 1):
        while cuts and cuts[0] < seq:
            cuts.pop(0)
            led = _through_json(led)
        led.apply(ev, seq, at)
    if cuts:
        led = _through_json(led)
    q = _query(data.draw)
    got = report(led, q, DIRECTORY)
    check_against_oracle(got, oracle(log[:k], q))
    # and the whole answer is what one fold of the same records, never restarted, gives
    plain = Ledger()
    for seq, (ev, at) in enumerate(log[:k], 1):
        plain.apply(ev, seq, at)
    assert report(plain, q, DIRECTORY) == got


@settings(max_examples=100, deadline=None)
@given(log=logs(), data=st.data())
def test_running_aggregates_equal_a_recount_of_the_columns(
    log: list[tuple[Event, datetime]], data: st.DataObject
) -> None:
    """The times to acknowledge and resolve are kept aside and counted in one go when the
    aggregates are read, or when enough are kept (a batch of a few here): read after any
    records, the aggregates are the recount of the columns as they are then."""
    k = data.draw(st.integers(0, len(log)))
    reads = set(data.draw(st.lists(st.integers(1, max(k, 1)), max_size=4), label="reads"))
    led = Ledger()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ledger_module, "OBSERVE_EVERY", data.draw(st.integers(1, 5)))
        for seq, (ev, at) in enumerate(log[:k], 1):
            led.apply(ev, seq, at)
            if seq in reads:
                assert led.aggregates.as_json() == recount(led).as_json()
    assert led.aggregates.as_json() == recount(led).as_json()
    assert _through_json(led).aggregates.as_json() == led.aggregates.as_json()
    # incidents by state, as the log tells it
    status: dict[str, tuple[str, str]] = {}
    for ev, _ in log[:k]:
        if isinstance(ev, IncidentOpened):
            status[ev.incident_id] = (ev.service_id, "triggered")
        elif isinstance(ev, IncidentAcknowledged | IncidentSnoozed):
            status[ev.incident_id] = (status[ev.incident_id][0], "acknowledged")
        elif isinstance(ev, IncidentUnacknowledged | IncidentEscalated):
            status[ev.incident_id] = (status[ev.incident_id][0], "triggered")
        elif isinstance(ev, IncidentResolved):
            status[ev.incident_id] = (status[ev.incident_id][0], "resolved")
    want: dict[tuple[str, str], int] = {}
    for key in status.values():
        want[key] = want.get(key, 0) + 1
    names, states = led.names.strings, ("triggered", "acknowledged", "resolved")
    got = {(names[s], states[st]): n for (s, st), n in led.aggregates.states.items() if n}
    assert got == want


def test_the_oracle_can_tell_a_wrong_answer() -> None:
    """The comparison is not vacuous: a report with one acknowledgement fewer fails it."""
    log = [
        (IncidentOpened(incident_id="i", number=1, short_code="A", service_id="web",
                        dedup_key="k", integration="x", title="t", severity="critical",
                        urgency="high"), T0),
        (IncidentAcknowledged(incident_id="i", attribution=Attribution("anna", "sms")), T0 + timedelta(seconds=42)),
    ]  # fmt: skip
    led = Ledger()
    for seq, (ev, at) in enumerate(log, 1):
        led.apply(ev, seq, at)
    q = Query(T0, T0 + timedelta(days=1))
    got = report(led, q, DIRECTORY)
    check_against_oracle(got, oracle(log, q))
    assert got["mtta_seconds"]["mean"] == 42.0
    with pytest.raises(AssertionError):
        check_against_oracle(got, oracle(log[:1], q))
