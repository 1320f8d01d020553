"""End to end on trio's MockClock: an alert in through pager's own `/v2/enqueue` (the real
web app, mounted in-process with httpx.ASGITransport), an escalation that reaches alice,
whose rules say Slack now, SMS after 1 minute, a call after 5 — and the stand-in providers
receiving those three, in that order, at those virtual times. Acknowledging after the Slack
message stops the SMS and the call, and edits the Slack message in place.

Everything runs in one trio run with no sockets, so autojump moves virtual time only when
every task waits for it.
"""

from __future__ import annotations

import httpx
import pytest
import trio

from pager.actors.messages import Ingest
from pager.clock import SystemClock, TrioWallClock
from pager.core.commands import TriggerAlert
from pager.core.events import NotificationRequested
from pager.store.memory import MemoryLog
from pager.transports.registry import build_transports
from pager.web.app import create_app

from ..harness import EPOCH, auth, until
from ..standins.scene import Providers, delivery_config, pd_trigger, running
from ..standins.serve import served

VIRTUAL_DEADLINE = 24 * 3600
NOW = 1e-6  # "at once": no virtual time passes between the alert and the request


@pytest.fixture
def providers() -> Providers:
    return Providers()


async def enqueue(client: httpx.AsyncClient, key: str) -> None:
    r = await client.post("/v2/enqueue", json=pd_trigger(key))
    assert r.status_code == 202, r.text


async def test_slack_now_sms_after_1m_call_after_5m(
    providers: Providers, autojump_clock: trio.testing.MockClock
) -> None:
    config = delivery_config()
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with running(
            config,
            event_log=log,
            clock=TrioWallClock(EPOCH),
            transports=build_transports(config, http=providers.http),
        ) as run:
            app = httpx.ASGITransport(app=create_app(run.system, run.actors))
            async with httpx.AsyncClient(transport=app, base_url="http://pager.internal") as c:
                t0 = trio.current_time()
                await enqueue(c, "disk-full")
                await trio.sleep(6 * 60)
                slack, twilio = providers.slack, providers.twilio
                assert [m.channel for m in slack.messages] == ["D0ALICE"]
                assert slack.messages[0].at - t0 == pytest.approx(0, abs=NOW)
                assert [s.to for s in twilio.sms] == ["+15555550100"]
                assert twilio.sms[0].at - t0 == pytest.approx(60, abs=NOW)
                assert [c.to for c in twilio.calls] == ["+15555550100"]
                assert twilio.calls[0].at - t0 == pytest.approx(300, abs=NOW)
                # and the notifications say so, each with its provider's id
                ns = run.system.state.notifications.for_incident("inc-1")
                assert [(n.method, n.status) for n in ns] == [
                    ("slack", "sent"),
                    ("sms", "sent"),
                    ("voice", "sent"),
                ]
                assert ns[0].provider_id == f"D0ALICE:{slack.messages[0].ts}"
                assert ns[1].provider_id == twilio.sms[0].sid
                assert ns[2].provider_id == twilio.calls[0].sid


async def test_acknowledging_after_slack_stops_sms_and_call_and_edits_the_dm(
    providers: Providers, autojump_clock: trio.testing.MockClock
) -> None:
    config = delivery_config()
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with running(
            config,
            event_log=log,
            clock=TrioWallClock(EPOCH),
            transports=build_transports(config, http=providers.http),
        ) as run:
            app = httpx.ASGITransport(app=create_app(run.system, run.actors))
            async with httpx.AsyncClient(transport=app, base_url="http://pager.internal") as c:
                t0 = trio.current_time()
                await enqueue(c, "disk-full")
                await trio.sleep(30)
                r = await c.post(
                    "/api/v1/incidents/inc-1/acknowledge", json={"by": "alice"}, headers=auth()
                )
                assert r.status_code == 200, r.text
                await trio.sleep(20 * 60)
            slack, twilio = providers.slack, providers.twilio
            assert twilio.sms == [] and twilio.calls == []
            # the DM was edited in place, once, to show the acknowledgement
            assert len(slack.messages) == 1 and slack.updates == [slack.messages[0]]
            (at, text, blocks) = slack.messages[0].edits[0]
            assert at - t0 == pytest.approx(30, abs=NOW)
            assert "(acknowledged)" in text
            shown = str(blocks)
            assert "Acknowledged by Alice Example" in shown
            assert "'action_id': 'ack'" not in shown and "'action_id': 'resolve'" in shown
            requested = [
                r.data["method"] for r in log.read_from(1) if r.type == NotificationRequested.TYPE
            ]
            assert requested == ["slack", "slack"]  # the page, then its edit; no sms, no call
            ns = run.system.state.notifications.for_incident("inc-1")
            assert [(n.kind, n.status) for n in ns] == [("page", "sent"), ("update", "sent")]


