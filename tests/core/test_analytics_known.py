"""Analytics over hand-built logs whose answers are worked out by hand: MTTA and MTTR to the
second, escalations by kind, how people acknowledged (one by SMS), an incident nobody
acknowledged, noise, delivery, and interruptions placed in each person's own day across a
daylight-saving change (Pacific/Auckland in April, America/New_York in March)."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest

from pager.core.analytics import Directory, Query, incident_rows, report
from pager.core.rules import LevelRules, PolicyRules, Target
from pager.core.schedule import Layer, Rotation, Schedule

from .analytics_log import Log, utc

S = timedelta(seconds=1)
POLICY = PolicyRules(
    "p",
    (
        LevelRules((Target("schedule", "rota"),), timedelta(minutes=5)),
        LevelRules((Target("user", "ned"),), timedelta(minutes=5)),
    ),
)
ROTA = Schedule(
    "rota",
    "America/New_York",
    (Layer("main", ("ned",), Rotation(timedelta(days=7), time(9), None, date(2026, 1, 5))),),
)
DIRECTORY = Directory(
    zones={"anna": "Pacific/Auckland", "ned": "America/New_York"},
    user_names={"anna": "Anna Aroha", "ned": "Ned Newyork"},
    service_names={"web": "Web shop", "db": "Database"},
    service_policy={"web": "p", "db": "p"},
    policies={"p": POLICY},
    schedules={"rota": ROTA},
)
T0 = utc("2026-03-10T10:00:00Z")  # a Tuesday


def known_log() -> Log:
    log = Log()
    # 1: paged anna, escalated by hand to ned, acknowledged by anna by SMS after 90 s,
    #    resolved after 600 s
    log.open("inc-1", T0).escalate("inc-1", T0, 0, ("anna",))
    log.notify("inc-1", T0, "anna", "sms", sent_after=2)
    log.escalate("inc-1", T0 + 60 * S, 1, ("ned",), by="anna", via="web", last=True)
    log.ack("inc-1", T0 + 90 * S, "anna", "sms").resolve("inc-1", T0 + 600 * S, "anna", "slack")
    # 2: paged ned by a call (a receipt 20 s later), the timeout reached the last level,
    #    acknowledged from the web after 420 s, resolved after 1800 s
    t2 = T0 + timedelta(hours=1)
    log.open("inc-2", t2).escalate("inc-2", t2, 0, ("ned",))
    log.notify("inc-2", t2, "ned", "voice", sent_after=1, receipt=(20, "completed"))
    log.escalate("inc-2", t2 + 300 * S, 1, ("anna",), last=True)
    log.ack("inc-2", t2 + 420 * S, "ned", "web").resolve("inc-2", t2 + 1800 * S, "ned", "api")
    # 3: nobody acknowledged; the SMS failed, the email went; a second alert fired; its
    #    source resolved it after 120 s
    t3 = T0 + timedelta(hours=2)
    log.open("inc-3", t3, service="db", key="disk", labels={"alertname": "DiskFull"})
    log.escalate("inc-3", t3, 0, ("ned",))
    log.notify("inc-3", t3, "ned", "sms", fail=True)
    log.notify("inc-3", t3, "ned", "email")
    log.fire("inc-3", t3 + 60 * S, "disk-2", "Disk full on db-2", alertname="DiskFull")
    log.resolve("inc-3", t3 + 120 * S, None, "alertmanager", "all alerts resolved")
    # 4: the same key again 30 minutes later (flapping), acknowledged in Slack after 30 s,
    #    auto-resolved after an hour
    t4 = t3 + 120 * S + timedelta(minutes=30)
    log.open("inc-4", t4, service="db", key="disk", labels={"alertname": "DiskFull"})
    log.escalate("inc-4", t4, 0, ("ned",))
    log.notify("inc-4", t4, "ned", "slack")
    log.ack("inc-4", t4 + 30 * S, "ned", "slack")
    log.resolve("inc-4", t4 + 3600 * S, None, "pager", "auto-resolved")
    return log


def day_report(log: Log, **kw: Any) -> dict[str, Any]:
    q = Query(utc("2026-03-10T00:00:00Z"), utc("2026-03-11T00:00:00Z"), **kw)
    return report(log.ledger(), q, DIRECTORY)


def test_counts_mtta_and_mttr_to_the_second() -> None:
    r = day_report(known_log())
    assert r["incidents"] == {
        "opened": 4, "acknowledged": 3, "resolved": 4, "auto_resolved": 2, "reopened": 1,
        "retriggered": 0, "unacknowledged": 1, "open": 0, "opened_in_maintenance": 0,
    }  # fmt: skip
    # acknowledged after 90, 420 and 30 s
    assert r["mtta_seconds"] == {"count": 3, "mean": 180.0, "p50": 90.0, "p90": 354.0}
    # resolved after 600, 1800, 120 and 3600 s
    assert r["mttr_seconds"] == {"count": 4, "mean": 1530.0, "p50": 1200.0, "p90": 3060.0}
    assert r["escalations"] == {"total": 2, "timeout": 1, "manual": 1, "reached_last_level": 2}


def test_acknowledged_by_sms_counts_under_sms_and_the_unacknowledged_one_is_left_out() -> None:
    r = day_report(known_log())
    assert r["delivery"]["acknowledged_via"] == {"slack": 1, "sms": 1, "web": 1}
    rows = {row["id"]: row for row in incident_rows(known_log().ledger(), day_query())}
    assert rows["inc-1"]["acknowledged_via"] == "sms"
    assert rows["inc-1"]["acknowledged_by"] == "anna"
    assert rows["inc-1"]["seconds_to_ack"] == 90.0
    assert rows["inc-1"]["seconds_to_resolve"] == 600.0
    assert rows["inc-1"]["escalations"] == 1
    never = rows["inc-3"]
    assert never["acknowledged"] is None and never["seconds_to_ack"] is None
    assert never["acknowledged_by"] is None and never["resolution"] == "source"
    assert never["seconds_to_resolve"] == 120.0
    assert rows["inc-4"]["resolution"] == "timeout"


def day_query(**kw: Any) -> Query:
    return Query(utc("2026-03-10T00:00:00Z"), utc("2026-03-11T00:00:00Z"), **kw)


def test_per_service_and_policy_rows() -> None:
    r = day_report(known_log())
    by = {s["service"]: s for s in r["services"]}
    assert set(by) == {"db", "web"}
    assert by["web"]["name"] == "Web shop"
    assert (by["web"]["opened"], by["web"]["acknowledged"], by["web"]["auto_resolved"]) == (2, 2, 0)
    assert by["web"]["mtta_seconds"]["mean"] == 255.0
    assert (by["db"]["opened"], by["db"]["acknowledged"], by["db"]["auto_resolved"]) == (2, 1, 2)
    assert by["db"]["alerts"] == 3
    assert [p["escalation_policy"] for p in r["escalation_policies"]] == ["p"]
    only_db = day_report(known_log(), service="db")
    assert only_db["incidents"]["opened"] == 2
    assert only_db["mttr_seconds"]["mean"] == 1860.0
    assert [s["service"] for s in only_db["services"]] == ["db"]


def test_noise_flapping_and_quick_resolutions_by_the_source() -> None:
    noise = day_report(known_log())["noise"]
    assert noise["alerts"][0] == {"service": "db", "name": "DiskFull", "alerts": 3, "incidents": 2}
    assert noise["dedup_keys"][0] == {
        "service": "db", "dedup_key": "disk", "incidents": 2, "alerts": 3,
    }  # fmt: skip
    assert noise["flapping"]["incidents"] == 1
    assert noise["flapping"]["keys"] == [{"service": "db", "dedup_key": "disk", "reopened": 1}]
    # inc-3: gone by itself after 2 minutes, nobody having done anything
    quick = noise["resolved_by_source_quickly"]
    assert quick["incidents"] == 1
    assert quick["keys"] == [{"service": "db", "dedup_key": "disk", "incidents": 1}]


def test_delivery_by_method_outcome_and_latency() -> None:
    methods = {m["method"]: m for m in day_report(known_log())["delivery"]["methods"]}
    assert set(methods) == {"email", "slack", "sms", "voice"}
    sms = methods["sms"]
    assert (sms["requested"], sms["sent"], sms["failed"], sms["success_rate"]) == (2, 1, 1, 0.5)
    assert sms["latency_seconds"]["mean"] == 2.0
    voice = methods["voice"]
    assert (voice["delivered"], voice["success_rate"]) == (1, 1.0)
    assert voice["latency_seconds"]["p50"] == 1.0
    assert voice["receipt_seconds"] == {"count": 1, "mean": 20.0, "p50": 20.0, "p90": 20.0}


def test_people_pages_interruptions_and_rotation_share() -> None:
    r = day_report(known_log())
    people = {p["user"]: p for p in r["people"]}
    anna, ned = people["anna"], people["ned"]
    assert anna["name"] == "Anna Aroha" and anna["timezone"] == "Pacific/Auckland"
    # pages: inc-1 level 1 and inc-2 level 2 for anna; inc-1 (escalated to him), 2, 3, 4 for ned
    assert (anna["pages"]["total"], ned["pages"]["total"]) == (2, 4)
    # interruptions: anna's SMS; ned's call (his failed SMS, email and Slack message are not)
    assert anna["interruptions"]["total"] == 1
    assert ned["interruptions"]["total"] == 1
    assert anna["acknowledged"] == 1 and ned["acknowledged"] == 2
    assert ned["oncall_hours"] == 24.0 and anna["oncall_hours"] == 0.0
    # 10:00Z is 23:00 in Auckland (sleep); 11:00Z is 07:00 in New York (sleep)
    assert anna["interruptions"]["sleep"] == 1
    assert ned["interruptions"]["sleep"] == 1
    # rota pages ned at level 1: inc-2 at 07:00, inc-3 at 08:00, inc-4 at 08:32 New York time
    (rota,) = r["rotations"]
    assert rota["schedule"] == "rota"
    assert (rota["pages"], rota["outside_business_hours"]) == (3, 1)
    assert rota["share_outside_business_hours"] == 0.3333
    assert rota["oncall_hours"] == {"ned": 24.0}


def test_series_by_day_and_week() -> None:
    log = known_log()
    q = Query(utc("2026-03-09T00:00:00Z"), utc("2026-03-12T00:00:00Z"))
    series = report(log.ledger(), q, DIRECTORY)["series"]
    assert [s["period"] for s in series] == ["2026-03-09", "2026-03-10", "2026-03-11"]
    assert [s["opened"] for s in series] == [0, 4, 0]
    assert series[1]["pages"] == 6 and series[1]["interruptions"] == 2
    assert series[1]["mtta_seconds"]["mean"] == 180.0
    weeks = report(log.ledger(), Query(q.start, q.end, group_by="week"), DIRECTORY)["series"]
    assert [(s["period"], s["opened"]) for s in weeks] == [("2026-03-09", 4)]


# ---------------------------------------------------------------- people's hours across DST

NED_SENT = {
    # America/New_York moves from UTC-5 to UTC-4 at 2026-03-08 02:00 local
    "2026-03-06T22:30:00Z": "business",  # Friday 17:30 EST
    "2026-03-06T23:30:00Z": "off_hours",  # Friday 18:30 EST
    "2026-03-07T15:00:00Z": "off_hours",  # Saturday 10:00 EST: weekend
    "2026-03-09T02:30:00Z": "sleep",  # Sunday 22:30 EDT (21:30 on last week's clock)
    "2026-03-09T12:30:00Z": "business",  # Monday 08:30 EDT (07:30 on last week's clock)
}
ANNA_SENT = {
    # Pacific/Auckland moves from UTC+13 to UTC+12 at 2026-04-05 03:00 local
    "2026-04-03T04:30:00Z": "business",  # Friday 17:30 NZDT
    "2026-04-03T05:30:00Z": "off_hours",  # Friday 18:30 NZDT (17:30 on next week's clock)
    "2026-04-05T19:30:00Z": "sleep",  # Monday 07:30 NZST (08:30 on last week's clock)
    "2026-04-05T20:30:00Z": "business",  # Monday 08:30 NZST
    "2026-04-06T10:30:00Z": "sleep",  # Monday 22:30 NZST
}


def dst_log() -> Log:
    log = Log()
    for iid, user, sent in (("inc-1", "ned", NED_SENT), ("inc-2", "anna", ANNA_SENT)):
        first = utc(min(sent)) - timedelta(minutes=1)
        log.open(iid, first).escalate(iid, first, 0, (user,))
        for i, at in enumerate(sorted(sent)):
            # alternate calls and texts, with an email beside each (never an interruption)
            log.notify(iid, utc(at) - 3 * S, user, "voice" if i % 2 else "sms", sent_after=3)
            log.notify(iid, utc(at), user, "email")
        # the page of a second walk of the policy, at the last instant
        log.escalate(iid, utc(max(sent)), 0, (user,), rnd=1)
    return log


@pytest.mark.parametrize(("user", "sent"), [("ned", NED_SENT), ("anna", ANNA_SENT)])
def test_interruptions_fall_in_the_persons_own_hours_across_a_dst_change(
    user: str, sent: dict[str, str]
) -> None:
    q = Query(utc("2026-03-01T00:00:00Z"), utc("2026-04-10T00:00:00Z"))
    people = {p["user"]: p for p in report(dst_log().ledger(), q, DIRECTORY)["people"]}
    want = {"total": len(sent), "business": 0, "off_hours": 0, "sleep": 0}
    for bucket in sent.values():
        want[bucket] += 1
    assert people[user]["interruptions"] == want
    assert people[user]["notifications"] == 2 * len(sent)
    # pages: when the first walk started (one minute before the first message), and the
    # second walk at the last instant
    first, last = sorted(sent)[0], sorted(sent)[-1]
    pages = {"total": 2, "business": 0, "off_hours": 0, "sleep": 0}
    pages[sent[first]] += 1
    pages[sent[last]] += 1
    assert people[user]["pages"] == pages


def test_a_bundle_of_pages_in_one_message_is_one_interruption() -> None:
    """Storm mode: three pages of ned by SMS go out as one message (bundle b1): three
    notifications, one interruption; a fourth, alone, is another."""
    from pager.core.analytics import recount
    from pager.core.events import NotificationSent

    log = Log()
    t = T0
    nids = []
    for i in (1, 2, 3, 4):
        log.open(f"inc-{i}", t).escalate(f"inc-{i}", t, 0, ("ned",))
        nids.append(log.notify(f"inc-{i}", t, "ned", "sms", sent_after=None))
    for i, nid in enumerate(nids[:3], 1):
        log.add(t + 5 * S, NotificationSent(incident_id=f"inc-{i}", notification_id=nid,
                                            attempt=1, method="sms", bundle_id="b1"))  # fmt: skip
    log.add(t + 6 * S, NotificationSent(incident_id="inc-4", notification_id=nids[3], attempt=1,
                                        method="sms"))  # fmt: skip
    led = log.ledger()
    ned = next(p for p in day_report(log)["people"] if p["user"] == "ned")
    assert ned["notifications"] == 4
    assert ned["interruptions"]["total"] == 2
    code = led.names.find("ned")
    assert led.aggregates.interruptions[code] == 2 == recount(led).interruptions[code]
