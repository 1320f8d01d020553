"""Providers failing, on trio's MockClock with the stand-ins in-process: 500s, 429 with
Retry-After, timeouts, refused and dropped connections, Slack's `ok: false` (transient and
permanent), Twilio's error codes. Each is retried or failed over as designed, journaled,
and visible in the notification's history and the incident's timeline; the escalation
keeps its schedule whatever the providers do.

alice's rules: Slack now, SMS after 1 minute, a call after 5; bob is paged at 10 minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import trio

from pager.actors.messages import Act, Ingest
from pager.clock import TrioWallClock
from pager.core.commands import Acknowledge, TriggerAlert
from pager.core.events import IncidentEscalated, PersonUnreachable
from pager.core.views import incident_json
from pager.service import Running
from pager.store.memory import MemoryLog
from pager.transports.registry import build_transports

from ..harness import EPOCH
from ..standins.asgi import Fault
from ..standins.scene import Providers, delivery_config, running
from ..standins.slack import ratelimited, slack_error
from ..standins.twilio import twilio_error

VIRTUAL_DEADLINE = 24 * 3600
NOW = 1e-6


@asynccontextmanager
async def paged(
    providers: Providers, log: MemoryLog | None = None, policy: str = ""
) -> AsyncIterator[Running]:
    """pager with the stand-ins; alice paged for inc-1 at virtual time 0 of the test."""
    config = delivery_config(policy=policy)
    transports = build_transports(config, http=providers.http)
    async with running(
        config, event_log=log or MemoryLog(), clock=TrioWallClock(EPOCH), transports=transports
    ) as run:
        await run.system.submit(
            Ingest(
                "checkout",
                "disk",
                "pagerduty",
                TriggerAlert(key="disk", summary="db-1 disk full", severity="critical"),
            )
        )
        yield run


def history(run: Running, method: str) -> list[str]:
    ns = [n for n in run.system.state.notifications.for_incident("inc-1") if n.method == method]
    return [a.outcome for n in ns for a in n.history]


def timeline(run: Running) -> list[str]:
    return [t.text for t in run.system.state.incidents["inc-1"].timeline]


RETRIED = [
    pytest.param(Fault(status=500, body="oops"), "answered 500", id="500"),
    pytest.param(ratelimited(7), "answered 429", id="429"),
    pytest.param(Fault(delay=60), "no answer", id="timeout"),
    pytest.param(Fault(refuse=True), "cannot connect", id="refused"),
    pytest.param(Fault(drop=True), "RemoteProtocolError", id="dropped"),
    pytest.param(slack_error("internal_error"), "internal_error", id="ok-false-transient"),
]


@pytest.mark.parametrize(("fault", "error"), RETRIED)
async def test_a_slack_failure_that_can_pass_is_retried_and_recorded(
    fault: Fault, error: str, autojump_clock: trio.testing.MockClock
) -> None:
    providers = Providers()
    providers.slack.fail(fault)
    with trio.fail_after(VIRTUAL_DEADLINE):
        t0 = trio.current_time()
        async with paged(providers) as run:
            await trio.sleep(90)
            assert history(run, "slack") == ["failed", "sent"]
            (n,) = [
                n
                for n in run.system.state.notifications.for_incident("inc-1")
                if n.method == "slack"
            ]
            assert error in (n.history[0].detail or "")
            assert n.provider_id == f"D0ALICE:{providers.slack.messages[0].ts}"
            texts = timeline(run)
            assert any("failed (attempt 1)" in t and "retrying at" in t for t in texts)
            assert any(f"{n.id} sent (attempt 2)" in t for t in texts)
            # the retry waited: backoff (1-2 s), the 429's Retry-After (7 s), the timeout (10 s)
            first, second = providers.slack.requests[0].at, providers.slack.requests[1].at
            floor = {"429": 7.0, "timeout": 10.0 + 1.0}.get(_id(fault), 1.0)
            assert floor <= second - first
            # the SMS still went at its own time, 1 minute after the page
            assert providers.twilio.sms[0].at - t0 == pytest.approx(60, abs=NOW)


def _id(fault: Fault) -> str:
    if fault.status == 429:
        return "429"
    return "timeout" if fault.delay else ""


@pytest.mark.parametrize(
    "error", ["channel_not_found", "invalid_auth", "account_inactive", "token_revoked"]
)
async def test_a_permanent_slack_error_moves_to_the_next_method_at_once(
    error: str, autojump_clock: trio.testing.MockClock
) -> None:
    providers = Providers()
    providers.slack.fail(slack_error(error))
    with trio.fail_after(VIRTUAL_DEADLINE):
        t0 = trio.current_time()
        async with paged(providers) as run:
            await trio.sleep(2 * 60)
            assert history(run, "slack") == ["failed"]
            assert len(providers.slack.requests) == 1  # not retried
            # the SMS went at once instead of at 1 minute, and only once
            assert [s.at - t0 for s in providers.twilio.sms] == [pytest.approx(0, abs=NOW)]
            texts = timeline(run)
            assert any(error in t and "giving up" in t for t in texts)
            assert any(
                "Notifying alice by sms (instead of inc-1-n1, which failed)" in t for t in texts
            )
            await trio.sleep(4 * 60)  # the call keeps its own time
            assert providers.twilio.calls[0].at - t0 == pytest.approx(300, abs=NOW)


@pytest.mark.parametrize(
    ("fault", "permanent"),
    [
        (twilio_error(400, 21211, "The 'To' number is not a valid phone number."), True),
        (twilio_error(400, 21614, "not a mobile number"), True),
        (twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), True),
        (twilio_error(401, 20003, "Authenticate"), True),
        (twilio_error(429, 20429, "Too Many Requests", retry_after=20), False),
        (twilio_error(500, 20500, "Internal Server Error"), False),
    ],
    ids=["21211", "21614", "21610", "20003", "20429", "500"],
)
async def test_twilio_errors_fail_over_or_retry(
    fault: Fault, permanent: bool, autojump_clock: trio.testing.MockClock
) -> None:
    providers = Providers()
    providers.twilio.fail(fault)
    with trio.fail_after(VIRTUAL_DEADLINE):
        t0 = trio.current_time()
        async with paged(providers) as run:
            await trio.sleep(3 * 60)
            if permanent:
                assert history(run, "sms") == ["failed"]
                assert [c.at - t0 for c in providers.twilio.calls] == [
                    pytest.approx(60, abs=NOW)  # the call at once after the SMS failed
                ]
            else:
                assert history(run, "sms") == ["failed", "sent"]
                assert providers.twilio.calls == []
                retry = providers.twilio.sms[0].at - t0
                assert (80 if fault.status == 429 else 61) <= retry < 63 + 20


async def test_escalation_keeps_its_schedule_while_every_provider_fails(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With `escalate_when_unreachable: false`: nothing delivery does moves escalation."""
    providers = Providers()
    providers.slack.fail_always(Fault(status=503))
    providers.twilio.fail_always(Fault(delay=3600))  # every request hangs
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with paged(providers, log, "    escalate_when_unreachable: false\n") as run:
            await trio.sleep(25 * 60)
            escalated = [r.ts - EPOCH for r in log.read_from(1) if r.type == IncidentEscalated.TYPE]
            # alice at once, bob at 10 minutes: to the microsecond
            assert escalated == [timedelta(0), timedelta(minutes=10)]
            ns = run.system.state.notifications.for_incident("inc-1")
            assert {n.user_id for n in ns} == {"alice", "bob"}
            (bob,) = [n for n in ns if n.user_id == "bob"]
            assert bob.requested_at - EPOCH == timedelta(minutes=10)
            assert all(n.status in ("retrying", "failed") for n in ns)
            assert "sent" not in {a.outcome for n in ns for a in n.history}


