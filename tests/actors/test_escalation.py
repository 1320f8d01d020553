"""Escalation on virtual time: a three-level policy with repeat walked end to end, stopped by
an acknowledgement at each level, re-triggered by the ack timeout and by a snooze's end,
resumed exactly after a restart; personal notification rules at their delays, once per step
for a person two levels name, and the next contact method at once when one fails for good.

trio's MockClock (autojump) with the in-memory log; nothing here waits in real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from pager.actors.messages import Act, Ingest
from pager.clock import TrioWallClock
from pager.config import load_config_text
from pager.core.commands import Acknowledge, Fallback, Snooze, TriggerAlert
from pager.core.model import Status
from pager.store.memory import MemoryLog

from ..harness import running_pager

EPOCH = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday 03:00 UTC
VIRTUAL_DEADLINE = 30 * 24 * 3600

CONFIG = """
data_dir: {data}
users:
  - id: ann
    contacts: {{sms: "+15555550101", voice: "+15555550101", email: ann@example.com}}
    notification_rules:
      - {{after: 0m, via: console}}
      - {{after: 1m, via: {second}}}
      - {{after: 3m, via: {third}}}
      - {{after: 15m, via: console}}
  - id: ben
    notification_rules: [{{after: 0m, via: console}}]
  - id: cat
    notification_rules: [{{after: 0m, via: console}}]
escalation_policies:
  - id: three
    repeat: 1
    levels:
      - targets: [{{user: ann}}]
        escalate_after: 10m
      - targets: [{{user: ben}}, {{user: ann}}]
        escalate_after: 20m
      - targets: [{{user: cat}}]
        escalate_after: 30m
services:
  - id: web
    escalation_policy: three
    ack_timeout: 1h
    integrations: [{{type: generic, key: k}}]
channels:
  console: {{}}
"""


@pytest.fixture
def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """ann's three rules all print on the console, which always delivers."""
    return load_config_text(
        CONFIG.format(data=tmp_path / "unused", second="console", third="console")
    )


@pytest.fixture
def config_sms(tmp_path: Path):  # type: ignore[no-untyped-def]
    """ann's second rule is sms, third voice; no Twilio channel is configured."""
    return load_config_text(CONFIG.format(data=tmp_path / "unused", second="sms", third="voice"))


def trigger(key: str = "a") -> Ingest:
    return Ingest(
        "web", key, "generic", TriggerAlert(key=key, summary="site down", severity="critical")
    )


def timeline(log: MemoryLog, incident_id: str, *types: str) -> list[tuple[float, str, dict]]:  # type: ignore[type-arg]
    """(minutes since EPOCH, type, data) of the incident's records of these types."""
    return [
        ((r.ts - EPOCH).total_seconds() / 60, r.type, r.data)
        for r in log.read_from(1)
        if r.subject == incident_id and r.type in types
    ]


def levels(log: MemoryLog, iid: str = "inc-1") -> list[tuple[float, int, int]]:
    return [
        (m, d["level"] + 1, d["round"] + 1) for m, _, d in timeline(log, iid, "incident.escalated")
    ]


def notified(log: MemoryLog, iid: str = "inc-1") -> list[tuple[float, str, str]]:
    return [
        (m, d["user_id"], d["method"])
        for m, _, d in timeline(log, iid, "notification.requested")
        if d["kind"] == "page"
    ]


def start(config, log: MemoryLog, clock: TrioWallClock):  # type: ignore[no-untyped-def]
    return running_pager(config, event_log=log, clock=clock, serve_edges=False)


async def test_three_levels_with_repeat_walked_end_to_end(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log, clock = MemoryLog(), TrioWallClock(EPOCH)
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log, clock) as run:
            await run.system.submit(trigger())
            await trio.sleep(6 * 3600)
            assert levels(log) == [
                (0, 1, 1), (10, 2, 1), (30, 3, 1),  # round 1
                (60, 1, 2), (70, 2, 2), (90, 3, 2),  # round 2 (repeat: 1), then exhausted
            ]  # fmt: skip
            # ann's rules run from each page (0, 1, 3, 15 minutes); level 2 names her again
            # at 10m while her page is still running, so she is not paged twice: each step
            # notifies her once. The second walk (repeat) restarts her rules.
            assert [n[0] for n in notified(log) if n[1] == "ann"] == [0, 1, 3, 15, 60, 61, 63, 75]
            assert [n for n in notified(log) if n[1] != "ann"] == [
                (10, "ben", "console"), (30, "cat", "console"),
                (70, "ben", "console"), (90, "cat", "console"),
            ]  # fmt: skip


