"""Replay guards that survive a restart (issue 12 item 6): a captured, correctly signed
request from Slack (a button press) or Twilio (an SMS reply, a key pressed in a call) acts
once. Each test sends the request, moves the incident back to where the request would act
again (a manual escalation to level 1), stops pager, starts it again over the same journal,
and sends the very same bytes with the very same signature: refused, or answered without
acting, and nothing journaled. On the mock clock, so the Slack request is replayed well
inside its 5-minute signature window."""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import trio
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from pager.clock import TrioWallClock
from pager.core.events import InteractionReceived
from pager.store.memory import MemoryLog

from ..harness import EPOCH, auth
from ..standins.scene import PUBLIC_URL, SLACK_SIGNING_SECRET, TWILIO_TOKEN, Providers
from .interactions import ALICE_PHONE, VIRTUAL_DEADLINE, Scene, scene, slack_body


def level(s: Scene) -> int:
    esc = s.state.incidents["inc-1"].escalation
    assert esc is not None
    return esc.level + 1


async def back_to_level_1(s: Scene) -> None:
    r = await s.client.post(
        "/api/v1/incidents/inc-1/escalate", json={"level": 1, "by": "bob"}, headers=auth()
    )
    assert r.status_code == 200, r.text
    assert level(s) == 1


class Restartable:
    """The same journal, clock and stand-ins for each run of `scene`."""

    def __init__(self, rules: str) -> None:
        self.rules = rules
        self.log = MemoryLog()
        self.clock: TrioWallClock | None = None
        self.providers = Providers()

    def run(self, *, first: bool) -> AbstractAsyncContextManager[Scene]:
        if self.clock is None:
            self.clock = TrioWallClock(EPOCH)
        return scene(
            self.rules, log=self.log, clock=self.clock, providers=self.providers, trigger=first
        )


async def replayed_after_restart(
    r: Restartable, send: Any, check: Any, *, before_restart: Any = None
) -> None:
    async with r.run(first=True) as s:
        request = await send(s, None)
        await trio.sleep(2)
        assert level(s) == 2, "the request acted: escalated to bob"
        guards = [x for x in s.records(InteractionReceived.TYPE)]
        assert len(guards) == 1
        await back_to_level_1(s)
    async with r.run(first=False) as s:
        before = s.log.last_seq
        answer = await send(s, request)
        await trio.sleep(2)
        check(answer)
        assert level(s) == 1, "the replay did not escalate again"
        assert s.log.last_seq == before, "the replay journaled nothing"


async def test_a_slack_press_replayed_after_a_restart_is_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    r = Restartable("[{after: 0m, via: slack}]")

    async def send(s: Scene, captured: tuple[bytes, dict[str, str]] | None) -> httpx.Response:
        if captured is None:
            slack = s.providers.slack
            body = slack_body(slack.press(slack.messages[0], "escalate"))
            ts = str(s.now())
            signature = SignatureVerifier(SLACK_SIGNING_SECRET).generate_signature(
                timestamp=ts, body=body
            )
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature,
            }
            captured = (body, headers)
            response = await s.client.post(
                "/hooks/slack/interactions", content=body, headers=headers
            )
            assert response.status_code == 200, response.text
            return captured  # type: ignore[return-value]
        body, headers = captured
        return await s.client.post("/hooks/slack/interactions", content=body, headers=headers)

    def check(response: httpx.Response) -> None:
        assert response.status_code == 401
        assert "received already" in response.text

    with trio.fail_after(VIRTUAL_DEADLINE):
        await replayed_after_restart(r, send, check)


def twilio_request(path: str, form: dict[str, str]) -> tuple[str, dict[str, str], str]:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, form)
    return path, form, signature


async def post_twilio(s: Scene, request: tuple[str, dict[str, str], str]) -> httpx.Response:
    path, form, signature = request
    return await s.client.post(path, data=form, headers={"X-Twilio-Signature": signature})


async def test_an_sms_reply_replayed_after_a_restart_changes_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    r = Restartable("[{after: 0m, via: sms}]")

    async def send(s: Scene, captured: Any) -> Any:
        if captured is None:
            code = s.state.incidents["inc-1"].short_code
            form = {
                "MessageSid": "SM" + "7" * 32,
                "AccountSid": "AC" + "0" * 32,
                "From": ALICE_PHONE,
                "To": "+15555550199",
                "Body": f"5 {code}",
                "NumMedia": "0",
            }
            captured = twilio_request("/hooks/twilio/sms", form)
            response = await post_twilio(s, captured)
            assert "escalated by Alice Example via SMS" in response.text
            return captured
        return await post_twilio(s, captured)

    def check(response: httpx.Response) -> None:
        assert response.status_code == 200
        assert re.search(r"<Message>", response.text) is None  # no answer: acted on already

    with trio.fail_after(VIRTUAL_DEADLINE):
        await replayed_after_restart(r, send, check)


async def test_a_key_pressed_in_a_call_replayed_after_a_restart_changes_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    r = Restartable("[{after: 0m, via: voice}]")
    gather = "/hooks/twilio/voice/inc-1-n1/gather"

    async def send(s: Scene, captured: Any) -> Any:
        if captured is None:
            (call,) = s.providers.twilio.calls
            captured = twilio_request(gather, {"CallSid": call.sid, "Digits": "5"})
            response = await post_twilio(s, captured)
            assert "escalated to level 2" in response.text
            return captured
        return await post_twilio(s, captured)

    def check(response: httpx.Response) -> None:
        assert response.status_code == 200
        assert "Your answer was received already" in response.text

    with trio.fail_after(VIRTUAL_DEADLINE):
        await replayed_after_restart(r, send, check)
