"""The Slack transport against the Slack stand-in over real HTTP: the request Slack gets
(bearer token, JSON, channel, Block Kit with the buttons and the Snooze menu), the provider id
`"{channel}:{ts}"`, `chat.update` of that same message, and every way Slack says no."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
import trio

from pager.config.models_channels import SlackChannel
from pager.core.model import Status
from pager.transports.base import DeliveryError, ProviderRejected, ProviderUnreachable
from pager.transports.slack import SlackTransport

from ..standins.asgi import Fault
from ..standins.serve import closed_port, served
from ..standins.slack import SlackStandIn, ratelimited, slack_error
from .samples import SHORT_TIMEOUT, incident, message

TOKEN = "xoxb-real-http"


def channel(base: str, token: str = TOKEN, timeout: timedelta = SHORT_TIMEOUT) -> SlackChannel:
    return SlackChannel.model_validate(
        {"api_url": f"{base}/api/", "token": token, "signing_secret": "s", "timeout": timeout}
    )


@asynccontextmanager
async def slack(token: str = TOKEN) -> AsyncIterator[tuple[SlackStandIn, SlackTransport]]:
    standin = SlackStandIn(TOKEN, channels={"C0CHECKOUT"}, users={"U0ALICE"})
    async with served(standin) as base:
        transport = SlackTransport(channel(base, token))
        try:
            yield standin, transport
        finally:
            await transport.aclose()


async def test_page_is_a_dm_with_blocks_and_buttons_then_edited_in_place() -> None:
    with trio.fail_after(10):
        async with slack() as (standin, transport):
            sent = await transport.send(message("slack", "U0ALICE"))
            (req,) = standin.requests
            assert req.path == "/api/chat.postMessage"
            assert req.headers["authorization"] == f"Bearer {TOKEN}"
            assert req.headers["content-type"].startswith("application/json")
            body = req.json()
            assert body["channel"] == "U0ALICE"
            assert "db-1 disk full" in body["text"] and "Checkout API" in body["text"]
            (posted,) = standin.messages
            assert posted.channel == "D0ALICE"
            assert sent.provider_id == f"D0ALICE:{posted.ts}"
            buttons = next(b for b in body["blocks"] if b["type"] == "actions")["elements"]
            assert [(b["action_id"], b.get("value")) for b in buttons] == [
                ("ack", "inc-7"),
                ("resolve", "inc-7"),
                ("snooze", None),
                ("escalate", "inc-7"),
            ]
            actions = next(b for b in body["blocks"] if b["type"] == "actions")
            assert actions["block_id"] == "incident:inc-7"
            assert "\x1f" not in req.body.decode()  # no stand-in id left in what Slack gets
            menu = buttons[2]
            assert menu["type"] == "static_select"
            assert [(o["text"]["text"], o["value"]) for o in menu["options"]] == [
                ("Snooze 15m", "inc-7|15m"),
                ("Snooze 1h", "inc-7|1h"),
                ("Snooze 4h", "inc-7|4h"),
            ]
            shown = str(body["blocks"])
            for part in (
                "CRITICAL: db-1 disk full",
                "*Severity*\\ncritical",
                "*Service*\\nCheckout API",
                "https://grafana.example.test/d/disk",
                "https://pager.example.test/a/tok-ack",
            ):
                assert part in shown
            # the incident is acknowledged: the same message is edited
            acked = incident(status=Status.ACKNOWLEDGED, acknowledged_by="alice")
            update = message(
                "slack",
                None,
                notification_id="inc-7-n2",
                kind="update",
                topic="acknowledged",
                previous=sent.provider_id,
                incident=acked,
            )
            edited = await transport.send(update)
            assert edited.provider_id is None  # the message keeps its id
            assert standin.requests[-1].path == "/api/chat.update"
            assert standin.requests[-1].json()["ts"] == posted.ts
            assert standin.updates == [posted] and standin.problems == []
            assert "Acknowledged by alice" in str(posted.blocks)
            assert "'ack'" not in str(posted.blocks)


async def test_status_update_goes_to_the_service_channel() -> None:
    with trio.fail_after(10):
        async with slack() as (standin, transport):
            status = message("slack", "C0CHECKOUT", kind="status", topic="opened", user_id=None)
            sent = await transport.send(status)
            assert sent.provider_id == f"C0CHECKOUT:{standin.messages[0].ts}"
            assert "(opened)" in standin.messages[0].text


async def test_titles_with_slack_markup_are_escaped_and_long_ones_cut() -> None:
    with trio.fail_after(10):
        async with slack() as (standin, transport):
            inc = incident(title="<!channel> & " + "x" * 400)
            await transport.send(message("slack", "U0ALICE", incident=inc))
            assert standin.problems == []
            text = standin.messages[0].text
            assert "&lt;!channel&gt; &amp;" in text and "<!channel>" not in text


async def test_edit_of_a_message_slack_does_not_know_is_permanent() -> None:
    with trio.fail_after(10):
        async with slack() as (_, transport):
            update = message("slack", None, kind="update", previous="D0ALICE:1.000001")
            with pytest.raises(ProviderRejected, match="message_not_found") as e:
                await transport.send(update)
            assert e.value.permanent


@pytest.mark.parametrize(
    ("fault", "kind", "permanent", "retry_after"),
    [
        (slack_error("invalid_auth"), ProviderRejected, True, None),
        (slack_error("token_revoked"), ProviderRejected, True, None),
        (slack_error("account_inactive"), ProviderRejected, True, None),
        (slack_error("user_not_found"), ProviderRejected, True, None),
        (slack_error("not_in_channel"), ProviderRejected, True, None),
        (slack_error("is_archived"), ProviderRejected, True, None),
        (slack_error("internal_error"), ProviderUnreachable, False, None),
        (ratelimited(7), ProviderRejected, False, 7.0),
        (Fault(status=500, body="oops"), ProviderUnreachable, False, None),
        (Fault(status=503, headers={"Retry-After": "3"}), ProviderUnreachable, False, 3.0),
        (Fault(delay=3), ProviderUnreachable, False, None),
        (Fault(drop=True), ProviderUnreachable, False, None),
    ],
    ids=[
        "invalid_auth",
        "token_revoked",
        "account_inactive",
        "user_not_found",
        "not_in_channel",
        "is_archived",
        "internal_error",
        "429",
        "500",
        "503",
        "timeout",
        "dropped",
    ],
)
async def test_slack_errors(
    fault: Fault,
    kind: type[DeliveryError],
    permanent: bool,
    retry_after: float | None,
) -> None:
    with trio.fail_after(10):
        async with slack() as (standin, transport):
            standin.fail(fault)
            with pytest.raises(kind) as e:
                await transport.send(message("slack", "U0ALICE"))
            assert (e.value.permanent, e.value.retry_after) == (permanent, retry_after)


async def test_wrong_token_and_unknown_channel_are_permanent() -> None:
    with trio.fail_after(10):
        async with slack(token="xoxb-revoked") as (_, transport):
            with pytest.raises(ProviderRejected, match="invalid_auth") as e:
                await transport.send(message("slack", "U0ALICE"))
            assert e.value.permanent
        async with slack() as (_, transport):
            with pytest.raises(ProviderRejected, match="channel_not_found") as e:
                await transport.send(message("slack", "C0NOPE"))
            assert e.value.permanent


async def test_connection_refused_is_unreachable() -> None:
    transport = SlackTransport(channel(f"http://127.0.0.1:{closed_port()}"))
    with trio.fail_after(10):
        with pytest.raises(ProviderUnreachable, match="cannot connect") as e:
            await transport.send(message("slack", "U0ALICE"))
        assert not e.value.permanent
        await transport.aclose()


async def test_rate_key_is_the_channel() -> None:
    transport = SlackTransport(channel("http://slack.test"))
    assert transport.rate_key(message("slack", "U0ALICE")) == "U0ALICE"
    update = replace(message("slack", None), kind="update", previous="C0CHECKOUT:1.2")
    assert transport.rate_key(update) == "C0CHECKOUT"
    assert transport.default_rate == 1.0
    await transport.aclose()


async def test_a_page_leaves_no_cycles_for_the_garbage_collector() -> None:
    """The HTTP exchange of a page is freed by reference counting, not left to the cyclic
    collector, whose pauses land in the middle of later pages: httpx ties a response and its
    stream into a cycle, which provider_http breaks. (slack-sdk's `to_dict` still leaves a
    small cycle per model it serializes; the buttons are serialized once per status.)"""
    with trio.fail_after(10):
        async with slack() as (standin, transport):
            await transport.send(message("slack", "U0ALICE"))  # connection, caches
            gc.collect()
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                for n in range(5):
                    await transport.send(message("slack", "U0ALICE", notification_id=f"inc-7-n{n}"))
                gc.collect()
                left = {type(o).__module__.split(".")[0] for o in gc.garbage}
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
            assert len(standin.messages) == 6
            assert not left & {"httpx", "httpcore"}