@pytest.mark.parametrize(("ack_at", "expected"), [(5, [1]), (15, [1, 2]), (45, [1, 2, 3])])
async def test_acknowledge_at_each_level_stops_escalation_and_pages(
    config, autojump_clock: trio.testing.MockClock, ack_at: int, expected: list[int]
) -> None:
    log, clock = MemoryLog(), TrioWallClock(EPOCH)
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log, clock) as run:
            await run.system.submit(trigger())
            await trio.sleep(ack_at * 60)
            await run.system.submit(Act("inc-1", Acknowledge(by="ann", via="api")))
            sent_before = len(notified(log))
            await trio.sleep(59 * 60)  # less than the 1h ack timeout
            assert [lv for _, lv, _ in levels(log)] == expected
            assert len(notified(log)) == sent_before  # no further personal notifications either


async def test_ack_timeout_and_snooze_end_retrigger_from_level_one(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log, clock = MemoryLog(), TrioWallClock(EPOCH)
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log, clock) as run:
            s = run.system
            await s.submit(trigger())
            await trio.sleep(12 * 60)  # at level 2
            await s.submit(Act("inc-1", Acknowledge(by="ben")))
            await trio.sleep(60 * 60 + 1)  # the ack timed out at 72m
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED
            assert levels(log)[-1] == (72, 1, 1)
            await s.submit(Act("inc-1", Snooze(duration=timedelta(hours=2), by="ann")))
            await trio.sleep(2 * 3600 + 1)
            snooze_end = (72 * 60 + 1 + 2 * 3600) / 60  # snoozed 1 s after 72m, for 2h
            assert levels(log)[-1] == (snooze_end, 1, 1)
            unacks = timeline(log, "inc-1", "incident.unacknowledged")
            assert [(m, d["reason"]) for m, _, d in unacks] == [
                (72, "acknowledgement timed out"), (snooze_end, "snooze ended"),
            ]  # fmt: skip


async def test_restart_in_the_middle_resumes_without_repeating_or_skipping(
    config, autojump_clock: trio.testing.MockClock
) -> None:
    log, clock = MemoryLog(), TrioWallClock(EPOCH)
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config, log, clock) as run:
            await run.system.submit(trigger())
            await trio.sleep(25 * 60)  # level 2 since 10m; level 3 due at 30m
        # down from 25m to 27m: nothing is due meanwhile
        await trio.sleep(2 * 60)
        async with start(config, log, clock) as run:
            await trio.sleep(60 * 60)
        assert levels(log) == [(0, 1, 1), (10, 2, 1), (30, 3, 1), (60, 1, 2), (70, 2, 2)]
        # down across a deadline: level 3 of round 2 (due at 90m) fires once, at restart
        await trio.sleep(40 * 60)  # now 127m
        async with start(config, log, clock) as run:
            await trio.sleep(1)
            assert levels(log)[-1] == (127, 3, 2)
            await trio.sleep(3 * 3600)
        assert levels(log) == [
            (0, 1, 1),
            (10, 2, 1),
            (30, 3, 1),
            (60, 1, 2),
            (70, 2, 2),
            (127, 3, 2),
        ]


async def test_a_contact_method_that_fails_for_good_moves_to_the_next_at_once(
    config_sms, autojump_clock: trio.testing.MockClock
) -> None:
    """ann's sms has no channel configured here (channels.twilio is absent): it fails for
    good at 1m, so her voice rule (due at 3m) is requested at once instead; voice fails the
    same way, so her last rule (console, due at 15m) goes out at 1m too."""
    log, clock = MemoryLog(), TrioWallClock(EPOCH)
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with start(config_sms, log, clock) as run:
            await run.system.submit(trigger())
            await trio.sleep(2 * 60)
            ann = [(m, meth) for m, u, meth in notified(log) if u == "ann"]
            assert ann == [(0, "console"), (1, "sms"), (1, "voice"), (1, "console")]
            failed = timeline(log, "inc-1", "notification.failed")
            assert failed and failed[0][2]["permanent"] is True
            assert "no sms channel" in failed[0][2]["error"]
            # a fallback for a person with nothing left changes nothing
            out = await run.system.submit(
                Act("inc-1", Fallback(user_id="ann", notification_id="x"))
            )
            assert not out.changed
