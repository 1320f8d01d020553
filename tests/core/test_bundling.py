"""Storm mode's pure parts: when a lane may send its next message (`next_send_at` under the
`after`/`window` rule and the method's throttles), the services of a bundle, and the
bundles read model: folded from `notification.bundled` and `notification.sent` (a bundle
counted once per lane), kept by a snapshot, and absent from an older snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pager.core.bundling import (
    DEFAULT_THROTTLES,
    BundlePolicy,
    Throttle,
    next_send_at,
    services_of,
    topics_of,
)
from pager.core.events import (
    NotificationRequested,
    NotificationsBundled,
    NotificationSent,
    encode,
)
from pager.core.state import SystemState
from pager.store.snapshots import json_default

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)


def test_a_quiet_lane_sends_at_once_then_after_per_window() -> None:
    rules = BundlePolicy().rules("slack")  # 2 per minute, no throttle
    assert next_send_at(rules, [], T0) == T0
    assert next_send_at(rules, [T0], T0 + S) == T0 + S
    # two in the last minute: the next when the older one is a minute old
    assert next_send_at(rules, [T0, T0 + S], T0 + 2 * S) == T0 + M
    assert next_send_at(rules, [T0, T0 + S], T0 + M + 2 * S) == T0 + M + 2 * S


def test_the_default_throttles_for_calls_and_texts() -> None:
    voice = BundlePolicy().rules("voice")
    assert next_send_at(voice, [T0], T0 + S) == T0 + M  # one a minute
    sent = [T0, T0 + 2 * M, T0 + 4 * M]  # three calls in 15 minutes
    assert next_send_at(voice, sent, T0 + 5 * M) == T0 + 15 * M
    sms = BundlePolicy().rules("sms")
    texts = [T0 + i * 2 * M for i in range(5)]  # five texts in 15 minutes
    assert next_send_at(sms, texts, T0 + 9 * M) == T0 + 15 * M
    assert DEFAULT_THROTTLES["voice"][1] == Throttle(3, timedelta(minutes=15))
    assert DEFAULT_THROTTLES["sms"][1] == Throttle(5, timedelta(minutes=15))


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=3600), max_size=40),
    rules=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 7200)), min_size=1, max_size=4),
    wait=st.integers(0, 7200),
)
def test_next_send_at_obeys_every_rule_and_waits_no_longer_than_needed(
    gaps: list[int], rules: list[tuple[int, int]], wait: int
) -> None:
    throttles = [Throttle(c, timedelta(seconds=p)) for c, p in rules]
    sent, t = [], T0
    for g in gaps:
        t += timedelta(seconds=g)
        sent.append(t)
    now = t + timedelta(seconds=wait)
    at = next_send_at(throttles, sent, now)
    assert at >= now

    def allowed(instant: datetime) -> bool:
        return all(sum(1 for x in sent if x > instant - r.per) < r.count for r in throttles)

    assert allowed(at)
    if at > now:  # a moment earlier some rule still held it back
        assert not allowed(at - timedelta(microseconds=1))


def test_services_of_a_bundle_most_first() -> None:
    assert services_of(["Payments", "Checkout", "Checkout", "Search", "Payments", "Checkout"]) == [
        ("Checkout", 3),
        ("Payments", 2),
        ("Search", 1),
    ]


class Rec:
    def __init__(self, seq: int, event: object, at: datetime) -> None:
        self.seq, self.ts, self.event = seq, at, None
        self.type = event.TYPE  # type: ignore[attr-defined]
        self.data = orjson.loads(orjson.dumps(encode(event)))  # type: ignore[arg-type]


def _request(iid: str, nid: str) -> NotificationRequested:
    return NotificationRequested(
        incident_id=iid, notification_id=nid, kind="page", method="sms", user_id="alice",
        address="+15555550100",
    )  # fmt: skip


@pytest.fixture
def state() -> SystemState:
    """inc-1 and inc-2, each paging alice by SMS, the two carried by bundle b7, sent."""
    from pager.core.events import IncidentOpened

    s = SystemState()
    seq = 0

    def apply(ev: object, at: datetime = T0) -> None:
        nonlocal seq
        seq += 1
        s.apply(Rec(seq, ev, at))

    for i in (1, 2):
        apply(
            IncidentOpened(
                incident_id=f"inc-{i}", number=i, short_code=f"AB{i}", service_id="checkout",
                dedup_key=f"k{i}", integration="pagerduty", title="disk full",
                severity="critical", urgency="high",
            )
        )  # fmt: skip
        apply(_request(f"inc-{i}", f"inc-{i}-n1"))
    apply(
        NotificationsBundled(
            bundle_id="b7", user_id="alice", method="sms", address="+15555550100",
            notification_ids=("inc-1-n1", "inc-2-n1"), incident_ids=("inc-1", "inc-2"),
        ),
        T0 + S,
    )  # fmt: skip
    for i in (1, 2):
        apply(
            NotificationSent(
                incident_id=f"inc-{i}", notification_id=f"inc-{i}-n1", attempt=1,
                provider_id="SM1", method="sms", bundle_id="b7", user_id="alice",
            ),
            T0 + 2 * S,
        )  # fmt: skip
    return s


def test_a_bundle_folds_once_per_lane_and_marks_its_pages(state: SystemState) -> None:
    b = state.bundles.by_id["b7"]
    assert b.incident_ids == ("inc-1", "inc-2") and b.provider_id == "SM1"
    assert b.requested_at == T0 + S and b.sent_at == T0 + 2 * S
    assert state.bundles.sent_on("alice", "sms") == [T0 + 2 * S]  # one message, not two
    assert state.bundles.last_number == 7
    assert {state.notifications.by_id[f"inc-{i}-n1"].bundle_id for i in (1, 2)} == {"b7"}
    assert state.notifications.reached("alice") == ["inc-1", "inc-2"]
    timeline = [t.text for t in state.incidents["inc-2"].timeline]
    assert "Notification inc-2-n1 sent (attempt 1) in bundle b7" in timeline
    assert not state.incidents["inc-2"].messages  # a bundle is never edited per incident


def test_bundles_survive_a_snapshot_and_an_older_snapshot_has_none(state: SystemState) -> None:
    raw = orjson.dumps(state.to_snapshot(), option=orjson.OPT_UTC_Z, default=json_default)
    again = SystemState.from_snapshot(orjson.loads(raw))
    assert again.bundles.by_id == state.bundles.by_id
    assert again.bundles.lanes == state.bundles.lanes
    assert again.bundles.by_provider_id == {"SM1": "b7"}
    assert again.notifications.by_id["inc-1-n1"].bundle_id == "b7"
    old = orjson.loads(raw)
    del old["bundles"]
    for n in old["notifications"]:
        del n["bundle_id"]
    older = SystemState.from_snapshot(old)
    assert older.bundles.by_id == {} and older.notifications.by_id["inc-1-n1"].bundle_id is None


def _bundle(bid: str, nid: str) -> NotificationsBundled:
    return NotificationsBundled(
        bundle_id=bid, user_id="alice", method="sms", address="+15555550100",
        notification_ids=(nid,), incident_ids=("inc-1",),
    )  # fmt: skip


def test_bundles_are_forgotten_a_day_on_by_the_instants_in_the_log(state: SystemState) -> None:
    """Forgetting happens in the fold, by the log's own instants: a snapshot and a replay of
    the same records hold the same bundles, whenever the snapshot was written (the wall
    clock's compaction once made them differ, and `replay --verify` said so)."""
    state.apply(Rec(100, _bundle("b8", "n8"), T0 + timedelta(days=1)))
    assert "b7" in state.bundles.by_id  # requested at T0 + S: not a day old yet
    state.apply(Rec(101, _bundle("b9", "n9"), T0 + timedelta(days=1, seconds=2)))
    assert "b7" not in state.bundles.by_id and "SM1" not in state.bundles.by_provider_id
    assert set(state.bundles.by_id) == {"b8", "b9"}
    assert state.bundles.sent_on("alice", "sms") == [T0 + 2 * S]  # what the throttles count
    before = orjson.dumps(state.to_snapshot(), option=orjson.OPT_UTC_Z, default=json_default)
    state.compact(T0 + timedelta(days=30))  # the archiver, much later: bundles untouched
    after = orjson.loads(
        orjson.dumps(state.to_snapshot(), option=orjson.OPT_UTC_Z, default=json_default)
    )
    assert after["bundles"] == orjson.loads(before)["bundles"]


def test_a_snapshot_taken_is_not_changed_by_what_the_state_folds_next(state: SystemState) -> None:
    """The snapshotter serializes in a thread while the state moves on: what `to_snapshot`
    returned must not share anything the fold mutates (a lane's list of send instants once
    did, and `replay --verify` found the snapshot "differs ... (in bundles)")."""
    taken = state.to_snapshot()
    as_taken = orjson.dumps(taken, option=orjson.OPT_UTC_Z, default=json_default)
    state.apply(Rec(100, _bundle("b8", "inc-1-n2"), T0 + 3 * S))
    state.apply(
        Rec(
            101,
            NotificationSent(
                incident_id="inc-1", notification_id="inc-1-n2", attempt=1, provider_id="SM2",
                method="sms", bundle_id="b8", user_id="alice",
            ),
            T0 + 4 * S,
        )
    )  # fmt: skip
    assert state.bundles.sent_on("alice", "sms") == [T0 + 2 * S, T0 + 4 * S]
    assert orjson.dumps(taken, option=orjson.OPT_UTC_Z, default=json_default) == as_taken


# ---------------------------------------------------------------- chat channels' lanes


def test_a_chat_channel_lane_has_only_after_per_window() -> None:
    policy = BundlePolicy()
    assert policy.chat_rules() == (Throttle(2, M),)
    assert policy.rules("slack") == policy.chat_rules()  # no throttle for slack either
    assert len(policy.rules("sms")) > 1


def test_topics_of_a_channel_bundle_in_the_order_of_an_incident() -> None:
    assert topics_of(["resolved", "opened", None, "opened", "acknowledged"]) == [
        ("opened", 2),
        ("acknowledged", 1),
        ("resolved", 1),
    ]


def _status(iid: str, nid: str, topic: str = "opened") -> NotificationRequested:
    return NotificationRequested(
        incident_id=iid, notification_id=nid, kind="status", method="slack",
        address="C0CHECKOUT", topic=topic,
    )  # fmt: skip


def test_a_channel_counts_its_posts_a_bundle_once_and_edits_not(state: SystemState) -> None:
    """Status posts to a chat channel count on its lane (method, address): one alone, a
    bundle once; an edit in place (kind update) is not a new post. A snapshot keeps them,
    and one written before chat lanes loads with none."""
    seq = state.last_seq

    def apply(ev: object, at: datetime) -> None:
        nonlocal seq
        seq += 1
        state.apply(Rec(seq, ev, at))

    apply(_status("inc-1", "inc-1-n2"), T0 + 3 * S)
    apply(
        NotificationSent(
            incident_id="inc-1", notification_id="inc-1-n2", attempt=1,
            provider_id="C0CHECKOUT:1.1", method="slack", editable=True,
        ),
        T0 + 4 * S,
    )  # fmt: skip
    apply(
        NotificationRequested(
            incident_id="inc-1", notification_id="inc-1-n3", kind="update", method="slack",
            previous="C0CHECKOUT:1.1", topic="acknowledged",
        ),
        T0 + 5 * S,
    )  # fmt: skip
    apply(
        NotificationSent(
            incident_id="inc-1", notification_id="inc-1-n3", attempt=1, method="slack"
        ),
        T0 + 6 * S,
    )
    apply(_status("inc-2", "inc-2-n2"), T0 + 7 * S)
    apply(_status("inc-2", "inc-2-n3", "resolved"), T0 + 7 * S)
    apply(
        NotificationsBundled(
            bundle_id="b8", method="slack", address="C0CHECKOUT",
            notification_ids=("inc-2-n2", "inc-2-n3"), incident_ids=("inc-2", "inc-2"),
        ),
        T0 + 8 * S,
    )  # fmt: skip
    for nid in ("inc-2-n2", "inc-2-n3"):
        apply(
            NotificationSent(
                incident_id="inc-2", notification_id=nid, attempt=1,
                provider_id="C0CHECKOUT:1.2", method="slack", bundle_id="b8",
            ),
            T0 + 9 * S,
        )  # fmt: skip
    assert state.bundles.chat_sent_on("slack", "C0CHECKOUT") == [T0 + 4 * S, T0 + 9 * S]
    assert state.bundles.sent_on("alice", "sms") == [T0 + 2 * S]  # a person's lane: apart
    b = state.bundles.by_id["b8"]
    assert b.chat and b.user_id is None and b.incidents == ("inc-2",)
    assert state.incidents["inc-1"].messages == {"inc-1-n2": "C0CHECKOUT:1.1"}  # alone: edited
    assert not state.incidents["inc-2"].messages  # in a bundle: never edited per incident
    raw = orjson.dumps(state.to_snapshot(), option=orjson.OPT_UTC_Z, default=json_default)
    again = SystemState.from_snapshot(orjson.loads(raw))
    assert again.bundles.channels == state.bundles.channels
    assert again.bundles.by_id["b8"] == b
    old = orjson.loads(raw)
    del old["bundles"]["channels"]  # a snapshot written before chat lanes
    assert SystemState.from_snapshot(old).bundles.channels == {}
