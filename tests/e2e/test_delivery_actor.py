"""The delivery actor's rules, driven through the whole system on trio's MockClock with a
scripted transport (it answers what each test tells it to, and notes when it was asked):
backoff that grows with jitter inside its bounds, Retry-After as a floor, a permanent error
moving to the person's next contact method at once, the circuit breaker holding attempts
for its cooldown, pages for acknowledged incidents cancelled, a person's lane woken by a new
page only when it can go sooner, and an intent without an
outcome sent after a restart over the same log."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import trio

from pager.actors.messages import Act, Ingest
from pager.clock import TrioWallClock
from pager.core.commands import Acknowledge, Resolve, TriggerAlert
from pager.core.events import NotificationSent
from pager.service import Running
from pager.store.memory import MemoryLog
from pager.transports.base import (
    DeliveryError,
    Message,
    ProviderRejected,
    ProviderUnreachable,
    Sent,
    Transport,
)
from pager.transports.registry import MissingTransport
from pager.web.api_notifications import notification_json, open_breakers

from ..harness import EPOCH
from ..standins.scene import delivery_config, running

VIRTUAL_DEADLINE = 24 * 3600
NOW = 1e-6


class Scripted(Transport):
    """Answers from `script` (an exception is raised, `None` hangs, anything else is
    returned), then `Sent`; `calls` notes (trio time, message) of every attempt."""

    default_rate = None

    def __init__(self, method: str, *script: DeliveryError | Sent | None) -> None:
        self.method = method
        self.script: deque[DeliveryError | Sent | None] = deque(script)
        self.calls: list[tuple[float, Message]] = []

    async def send(self, message: Message) -> Sent:
        self.calls.append((trio.current_time(), message))
        outcome = self.script.popleft() if self.script else Sent(f"id-{len(self.calls)}")
        if outcome is None:
            await trio.sleep_forever()
        if isinstance(outcome, DeliveryError):
            raise outcome
        assert isinstance(outcome, Sent)
        return outcome

    def times(self, since: float) -> list[float]:
        return [t - since for t, _ in self.calls]


def transports(*scripted: Scripted) -> dict[str, Transport]:
    out: dict[str, Transport] = {m: MissingTransport(m) for m in ("sms", "voice", "email")}
    out.update({s.method: s for s in scripted})
    return out


@asynccontextmanager
async def pager(
    *scripted: Scripted,
    log: MemoryLog | None = None,
    clock: TrioWallClock | None = None,
    policy: str = "",
    extra: str = "",
) -> AsyncIterator[Running]:
    config = delivery_config(policy=policy, extra=extra)
    async with running(
        config,
        event_log=log or MemoryLog(),
        clock=clock or TrioWallClock(EPOCH),
        transports=transports(*scripted),
    ) as run:
        yield run


async def trigger(run: Running, key: str = "disk") -> str:
    out = await run.system.submit(
        Ingest(
            "checkout",
            key,
            "pagerduty",
            TriggerAlert(key=key, summary=f"{key} broken", severity="critical"),
        )
    )
    assert out.incident is not None
    return out.incident.id


async def test_backoff_grows_with_jitter_within_its_bounds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    slack = Scripted("slack", *[ProviderUnreachable("down")] * 4)
    with trio.fail_after(VIRTUAL_DEADLINE):
        # (after 3 failed attempts alice's other methods would be tried: not here)
        async with pager(slack, policy="    unreachable_after_attempts: 10\n") as run:
            t0 = trio.current_time()
            await trigger(run)
            await trio.sleep(60)
    times = slack.times(t0)
    assert len(times) == 5
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # RetryPolicy: base 2 s doubling; the wait after attempt n is drawn from [c/2, c)
    for n, gap in enumerate(gaps, start=1):
        ceiling = 2.0 * 2 ** (n - 1)
        assert ceiling / 2 <= gap < ceiling
    assert gaps == sorted(gaps)
    assert any(gap > (2.0 * 2 ** (n - 1)) / 2 + 1e-3 for n, gap in enumerate(gaps, 1))  # jitter
    n = run.system.state.notifications.by_id["inc-1-n1"]
    assert (n.status, n.attempts) == ("sent", 5)
    assert [a.outcome for a in n.history] == ["failed"] * 4 + ["sent"]


async def test_retry_after_is_a_floor(autojump_clock: trio.testing.MockClock) -> None:
    slack = Scripted("slack", ProviderRejected("slow down", retry_after=42.0))
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack) as run:
            t0 = trio.current_time()
            await trigger(run)
            await trio.sleep(60)
            assert run.system.state.notifications.by_id["inc-1-n1"].status == "sent"
    assert slack.times(t0) == [pytest.approx(0, abs=NOW), pytest.approx(42, abs=NOW)]


async def test_permanent_failure_tries_the_next_contact_method_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    slack = Scripted("slack", ProviderRejected("channel_not_found", permanent=True))
    sms = Scripted("sms")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack, sms) as run:
            t0 = trio.current_time()
            await trigger(run)
            await trio.sleep(3 * 60)
            ns = run.system.state.notifications.for_incident("inc-1")
    assert slack.times(t0) == [pytest.approx(0, abs=NOW)]  # never retried
    assert sms.times(t0) == [pytest.approx(0, abs=NOW)]  # at once, not at 1 minute; once
    assert [(n.method, n.status) for n in ns] == [("slack", "failed"), ("sms", "sent")]


def circuit_gauge(run: Running) -> dict[str, float]:
    from pager.web.ops import _StateCollector

    family = next(
        f
        for f in _StateCollector(run.system, run.actors).collect()
        if f.name == "pager_delivery_circuit_open"
    )
    return {s.labels["method"]: s.value for s in family.samples}


async def test_circuit_breaker_opens_after_five_failures_and_holds_attempts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # five incidents, each paging alice by Slack at once: five failures in a row (one
    # message each: bundling would make one message of pages due together)
    slack = Scripted("slack", *[ProviderUnreachable("down")] * 5)
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack, extra="bundling: {after: 100}\n") as run:
            t0 = trio.current_time()
            for i in range(5):
                await trigger(run, f"k{i}")
            await trio.sleep(10)
            assert len(slack.calls) == 5  # the retries (due after 1-2 s) are held...
            await trigger(run, "late")  # ...and so is a new notification
            await trio.sleep(10)
            assert len(slack.calls) == 5
            # the API and /metrics show the breaker open, and no retry time already past
            breakers = open_breakers(run.actors.dispatcher)
            now = run.system.clock.now()
            assert set(breakers) == {"slack"} and breakers["slack"] > now
            held = [
                notification_json(n, breakers)
                for n in run.system.state.notifications.by_id.values()
            ]
            assert len(held) == 6
            assert all(h["retry_at"] >= breakers["slack"] for h in held)
            assert all(h["circuit_open_until"] == breakers["slack"] for h in held)
            assert circuit_gauge(run) == {"slack": 1.0, "sms": 0.0, "voice": 0.0, "email": 0.0}
            await trio.sleep(60)
            assert open_breakers(run.actors.dispatcher) == {}
            assert circuit_gauge(run)["slack"] == 0.0
            sent = run.system.state.notifications.pending.get("slack", {})
            assert not sent
    times = slack.times(t0)
    assert times[:5] == [pytest.approx(0, abs=NOW)] * 5
    # the breaker opened at the fifth failure (t=0) for 30 s; then everything went at once
    assert times[5:] == [pytest.approx(30, abs=NOW)] * 6


async def test_page_for_an_acknowledged_incident_is_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    slack = Scripted(
        "slack", ProviderUnreachable("down"), ProviderRejected("later", retry_after=120)
    )
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack) as run:
            await trigger(run)
            await trio.sleep(30)  # attempt 2 failed; the next one is due at about 2 minutes
            await run.system.submit(Act("inc-1", Acknowledge(by="alice")))
            await trio.sleep(10 * 60)
            n = run.system.state.notifications.by_id["inc-1-n1"]
    assert len(slack.calls) == 2
    assert n.status == "cancelled"
    assert [a.outcome for a in n.history] == ["failed", "failed", "cancelled"]
    assert n.history[-1].detail == "the incident is acknowledged"
    assert n.history[-1].at == EPOCH + timedelta(seconds=30)  # when acknowledged, not at 2 min


async def test_a_page_held_back_by_the_bundling_window_is_cancelled_when_resolved(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Storm mode: two pages go out alone, the third waits for the window (a minute). Its
    incident is resolved meanwhile: the page is cancelled then, not when the window ends
    (it read `pending` for most of a minute after), and never sent."""
    slack = Scripted("slack")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack) as run:
            t0 = trio.current_time()
            for key in ("disk", "cpu"):
                await trigger(run, key)
            await trio.sleep(1)
            held = await trigger(run, "mem")
            await trio.sleep(4)
            ns = run.system.state.notifications
            assert ns.by_id[f"{held}-n1"].status == "pending"  # held back by the window
            await run.system.submit(Act(held, Resolve(by="alice")))
            await trio.sleep(0.1)
            n = ns.by_id[f"{held}-n1"]
            shown = notification_json(n, {})
            assert shown["status"] == "cancelled", shown
            assert shown["history"][-1]["detail"] == "the incident is resolved"
            assert n.history[-1].at == EPOCH + timedelta(seconds=5)
            inc = run.system.state.incidents[held]
            assert (
                inc.timeline[-1].text
                == f"Notification {held}-n1 not sent: the incident is resolved"
            )
            await trio.sleep(5 * 60)
    assert [m.notification_id for _, m in slack.calls if m.user_id == "alice"] == [
        "inc-1-n1",
        "inc-2-n1",
    ]
    assert slack.times(t0) == [pytest.approx(0, abs=NOW)] * 2