async def test_a_page_retrying_when_the_incident_is_acknowledged_is_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    providers = Providers()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with paged(providers) as run:
            providers.twilio.fail(twilio_error(429, 20429, "Too Many Requests", retry_after=60))
            await trio.sleep(90)  # the SMS failed at 1m and waits for 2m
            await run.system.submit(Act("inc-1", Acknowledge(by="alice")))
            await trio.sleep(10 * 60)
            assert history(run, "sms") == ["failed", "cancelled"]
            assert len(providers.twilio.requests) == 1 and providers.twilio.calls == []
            assert any("not sent: the incident is acknowledged" in t for t in timeline(run))
            assert len(providers.slack.updates) == 1  # the DM shows the acknowledgement


def escalations(log: MemoryLog) -> list[tuple[timedelta, int]]:
    return [
        (r.ts - EPOCH, r.data["level"])
        for r in log.read_from(1)
        if r.type == IncidentEscalated.TYPE
    ]


async def test_a_person_whose_every_method_fails_is_unreachable_and_bob_is_paged_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """alice's Slack id is unknown, her number invalid: her three methods fail for good in a
    row, which is journaled, shown on the incident, and pages level 2 (bob) at once instead
    of at 10 minutes."""
    providers = Providers()
    providers.slack.fail(slack_error("user_not_found"))
    invalid = twilio_error(400, 21211, "The 'To' number is not a valid phone number.")
    providers.twilio.fail(invalid, invalid)
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        t0 = trio.current_time()
        async with paged(providers, log) as run:
            await trio.sleep(60)
            (gone,) = [r for r in log.read_from(1) if r.type == PersonUnreachable.TYPE]
            assert gone.ts == EPOCH  # at once: every failure was immediate
            assert {**gone.data, "tried": list(gone.data["tried"])} == {
                "incident_id": "inc-1", "user_id": "alice", "level": 0, "round": 0,
                "tried": ["slack", "sms", "voice"],
            }  # fmt: skip
            assert escalations(log) == [(timedelta(0), 0), (timedelta(0), 1)]
            assert [m.channel for m in providers.slack.messages] == ["D0BOB"]
            assert providers.slack.messages[0].at - t0 == pytest.approx(0, abs=NOW)
            detail = incident_json(run.system.state.incidents["inc-1"], detail=True)
            assert [u["user"] for u in detail["unreachable"]] == ["alice"]
            assert "alice could not be reached: slack, sms, voice failed" in timeline(run)
            assert detail["escalation"]["level"] == 2


