"""The provider fault matrix (issue 12 item 7): every HTTP provider (Slack, Twilio SMS and
voice, Teams, outgoing webhooks) meets every way a provider fails — a 5xx, a 429 with
Retry-After, a connect timeout, a read timeout, a reset in mid-body, a slow trickle of the
answer, a 2xx whose body is not JSON, and Slack's 200 with `ok: false` — on trio's MockClock
with the stand-ins in-process (tests/standins).

For each: the escalation keeps its schedule to the microsecond (alice at once, bob at 10
minutes, or at the instant alice is found unreachable when the fault never clears), every
attempt that reached the provider is journaled (as many attempt records as
requests, numbered 1, 2, ...), and nothing is retried forever: a fault that never clears
ends in a final failure within the retry policy's attempts, after which the provider hears
nothing more. A 2xx whose body cannot be read is a message the provider took: it is
recorded as sent, never sent again (a second SMS or call to a person woken at night).

alice is paged by the one method under test; bob (level 2, 10 minutes) by Slack.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import trio

from pager.actors.messages import Ingest
from pager.clock import TrioWallClock
from pager.core.backoff import RetryPolicy
from pager.core.commands import TriggerAlert
from pager.core.events import (
    IncidentEscalated,
    NotificationFailed,
    NotificationSent,
    PersonUnreachable,
)
from pager.core.notifications import Notification
from pager.service import Running
from pager.store.memory import MemoryLog
from pager.transports.registry import build_transports

from ..harness import EPOCH
from ..standins.asgi import Fault, Request, StandIn
from ..standins.scene import Providers, delivery_config, running
from ..standins.slack import ratelimited, slack_error
from ..standins.twilio import twilio_error

VIRTUAL_DEADLINE = 24 * 3600
TIMEOUT = 10.0  # the channels' timeout in delivery_config
RETRY_AFTER = 7
NOT_JSON = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass(frozen=True)
class Provider:
    """One method under test: its stand-in, which of its requests are alice's, and what it
    answers when all is well (for faults that garble a good answer)."""

    method: str
    standin: Callable[[Providers], StandIn]
    alices: Callable[[Request], bool]
    ok_status: int
    ok_body: Any


def _slack_channel(req: Request) -> str | None:
    try:
        return str(req.json().get("channel"))
    except ValueError:
        return None


PROVIDERS = {
    "slack": Provider(
        "slack",
        lambda p: p.slack,
        lambda r: _slack_channel(r) == "U0ALICE",
        200,
        {"ok": True, "channel": "D0ALICE", "ts": "1767225600.000001", "message": {"text": "x"}},
    ),
    "sms": Provider(
        "sms",
        lambda p: p.twilio,
        lambda r: r.path.endswith("/Messages.json"),
        201,
        {"sid": "SM" + "0" * 32, "status": "queued", "to": "+15555550100", "body": "x" * 40},
    ),
    "voice": Provider(
        "voice",
        lambda p: p.twilio,
        lambda r: r.path.endswith("/Calls.json"),
        201,
        {"sid": "CA" + "0" * 32, "status": "queued", "to": "+15555550100", "from": "x" * 20},
    ),
    "teams": Provider(
        "teams", lambda p: p.teams, lambda r: r.path == "/workflows/alice", 202, "x" * 64
    ),
    "webhook": Provider(
        "webhook",
        lambda p: p.hooks,
        lambda r: r.path == "/alice",
        200,
        '{"received":"' + "x" * 50 + '"}',
    ),
}


def _server_error(p: Provider) -> Fault:
    if p.method in ("sms", "voice"):
        return twilio_error(503, 20503, "Service Unavailable")
    if p.method == "slack":
        return Fault(status=503, body={"ok": False, "error": "service_unavailable"})
    return Fault(status=503, body="upstream unavailable")


def _too_many(p: Provider) -> Fault:
    if p.method in ("sms", "voice"):
        return twilio_error(429, 20429, "Too Many Requests", retry_after=RETRY_AFTER)
    if p.method == "slack":
        return ratelimited(RETRY_AFTER)
    return Fault(status=429, body="slow down", headers={"Retry-After": str(RETRY_AFTER)})


# fault name -> (how to make it for a provider, whether the provider took the message)
FAULTS: dict[str, tuple[Callable[[Provider], Fault], bool]] = {
    "5xx": (_server_error, False),
    "429-retry-after": (_too_many, False),
    "connect-timeout": (lambda p: Fault(stall=True), False),
    "read-timeout": (lambda p: Fault(delay=3600), False),
    "reset-mid-body": (lambda p: Fault(status=p.ok_status, body=p.ok_body, reset=True), False),
    # a byte a second: every read gets something within the timeout, the whole never does
    "slow-trickle": (lambda p: Fault(status=p.ok_status, body=p.ok_body, trickle=1.0), False),
    # Slack's 200 says nothing by itself (its errors are 200 too); a Twilio 201 or a Teams or
    # webhook 2xx means the message was taken
    "2xx-not-json": (lambda p: Fault(status=p.ok_status, body=NOT_JSON), False),
    "slack-ok-false": (lambda p: slack_error("internal_error"), False),
}
TAKEN = {("sms", "2xx-not-json"), ("voice", "2xx-not-json"), ("teams", "2xx-not-json")}
TAKEN |= {("webhook", "2xx-not-json")}

MATRIX = [
    pytest.param(method, fault, id=f"{method}-{fault}")
    for method in PROVIDERS
    for fault in FAULTS
    if fault != "slack-ok-false" or method == "slack"
]


@asynccontextmanager
async def paged(providers: Providers, method: str, log: MemoryLog) -> AsyncIterator[Running]:
    """pager with the stand-ins; alice paged by `method` alone for inc-1 at virtual time 0."""
    config = delivery_config(rules=f"[{{after: 0m, via: {method}}}]", timeout=f"{TIMEOUT:g}s")
    transports = build_transports(config, http=providers.http)
    async with running(
        config, event_log=log, clock=TrioWallClock(EPOCH), transports=transports
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


def alices_notification(run: Running, method: str) -> Notification:
    (n,) = [
        n
        for n in run.system.state.notifications.for_incident("inc-1")
        if n.user_id == "alice" and n.method == method
    ]
    return n


def attempt_records(log: MemoryLog, notification_id: str) -> list[tuple[int, str]]:
    """(attempt, outcome) of every journaled attempt of the notification, in log order."""
    kinds = {NotificationFailed.TYPE: "failed", NotificationSent.TYPE: "sent"}
    out = []
    for r in log.read_from(1):
        if r.type in kinds and r.data["notification_id"] == notification_id:
            out.append((r.data["attempt"], kinds[r.type]))
    return out


def escalations(log: MemoryLog) -> list[timedelta]:
    return [r.ts - EPOCH for r in log.read_from(1) if r.type == IncidentEscalated.TYPE]


def requests_for_alice(providers: Providers, p: Provider) -> list[Request]:
    return [r for r in p.standin(providers).requests if p.alices(r)]


@pytest.mark.parametrize(("method", "fault"), MATRIX)
async def test_a_fault_once_is_retried_journaled_and_escalation_keeps_time(
    method: str, fault: str, autojump_clock: trio.testing.MockClock
) -> None:
    p = PROVIDERS[method]
    make, _ = FAULTS[fault]
    taken = (method, fault) in TAKEN
    providers = Providers()
    p.standin(providers).fail(make(p))
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with paged(providers, method, log) as run:
            await trio.sleep(25 * 60)
            n = alices_notification(run, method)
            sent = requests_for_alice(providers, p)
            records = attempt_records(log, n.id)
            # every attempt that reached the provider is journaled, numbered in order
            assert [a for a, _ in records] == list(range(1, len(sent) + 1))
            if taken:
                assert records == [(1, "sent")], "a message the provider took is not sent again"
            else:
                assert records == [(1, "failed"), (2, "sent")]
                failed = [a for a in n.history if a.outcome == "failed"]
                assert failed[0].detail  # the timeline says what went wrong
                gap = sent[1].at - sent[0].at
                floor = RETRY_AFTER if fault == "429-retry-after" else 1.0
                assert gap >= floor
            assert n.status == "sent"
            # alice at once, bob at 10 minutes: to the microsecond
            assert escalations(log) == [timedelta(0), timedelta(minutes=10)]


@pytest.mark.parametrize(("method", "fault"), MATRIX)
async def test_a_fault_that_never_clears_ends_in_a_bounded_final_failure(
    method: str, fault: str, autojump_clock: trio.testing.MockClock
) -> None:
    p = PROVIDERS[method]
    make, _ = FAULTS[fault]
    taken = (method, fault) in TAKEN
    providers = Providers()
    p.standin(providers).fail_always(make(p))
    log = MemoryLog()
    policy = RetryPolicy()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with paged(providers, method, log) as run:
            await trio.sleep(2 * 3600)
            n = alices_notification(run, method)
            sent = requests_for_alice(providers, p)
            records = attempt_records(log, n.id)
            assert [a for a, _ in records] == list(range(1, len(sent) + 1))
            if taken:
                assert records == [(1, "sent")]
                assert n.status == "sent"
            else:
                assert n.status == "failed"
                assert all(outcome == "failed" for _, outcome in records)
                assert 2 <= len(records) <= policy.max_attempts
                assert n.history[-1].outcome == "failed" and n.retry_at is None
                assert not n.open
                # the last attempt went out within the policy's age limit of the request
                assert sent[-1].at - sent[0].at <= policy.max_age
            if taken:
                assert escalations(log) == [timedelta(0), timedelta(minutes=10)]
            else:
                # alice could not be reached (her only method failed unreachable_after_attempts
                # times): bob is paged at that instant, not 10 minutes on
                (gone,) = [
                    r.ts - EPOCH
                    for r in log.read_from(1)
                    if r.type == PersonUnreachable.TYPE and r.data["user_id"] == "alice"
                ]
                assert gone < timedelta(minutes=10)
                assert escalations(log) == [timedelta(0), gone]
            # and the provider hears nothing more about it, however long pager runs
            before = len(sent)
            await trio.sleep(6 * 3600)
            assert len(requests_for_alice(providers, p)) == before
            assert len(attempt_records(log, n.id)) == len(records)
