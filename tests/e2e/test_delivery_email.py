"""Email through the whole system, on the real clock (smtplib runs in a worker thread, which
trio's MockClock cannot see): a real SMTP server that drops the first connection; the
delivery actor journals the failure, retries after its backoff (1-2 s), and the mail
arrives. A recipient the server refuses for good moves on to the next contact method."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from pager.actors.messages import Ingest
from pager.clock import SystemClock
from pager.core.commands import TriggerAlert
from pager.service import Running
from pager.store.memory import MemoryLog
from pager.transports.registry import build_transports

from ..harness import until
from ..standins.scene import Providers, delivery_config, running
from ..standins.smtp import PASSWORD, USER, MailServer, smtp_server


@asynccontextmanager
async def pager_with_email(server: MailServer, providers: Providers) -> AsyncIterator[Running]:
    email = (
        f"  email: {{smtp_host: 127.0.0.1, smtp_port: {server.port}, username: {USER}, "
        f'password: {PASSWORD}, from: "pager <pager@example.com>", '
        f'ca_file: "{server.ca_file}", timeout: 5s}}\n'
    )
    config = delivery_config(rules="[{after: 0m, via: email}, {after: 5m, via: sms}]", email=email)
    transports = build_transports(config, http=providers.http)
    async with running(
        config, event_log=MemoryLog(), clock=SystemClock(), transports=transports
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


async def settled(run: Running, nid: str) -> str:
    await until(run, lambda st: (n := st.notifications.by_id.get(nid)) is not None and not n.open)
    return run.system.state.notifications.by_id[nid].status


async def test_a_dropped_smtp_connection_is_retried_and_recorded(
    certificate: tuple[Path, Path],
) -> None:
    with smtp_server(*certificate) as server, trio.fail_after(15):
        server.mailbox.drop = 1
        async with pager_with_email(server, Providers()) as run:
            assert await settled(run, "inc-1-n1") == "sent"
            n = run.system.state.notifications.by_id["inc-1-n1"]
            timeline = [t.text for t in run.system.state.incidents["inc-1"].timeline]
    assert [a.outcome for a in n.history] == ["failed", "sent"]
    assert "dropped" in (n.history[0].detail or "")
    assert n.provider_id == "<inc-1-n1@pager.example.test>"
    assert any("inc-1-n1 failed (attempt 1)" in t and "retrying at" in t for t in timeline)
    assert "Notification inc-1-n1 sent (attempt 2)" in timeline
    assert server.mailbox.dropped == 1 and len(server.mailbox.received) == 1
    assert server.mailbox.received[0].message["Message-ID"] == "<inc-1-n1@pager.example.test>"


async def test_a_refused_recipient_moves_on_to_the_next_method(
    certificate: tuple[Path, Path],
) -> None:
    providers = Providers()
    with smtp_server(*certificate) as server, trio.fail_after(15):
        server.mailbox.refuse["alice@example.com"] = "550 5.1.1 No such user"
        async with pager_with_email(server, providers) as run:
            assert await settled(run, "inc-1-n1") == "failed"
            assert await settled(run, "inc-1-n2") == "sent"
    assert [s.to for s in providers.twilio.sms] == ["+15555550100"]  # not after 5 minutes