async def test_an_intent_without_outcome_is_sent_after_a_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = MemoryLog()
    clock = TrioWallClock(EPOCH)
    hanging = Scripted("slack", None)  # the provider never answers before pager stops
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(hanging, log=log, clock=clock) as run:
            await trigger(run)
            await trio.sleep(5)  # inside the 10 s timeout: still waiting when pager stops
            assert run.system.state.notifications.by_id["inc-1-n1"].status == "pending"
        assert not any(r.type == NotificationSent.TYPE for r in log.read_from(1))
        await trio.sleep(3600)
        working = Scripted("slack")
        async with pager(working, log=log, clock=clock) as run:
            await trio.sleep(1)
            n = run.system.state.notifications.by_id["inc-1-n1"]
            assert (n.status, n.attempts) == ("sent", 1)
    # alice's page went once, right after the restart (bob's page is the escalation that
    # fell due while pager was down)
    assert [m.user_id for _, m in working.calls if m.notification_id == "inc-1-n1"] == ["alice"]
    assert {m.user_id for _, m in working.calls} == {"alice", "bob"}


async def test_a_new_page_does_not_wait_for_another_pages_retry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # alice's lane waits 42 s to retry her first page; a second incident's page is due at
    # once, so it wakes the lane and goes out then
    slack = Scripted("slack", ProviderRejected("slow down", retry_after=42.0))
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack) as run:
            t0 = trio.current_time()
            await trigger(run, "disk")
            await trio.sleep(5)
            await trigger(run, "cpu")
            await trio.sleep(60)
            ns = run.system.state.notifications
            assert ns.by_id["inc-1-n1"].status == ns.by_id["inc-2-n1"].status == "sent"
    assert slack.times(t0) == [
        pytest.approx(0, abs=NOW),
        pytest.approx(5, abs=NOW),
        pytest.approx(42, abs=NOW),
    ]
    assert [m.notification_id for _, m in slack.calls] == ["inc-1-n1", "inc-2-n1", "inc-1-n1"]


