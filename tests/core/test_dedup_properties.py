"""Properties of deduplication: whatever order alerts arrive in, pager keeps exactly the
incidents PagerDuty's (and Alertmanager's) semantics say.

Each property compares pager against a reference model written here from the semantics
alone, independently of pager's code:

- PagerDuty events, per dedup key: the open incident or none. A trigger opens one if there is
  none, else counts one more trigger on its alert (an acknowledged incident stays
  acknowledged); acknowledge marks the open incident acknowledged; resolve closes it; both do
  nothing when nothing is open. After a resolve, the next trigger opens a new incident.
- Alertmanager groups, per group key: every notification is the group's whole state, an
  idempotent upsert of its alerts by fingerprint; an alert missing from a notification has
  resolved unless the notification was truncated; the incident resolves once all its alerts
  have; a group seen only resolved opens nothing.

They run twice: on the pure core (`decide`/`evolve`, with a small model of the router's
index of open incidents by key, below), and through the running system (`System.submit` to
the real router and incident actors on the in-memory log), where the events of different
keys are sent concurrently, so the router sees them interleaved any way trio schedules them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.actors.messages import Ingest
from pager.clock import TrioWallClock
from pager.config import Config
from pager.core.commands import (
    Acknowledge,
    AlertObservation,
    Command,
    NewIncident,
    Open,
    ResolveAlert,
    TriggerAlert,
    UpsertGroup,
)
from pager.core.incident import decide, evolve
from pager.core.model import Incident, Status
from pager.core.rules import Context, LevelRules, PolicyRules, ServiceRules, Target
from pager.store.memory import MemoryLog

from ..harness import EPOCH, make_config, running_pager

KEYS = ("a", "b", "c", "d")
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
FINGERPRINTS = ("fp1", "fp2", "fp3", "fp4")

# (action, dedup key, severity) for 1 to 4 keys
pd_events = st.integers(1, 4).flatmap(
    lambda n: st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.sampled_from(KEYS[:n]), st.sampled_from(SEVERITIES)),
        max_size=40,
    )
)

# Alertmanager notifications of one group: ({fingerprint: firing}, truncated)
am_notifications = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from(FINGERPRINTS), st.booleans(), max_size=4),
        st.booleans(),
    ),
    max_size=25,
)


# --------------------------------------------------------------------------- reference models


@dataclass
class RefIncident:
    key: str
    status: str = "triggered"
    triggers: int = 1
    alerts: dict[str, str] = field(default_factory=dict)  # Alertmanager: fingerprint -> status


class PagerDutyReference:
    def __init__(self) -> None:
        self.incidents: list[RefIncident] = []
        self.open: dict[str, RefIncident] = {}

    def event(self, action: str, key: str) -> None:
        inc = self.open.get(key)
        if action == "trigger":
            if inc is None:
                self.open[key] = inc = RefIncident(key)
                self.incidents.append(inc)
            else:
                inc.triggers += 1
        elif inc is None:
            pass  # acknowledge or resolve of nothing open
        elif action == "acknowledge":
            inc.status = "acknowledged"
        else:
            inc.status = "resolved"
            del self.open[key]


class AlertmanagerReference:
    def __init__(self) -> None:
        self.incidents: list[RefIncident] = []
        self.open: RefIncident | None = None

    def notification(self, alerts: dict[str, bool], truncated: bool) -> None:
        inc = self.open
        if inc is None:
            firing = {fp: "firing" for fp, f in alerts.items() if f}
            if firing:
                self.open = RefIncident("group", alerts=firing)
                self.incidents.append(self.open)
            return
        for fp, is_firing in alerts.items():
            if is_firing:
                inc.alerts[fp] = "firing"
            elif fp in inc.alerts:
                inc.alerts[fp] = "resolved"
        if not truncated:
            for fp in inc.alerts:
                if fp not in alerts:
                    inc.alerts[fp] = "resolved"
        if all(s == "resolved" for s in inc.alerts.values()):
            inc.status = "resolved"
            self.open = None


# --------------------------------------------------------------------------- pure core


SERVICE = ServiceRules(
    "checkout",
    policy=PolicyRules(
        "default", (LevelRules((Target("user", "alice"),), timedelta(minutes=5)),), repeat=1
    ),
    ack_timeout=timedelta(minutes=30),
)


class CoreRouter:
    """The router's job, in miniature: the index of open incidents by dedup key, a new
    incident (numbered in order) for an opening command on a key with none open, and the
    index entry dropped once its incident resolves. Events are folded with `evolve`."""

    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.open_by_key: dict[str, str] = {}
        self.seq = 0
        self.tick = 0

    def send(self, key: str, command: Command, *, opens: bool, integration: str) -> list[Any]:
        self.tick += 1
        ctx = Context(service=SERVICE, now=EPOCH + timedelta(seconds=self.tick))
        iid = self.open_by_key.get(key)
        if iid is None:
            if not opens:
                return []
            number = len(self.incidents) + 1
            new = NewIncident(
                incident_id=f"inc-{number}",
                number=number,
                service_id=SERVICE.id,
                dedup_key=key,
                integration=integration,
            )
            assert isinstance(command, TriggerAlert | UpsertGroup)
            events = decide(None, Open(new=new, first=command), ctx)
            if not events:
                return []
            inc = None
            iid = new.incident_id
            self.open_by_key[key] = iid
        else:
            inc = self.incidents[iid]
            events = decide(inc, command, ctx)
        for ev in events:
            self.seq += 1
            inc = evolve(inc, ev, self.seq, ctx.now)
        if inc is not None:
            self.incidents[iid] = inc
            if inc.status is Status.RESOLVED:
                del self.open_by_key[key]
        return events


def pd_command(action: str, key: str, severity: str) -> Command:
    if action == "trigger":
        return TriggerAlert(key=key, summary=f"{key} is down", severity=severity)
    if action == "acknowledge":
        return Acknowledge(via="pagerduty")
    return ResolveAlert(key=key, via="pagerduty")


def assert_pagerduty_matches(incidents: Sequence[Incident], ref: PagerDutyReference) -> None:
    got = [(i.dedup_key, i.status.value) for i in incidents]
    want = [(r.key, r.status) for r in ref.incidents]
    assert got == want
    for inc, r in zip(incidents, ref.incidents, strict=True):
        assert list(inc.alerts) == [r.key]  # one alert per PagerDuty incident: its dedup key
        alert = inc.alerts[r.key]
        assert alert.count == r.triggers
        assert alert.status == ("resolved" if r.status == "resolved" else "firing")


@given(pd_events)
@settings(max_examples=200, deadline=None)
def test_pagerduty_events_in_any_order_leave_the_incidents_pagerduty_says(
    events: list[tuple[str, str, str]],
) -> None:
    core, ref = CoreRouter(), PagerDutyReference()
    for action, key, severity in events:
        core.send(
            key,
            pd_command(action, key, severity),
            opens=action == "trigger",
            integration="pagerduty",
        )
        ref.event(action, key)
        assert set(core.open_by_key) == set(ref.open)
    assert_pagerduty_matches(sorted(core.incidents.values(), key=lambda i: i.number), ref)


def upsert(alerts: dict[str, bool], truncated: bool) -> UpsertGroup:
    return UpsertGroup(
        alerts=tuple(
            AlertObservation(
                key=fp,
                firing=firing,
                summary=f"{fp} is down",
                severity="critical",
                labels={"alertname": "Down", "fp": fp},
            )
            for fp, firing in alerts.items()
        ),
        truncated=truncated,
    )


@given(am_notifications)
@settings(max_examples=200, deadline=None)
def test_alertmanager_notifications_are_idempotent_upserts_of_the_group(
    notifications: list[tuple[dict[str, bool], bool]],
) -> None:
    core, ref = CoreRouter(), AlertmanagerReference()
    for alerts, truncated in notifications:
        core.send("group", upsert(alerts, truncated), opens=True, integration="alertmanager")
        ref.notification(alerts, truncated)
        # the same notification again (Alertmanager's repeat): nothing at all happens
        again = core.send(
            "group", upsert(alerts, truncated), opens=True, integration="alertmanager"
        )
        assert again == []
    incidents = sorted(core.incidents.values(), key=lambda i: i.number)
    assert [i.status.value for i in incidents] == [r.status for r in ref.incidents]
    for inc, r in zip(incidents, ref.incidents, strict=True):
        assert {k: a.status for k, a in inc.alerts.items()} == r.alerts


# --------------------------------------------------------------------------- the running system


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return make_config(Path(tmp_path_factory.mktemp("unused")))  # the log is in memory


@given(pd_events)
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_pagerduty_events_through_router_and_actors_match_the_reference(
    config: Config, events: list[tuple[str, str, str]]
) -> None:
    """Each key's events are sent in order by a task of its own, all keys at once."""
    ref = PagerDutyReference()
    for action, key, _ in events:
        ref.event(action, key)
    per_key: dict[str, list[tuple[str, str, str]]] = {}
    for ev in events:
        per_key.setdefault(ev[1], []).append(ev)

    with trio.fail_after(30):
        async with running_pager(
            config, event_log=MemoryLog(), clock=TrioWallClock(EPOCH), serve_edges=False
        ) as run:

            async def send_all(key_events: list[tuple[str, str, str]]) -> None:
                for action, key, severity in key_events:
                    out = await run.system.submit(
                        Ingest(
                            "checkout",
                            key,
                            "pagerduty",
                            pd_command(action, key, severity),
                            opens=action == "trigger",
                        )
                    )
                    if action == "trigger":
                        assert out.incident is not None and out.incident.dedup_key == key

            async with trio.open_nursery() as nursery:
                for key_events in per_key.values():
                    nursery.start_soon(send_all, key_events)

            incidents = sorted(run.system.state.incidents.values(), key=lambda i: i.number)
            assert [i.number for i in incidents] == list(range(1, len(incidents) + 1))
            # across keys the order is the scheduler's; per key it is the order sent
            for key in KEYS:
                assert_pagerduty_matches(
                    [i for i in incidents if i.dedup_key == key],
                    _only(ref, key),
                )
            assert {k for (_, k) in run.system.state.open_by_key} == set(ref.open)


