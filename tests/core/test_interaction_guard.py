"""The read model's memory of provider requests acted on (`interaction.received`): folded
from the log, kept by a snapshot until they expire, and loaded from a snapshot written
before it existed (none remembered)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from pager.core.events import InteractionReceived, decode, encode
from pager.core.state import SystemState
from pager.store.snapshots import json_default

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


class Rec:
    def __init__(self, seq: int, event: InteractionReceived) -> None:
        self.seq, self.ts, self.event = seq, T0, None
        self.type = event.TYPE
        self.data = orjson.loads(orjson.dumps(encode(event)))


def test_requests_seen_fold_survive_a_snapshot_and_expire() -> None:
    state = SystemState()
    events = [
        InteractionReceived(
            provider="slack", request_id="v0=abc", expires_at=T0 + timedelta(minutes=10)
        ),
        InteractionReceived(
            provider="twilio", request_id="SM1", expires_at=T0 + timedelta(days=30)
        ),
    ]
    for i, ev in enumerate(events, 1):
        rec = Rec(i, ev)
        assert decode(rec.type, rec.data) == ev
        state.apply(rec)
    assert state.request_seen("slack:v0=abc", T0)
    assert state.request_seen("twilio:SM1", T0)
    assert not state.request_seen("twilio:SM2", T0)
    assert not state.request_seen("slack:SM1", T0)  # per provider
    assert not state.request_seen("slack:v0=abc", T0 + timedelta(minutes=11))
    raw = orjson.dumps(state.to_snapshot(), option=orjson.OPT_UTC_Z, default=json_default)
    again = SystemState.from_snapshot(orjson.loads(raw))
    assert again.request_seen("slack:v0=abc", T0) and again.request_seen("twilio:SM1", T0)
    state.compact(T0 + timedelta(days=1))
    assert "slack:v0=abc" not in state.seen_requests and state.request_seen("twilio:SM1", T0)


def test_a_snapshot_from_before_the_guards_loads_with_none() -> None:
    data = SystemState().to_snapshot()
    del data["seen_requests"]
    raw = orjson.dumps(data, option=orjson.OPT_UTC_Z, default=json_default)
    assert SystemState.from_snapshot(orjson.loads(raw)).seen_requests == {}