async def test_pages_held_back_by_the_bundling_window_do_not_wake_their_lane(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 incidents in 20 s page alice by Slack: 2 messages alone, then a bundle a minute.
    # While her lane waits for the window, a new page changes nothing, so it does not make
    # the lane look at all her pages again (each look costs all of them: in a storm, waking
    # it for every page would cost the square of the pages)
    slack = Scripted("slack")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack) as run:
            actor = run.actors.dispatcher.actors["slack"]
            looks = 0
            pages_of = actor._pages_of

            def counted(user_id: str) -> Any:
                nonlocal looks
                looks += 1
                return pages_of(user_id)

            monkeypatch.setattr(actor, "_pages_of", counted)
            for i in range(200):
                await trigger(run, f"k{i}")
                await trio.sleep(0.1)
            await trio.sleep(5 * 60)
            alice = [
                n
                for n in run.system.state.notifications.by_id.values()
                if n.user_id == "alice" and n.method == "slack"
            ]
    assert len(alice) == 200 and all(n.status == "sent" for n in alice)
    assert len(slack.calls) <= 5
    assert looks <= 3 * len(slack.calls) + 2


async def test_resolving_held_pages_one_by_one_costs_each_only_its_own_pages(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 60 incidents page alice by Slack at once: 2 go alone, 58 wait for the window. 50 of
    # them are resolved one by one within it (as Alertmanager resolves a storm over many
    # requests): each held page is cancelled then, in one append per incident, and her lane
    # looks at none of its other pages for that (a look at all of them per resolve costs
    # the square of the storm). The rest go out in one bundle when the window ends.
    slack = Scripted("slack")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack) as run:
            actor = run.actors.dispatcher.actors["slack"]
            ids = [await trigger(run, f"k{i}") for i in range(60)]
            await trio.sleep(1)
            ns = run.system.state.notifications
            held = [i for i in ids if ns.by_id[f"{i}-n1"].status == "pending"]
            assert held == ids[2:]
            looked = 0
            pages_of = actor._pages_of

            def counted(lane: Any) -> Any:
                nonlocal looked
                pages = pages_of(lane)
                looked += len(pages)
                return pages

            cancels: list[int] = []  # pages cancelled per append
            record = actor._record

            async def noted(*events: Any) -> bool:
                if events and events[0].TYPE == "notification.cancelled":
                    cancels.append(len(events))
                return await record(*events)

            monkeypatch.setattr(actor, "_pages_of", counted)
            monkeypatch.setattr(actor, "_record", noted)
            resolved, kept = held[:50], held[50:]
            for k, iid in enumerate(resolved):
                await run.system.submit(Act(iid, Resolve(by="alice")))
                await trio.sleep(0.1)
                n = ns.by_id[f"{iid}-n1"]
                assert n.status == "cancelled"
                assert n.history[-1].detail == "the incident is resolved"
                assert n.history[-1].at == EPOCH + timedelta(seconds=1 + 0.1 * k)
            assert looked == 0
            assert cancels == [1] * 50
            assert all(ns.by_id[f"{i}-n1"].status == "pending" for i in kept)
            await trio.sleep(2 * 60)
            assert all(ns.by_id[f"{i}-n1"].status == "sent" for i in kept)
    alice = [m for _, m in slack.calls if m.user_id == "alice"]
    assert len(alice) == 3
    assert alice[2].bundle is not None
    assert [i.incident.id for i in alice[2].bundle.items] == kept