def _only(ref: PagerDutyReference, key: str) -> PagerDutyReference:
    out = PagerDutyReference()
    out.incidents = [r for r in ref.incidents if r.key == key]
    return out


async def test_concurrent_first_notifications_of_a_group_open_it_once(config: Config) -> None:
    """Two Alertmanagers of an HA pair, or a resolve and a fire racing: a group pager has never
    seen arrives resolved and firing at once. Whatever the order, the firing one opens the
    incident. (Thirty groups: the race goes both ways.)"""

    def group(firing: bool) -> UpsertGroup:
        return upsert({"fp1": firing}, truncated=False)

    errors: list[str] = []
    with trio.fail_after(30):
        async with running_pager(
            config, event_log=MemoryLog(), clock=TrioWallClock(EPOCH), serve_edges=False
        ) as run:

            async def send(key: str, firing: bool) -> None:
                try:
                    await run.system.submit(Ingest("checkout", key, "alertmanager", group(firing)))
                except Exception as e:
                    errors.append(f"{key} firing={firing}: {e!r}")

            keys = [f"group-{i}" for i in range(30)]
            for key in keys:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(send, key, False)
                    nursery.start_soon(send, key, True)
            opened = {i.dedup_key for i in run.system.state.incidents.values()}
    assert errors == []
    assert opened == set(keys)