async def test_over_real_http_with_the_transports_the_configuration_builds() -> None:
    """No in-process routing: pager builds its own transports from the configuration and
    reaches the stand-ins on 127.0.0.1 (real clock, real sockets)."""
    providers = Providers()
    with trio.fail_after(15):
        async with served(providers.slack) as slack_url, served(providers.twilio) as twilio_url:
            config = delivery_config(
                rules="[{after: 0m, via: slack}, {after: 0m, via: sms}]",
                slack_url=slack_url,
                twilio_url=twilio_url,
            )
            async with running(config, event_log=MemoryLog(), clock=SystemClock()) as run:
                await run.system.submit(
                    Ingest(
                        "checkout",
                        "disk",
                        "pagerduty",
                        TriggerAlert(key="disk", summary="db-1 disk full", severity="critical"),
                    )
                )
                await until(
                    run,
                    lambda st: (
                        not st.notifications.pending.get("sms")
                        and not st.notifications.pending.get("slack")
                    ),
                )
                ns = run.system.state.notifications.for_incident("inc-1")
    assert [(n.method, n.status) for n in ns] == [("slack", "sent"), ("sms", "sent")]
    assert ns[0].provider_id == f"D0ALICE:{providers.slack.messages[0].ts}"
    assert ns[1].provider_id == providers.twilio.sms[0].sid


async def test_service_chat_channel_gets_opened_then_edited_in_place(
    providers: Providers, autojump_clock: trio.testing.MockClock
) -> None:
    """With `chat.slack_channel`, the incident's opening is posted to the service's channel,
    and its acknowledgement and resolution edit that same message (and alice's DM)."""
    config = delivery_config(chat=True, rules="[{after: 0m, via: slack}]")
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with running(
            config,
            event_log=MemoryLog(),
            clock=TrioWallClock(EPOCH),
            transports=build_transports(config, http=providers.http),
        ) as run:
            app = httpx.ASGITransport(app=create_app(run.system, run.actors))
            async with httpx.AsyncClient(transport=app, base_url="http://pager.internal") as c:
                await enqueue(c, "disk-full")
                await trio.sleep(10)
                slack = providers.slack
                assert sorted(m.channel for m in slack.messages) == ["C0CHECKOUT", "D0ALICE"]
                for action in ("acknowledge", "resolve"):
                    r = await c.post(
                        f"/api/v1/incidents/inc-1/{action}", json={"by": "alice"}, headers=auth()
                    )
                    assert r.status_code == 200, r.text
                    await trio.sleep(10)
            # no new posts: both messages were edited twice, to acknowledged then resolved
            assert sorted(m.channel for m in slack.messages) == ["C0CHECKOUT", "D0ALICE"]
            channel_msg = next(m for m in slack.messages if m.channel == "C0CHECKOUT")
            texts = [text for _, text, _ in channel_msg.edits]
            assert len(texts) == 2 and "(acknowledged)" in texts[0] and "(resolved)" in texts[1]
            kinds = [
                (n.kind, n.status) for n in run.system.state.notifications.for_incident("inc-1")
            ]
            assert kinds.count(("status", "sent")) == 1 and kinds.count(("update", "sent")) == 4