async def test_pages_settled_before_their_lane_runs_are_cancelled_in_one_append(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # incidents acknowledged and resolved together (no turn of the lane in between): their
    # held pages are cancelled in one append, each with its own incident's reason
    slack = Scripted("slack")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with pager(slack) as run:
            actor = run.actors.dispatcher.actors["slack"]
            ids = [await trigger(run, f"k{i}") for i in range(8)]
            await trio.sleep(1)
            cancels: list[int] = []
            record = actor._record

            async def noted(*events: Any) -> bool:
                if events and events[0].TYPE == "notification.cancelled":
                    cancels.append(len(events))
                return await record(*events)

            monkeypatch.setattr(actor, "_record", noted)
            acked, resolved = ids[2:5], ids[5:7]
            async with trio.open_nursery() as nursery:
                for iid in acked:
                    nursery.start_soon(run.system.submit, Act(iid, Acknowledge(by="alice")))
                for iid in resolved:
                    nursery.start_soon(run.system.submit, Act(iid, Resolve(by="alice")))
            await trio.sleep(0.1)
            ns = run.system.state.notifications
            reasons = {i: ns.by_id[f"{i}-n1"].history[-1].detail for i in acked + resolved}
            assert reasons == {
                **{i: "the incident is acknowledged" for i in acked},
                **{i: "the incident is resolved" for i in resolved},
            }
            assert sum(cancels) == 5 and len(cancels) < 5
            assert ns.by_id[f"{ids[7]}-n1"].status == "pending"