async def test_methods_retried_past_the_limit_count_as_failed_and_attempts_read_as_one_line(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Every provider fails without end (Slack 503, Twilio never answers): after 3 attempts
    (the default `unreachable_after_attempts`) each method counts as failed and the next is
    tried while it is retried; alice is unreachable within two minutes and bob is paged
    then, not at 10 minutes; bob is unreachable too, and level 2 is the last: nobody more.
    Each notification's failed attempts are one line of the incident's timeline."""
    providers = Providers()
    providers.slack.fail_always(Fault(status=503))
    providers.twilio.fail_always(Fault(delay=3600))
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with paged(providers, log) as run:
            await trio.sleep(25 * 60)
            gone = [(r.ts - EPOCH, r.data["user_id"]) for r in log.read_from(1)
                    if r.type == PersonUnreachable.TYPE]  # fmt: skip
            assert [who for _, who in gone] == ["alice", "bob"]
            (at_alice, _), (at_bob, _) = gone
            assert timedelta(seconds=30) < at_alice < timedelta(minutes=2)
            assert escalations(log) == [(timedelta(0), 0), (at_alice, 1)]
            assert at_alice < at_bob < at_alice + timedelta(minutes=2)
            ns = run.system.state.notifications.for_incident("inc-1")
            # the retries went on to the end (6 attempts): counting as failed stops nothing
            assert {n.attempts for n in ns} == {6} and {n.status for n in ns} == {"failed"}
            lines = incident_json(run.system.state.incidents["inc-1"], detail=True)["timeline"]
            failed = [line for line in lines if line["kind"] == "notification.failed"]
            assert [line.get("count") for line in failed] == [6, 6, 6, 6]
            assert all(" failed 6 times (attempts 1-6): " in line["text"] for line in failed)
            assert {line["text"].split()[1] for line in failed} == {n.id for n in ns}
