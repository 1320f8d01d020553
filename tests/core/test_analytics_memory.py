"""What the analytics ledger remembers only for a while (`ledger.MEMORY`, a day of the log's
instants) stays bounded over a long life, and a running ledger, one restarted from a snapshot
anywhere and a replay agree on it.

A pager runs for months. Before, three structures of the ledger grew with every storm for the
life of the process and were carried in every snapshot: the bundles with a page sent
(`bundles_sent`), the last resolve of every dedup key ever seen (`last_resolved`) and every
text or call that never got its delivery receipt (`open_notifications`, a provider that
sends none). Here storms a few days apart each open incidents on keys of their own, page one
person in bundles by SMS (half the receipts never come) and resolve; after any number of
them the ledger holds at most what the last storm left."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pager.core.analytics import Directory, Ledger, Query, from_snapshot, report, to_snapshot
from pager.core.analytics.ledger import MEMORY
from pager.core.events import Event, NotificationDelivered, NotificationSent

from .analytics_log import Log

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
PER_STORM = 40  # incidents in a storm
BUNDLE = 10  # pages in one message


def storm(log: Log, k: int, at: datetime) -> None:
    """Storm `k`: PER_STORM incidents on keys of their own, each paging "ana" by SMS; the
    pages go out BUNDLE to a message; every other message's receipts never come; all resolve
    an hour later."""
    nids = []
    for i in range(PER_STORM):
        iid = f"inc-{k}-{i}"
        log.open(iid, at + i * S, key=f"storm-{k}-{i}")
        log.escalate(iid, at + i * S, 0, ("ana",))
        nids.append(log.notify(iid, at + i * S, "ana", "sms", sent_after=None))
    for j in range(0, PER_STORM, BUNDLE):
        sent = at + (60 + j) * S
        for i in range(j, j + BUNDLE):
            log.add(sent, NotificationSent(
                incident_id=f"inc-{k}-{i}", notification_id=nids[i], attempt=1,
                provider_id=f"SM{k}-{j}", method="sms", user_id="ana", bundle_id=f"b{k}-{j}",
            ))  # fmt: skip
            if (j // BUNDLE) % 2 == 0:
                log.add(sent + 5 * S, NotificationDelivered(
                    incident_id=f"inc-{k}-{i}", notification_id=nids[i], status="delivered"))  # fmt: skip
    for i in range(PER_STORM):
        log.resolve(f"inc-{k}-{i}", at + timedelta(hours=1) + i * S, None, "alertmanager")


def storms(n: int, apart: timedelta = timedelta(days=3)) -> list[tuple[Event, datetime]]:
    log = Log()
    for k in range(n):
        storm(log, k, T0 + k * apart)
    return sorted(log.records, key=lambda r: r[1])


def fold(
    records: list[tuple[Event, datetime]], led: Ledger | None = None, start: int = 1
) -> Ledger:
    led = led or Ledger()
    for seq, (ev, at) in enumerate(records, start):
        led.apply(ev, seq, at)
    return led


def snapshot_json(led: Ledger) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(to_snapshot(led)))
    return data


def remembered(led: Ledger) -> dict[str, int]:
    return {
        "bundles": len(led.bundles_sent),
        "keys": len(led.last_resolved),
        "open notifications": len(led.open_notifications),
        "awaiting": len(led.awaiting),
    }


ONE_STORM = {
    "bundles": PER_STORM // BUNDLE,
    "keys": PER_STORM,
    "open notifications": PER_STORM // 2,  # those whose receipts never came
    "awaiting": PER_STORM // 2,
}


@pytest.mark.parametrize("n", [1, 3, 12])
def test_after_any_number_of_storms_the_ledger_holds_what_the_last_one_left(n: int) -> None:
    led = fold(storms(n))
    assert remembered(led) == ONE_STORM
    snap = snapshot_json(led)
    assert len(snap["bundles_first_sent"]) == ONE_STORM["bundles"]
    assert len(snap["last_resolved"]) == ONE_STORM["keys"]
    assert len(snap["open_notifications"]) == ONE_STORM["open notifications"]
    # while the history itself is all there
    assert len(led.incident_ids) == n * PER_STORM
    assert len(led.notifications) == n * PER_STORM


def test_storms_less_than_a_day_apart_are_remembered_together() -> None:
    led = fold(storms(3, apart=timedelta(hours=6)))
    assert remembered(led) == {k: 3 * v for k, v in ONE_STORM.items()}


def test_a_restart_from_a_snapshot_anywhere_gives_what_one_fold_gives() -> None:
    """A ledger forgets lazily (what is a day old goes when something new is added), so a
    running ledger may still hold what a restarted one never loaded: the snapshots, the
    reports and the folding that follows must not tell them apart. Here also a late receipt
    for a text of the first storm, arriving in the second one (two days after it was sent:
    no longer awaited, not counted), and a clock that steps back an hour once."""
    log = Log()
    storm(log, 0, T0)
    storm(log, 1, T0 + timedelta(days=2))
    log.add(T0 + timedelta(days=2, hours=2), NotificationDelivered(
        incident_id="inc-0-10", notification_id="inc-0-10-n1", status="delivered"))  # fmt: skip
    storm(log, 2, T0 + timedelta(days=2, hours=20))
    records = sorted(log.records, key=lambda r: r[1])
    back = T0 + timedelta(days=2, hours=21)  # a record an hour before the one that came first
    records.insert(len(records) - 5, (records[-1][0], back))
    whole = fold(records)
    want = snapshot_json(whole)
    q = Query(T0 - timedelta(days=1), T0 + timedelta(days=30))
    for cut in range(0, len(records) + 1, 37):
        restarted = from_snapshot(snapshot_json(fold(records[:cut])), cut)
        fold(records[cut:], restarted, start=cut + 1)
        assert snapshot_json(restarted) == want, cut
        assert report(restarted, q, Directory()) == report(whole, q, Directory())
    late = whole.notifications.cols["outcome"][whole.incident_row["inc-0-10"]]
    assert late == 2  # SENT: the receipt came after the ledger stopped waiting for it


def test_a_bundle_is_one_interruption_within_the_day_and_a_new_one_after() -> None:
    log = Log()
    at = T0
    for i in range(3):
        log.open(f"inc-{i}", at, key=f"k{i}")
    nids = [log.notify(f"inc-{i}", at, "ana", "sms", sent_after=None) for i in range(3)]

    def send(i: int, when: datetime) -> None:
        log.add(when, NotificationSent(
            incident_id=f"inc-{i}", notification_id=nids[i], attempt=1, method="sms",
            user_id="ana", bundle_id="b1"))  # fmt: skip

    send(0, at + S)
    send(1, at + timedelta(hours=23))  # the same bundle within the day: not a new interruption
    send(2, at + S + timedelta(seconds=MEMORY + 1))  # a day after its first send: a new one
    led = fold(log.records)
    dup = led.notifications.cols["dup"]
    assert list(dup) == [-1, 1, -1]
    assert led.aggregates.interruptions[led.names.find("ana")] == 2


def test_reopened_within_a_day_of_the_last_resolve_and_not_after() -> None:
    log = Log()
    log.open("inc-1", T0, key="disk").resolve("inc-1", T0 + timedelta(minutes=10))
    log.open("inc-2", T0 + timedelta(hours=20), key="disk")
    log.resolve("inc-2", T0 + timedelta(hours=21))
    log.open("inc-3", T0 + timedelta(days=2), key="disk")
    led = fold(log.records)
    reopen = led.incidents.cols["reopen"]
    assert reopen[1] == timedelta(hours=20, minutes=-10).total_seconds()
    assert reopen[2] != reopen[2]  # NaN: its key resolved more than a day before
    assert len(led.last_resolved) == 1


def test_a_snapshot_written_before_the_ledger_forgot_loads() -> None:
    """A snapshot of a pager before this one: no `t_max`, the bundles as ids
    (`bundles_sent`), the last resolves in the order keys first resolved, and entries a day
    and more old. It loads; its bundles are remembered from its last record on."""
    records = storms(3)
    half = next(i for i, (ev, _) in enumerate(records) if ev.incident_id == "inc-1-0" and
                type(ev).__name__ == "IncidentResolved")  # (storm 1's bundles sent)  # fmt: skip
    new = snapshot_json(fold(records[:half]))
    old = dict(new)
    del old["t_max"]
    old["bundles_sent"] = sorted(b for b, _ in old.pop("bundles_first_sent"))
    old["last_resolved"] = [[1, 99, 1.0], *reversed(old["last_resolved"])]  # and an ancient one
    led = from_snapshot(old, half)
    assert led.t_max == new["t_max"]
    assert set(led.bundles_sent) == {b for b, _ in new["bundles_first_sent"]}
    assert set(led.bundles_sent.values()) == {new["t_max"]}
    assert next(iter(led.last_resolved)) == (1, 99)  # oldest first, so forgotten first
    fold(records[half:], led, start=half + 1)
    assert remembered(led) == ONE_STORM
