"""The heartbeat decisions as pure functions (healthchecks.io's states new, up, late,
down) and their place in the state: folded from the log and kept by a snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from pager.core.events import HeartbeatCreated
from pager.core.heartbeat import (
    HeartbeatSpec,
    HeartbeatStatus,
    IncidentAction,
    evolve_beat,
    expire,
    ping,
    rearm,
    status_of,
)
from pager.core.state import SystemState

T0 = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
SPEC = HeartbeatSpec("nightly", "checkout", timedelta(minutes=10), timedelta(minutes=2))


def test_states_follow_the_deadlines_of_the_last_ping() -> None:
    assert status_of(None, T0) is HeartbeatStatus.NEW
    assert expire(None, "nightly", T0 + timedelta(days=9)) == ([], IncidentAction.NONE)
    events, action = ping(SPEC, None, T0)
    assert action is IncidentAction.NONE
    beat = evolve_beat(None, events[0], T0)
    m = timedelta(minutes=1)
    assert status_of(beat, T0 + 9 * m) is HeartbeatStatus.UP
    assert status_of(beat, T0 + 10 * m) is HeartbeatStatus.LATE
    assert status_of(beat, T0 + 12 * m) is HeartbeatStatus.DOWN
    assert expire(beat, "nightly", T0 + 12 * m - timedelta(seconds=1))[0] == []
    events, action = expire(beat, "nightly", T0 + 12 * m)
    assert action is IncidentAction.OPEN
    down = evolve_beat(beat, events[0], T0 + 12 * m)
    assert down is not None and down.down
    assert expire(down, "nightly", T0 + 60 * m)[0] == []  # once
    assert rearm(SPEC, down, T0 + 60 * m) == []  # down stays down over a restart
    assert ping(SPEC, down, T0 + 61 * m)[1] is IncidentAction.RESOLVE
    (moved,) = rearm(SPEC, beat, T0 + 60 * m)
    assert evolve_beat(beat, moved, T0 + 60 * m) == beat.__class__(T0, T0 + 70 * m, T0 + 72 * m)
    assert rearm(SPEC, beat, T0 + 11 * m) == []  # a deadline still ahead is kept


def test_state_folds_heartbeats_and_a_snapshot_keeps_them() -> None:
    s = SystemState()
    created = HeartbeatCreated(name="backup", service_id="payments", interval=3600, grace=60)
    s.apply_event(created, 1, T0)
    (pinged,), _ = ping(SPEC, None, T0)
    s.apply_event(pinged, 2, T0)
    data = orjson.loads(orjson.dumps(s.to_snapshot(), option=orjson.OPT_UTC_Z))
    back = SystemState.from_snapshot(data)
    assert back.beats == s.beats and back.api_heartbeats == s.api_heartbeats
    assert back.api_heartbeats["backup"].interval == timedelta(hours=1)
    del data["beats"], data["api_heartbeats"]  # a snapshot written before heartbeats
    assert SystemState.from_snapshot(data).beats == {}
