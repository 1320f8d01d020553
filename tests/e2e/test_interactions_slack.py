"""Answering a page from Slack (`POST /hooks/slack/interactions`), end to end on the mock
clock: the page reaches alice's DM through the Slack stand-in, she presses a button of that
very message (the payload Slack would send, built from the blocks posted), pager answers at
once, acts, and rewrites the message through `response_url` to show who did what; the
escalation stops and the timeline and the stream say it was alice, via Slack.

Requests that do not verify (tampered body, stale timestamp, wrong secret, no signature,
the same request again) get 401 and change nothing; a Slack user who is not a pager user
acts on nothing, is told so, and is logged."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import trio

from pager.core.events import IncidentAcknowledged, IncidentSnoozed
from pager.core.model import Status

from ..standins.asgi import Fault
from .interactions import VIRTUAL_DEADLINE, Scene, scene, slack_body

RULES = "[{after: 0m, via: slack}]"


def buttons(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def press(s: Scene, action_id: str, **kw: str) -> None:
    dm = s.providers.slack.messages[0]
    r = await s.slack(slack_body(s.providers.slack.press(dm, action_id, **kw)))
    assert r.status_code == 200 and r.text == ""


async def test_acknowledging_from_slack_stops_escalation_and_rewrites_the_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            slack = s.providers.slack
            (dm,) = slack.messages
            assert dm.channel == "D0ALICE" and buttons(dm.blocks) == [
                "ack", "resolve", "snooze", "escalate",
            ]  # fmt: skip
            t0 = trio.current_time()
            await press(s, "ack")
            assert trio.current_time() == t0  # answered at once, before acting
            await trio.sleep(1)
            inc = s.state.incidents["inc-1"]
            assert inc.status is Status.ACKNOWLEDGED and inc.acknowledged_by == "alice"
            # the message was rewritten through response_url: new state, who did it, no Ack
            (response,) = slack.responses
            assert response.message is dm and response.body["replace_original"] is True
            shown = str(response.body["blocks"])
            assert "Acknowledged by Alice Example" in shown and "by alice" not in shown
            assert "acknowledged by Alice Example via Slack" in shown
            assert buttons(dm.blocks) == ["resolve", "snooze", "escalate"]
            assert slack.problems == []
            await trio.sleep(30 * 60)
            # escalation stopped: bob (level 2, at 10 minutes) was never paged
            assert s.paged_users() == ["alice"]
            assert [m.channel for m in slack.messages] == ["D0ALICE"]
            assert ("Acknowledged by alice via slack", "alice", "slack") in s.timeline()
            acks = [r for r in s.streamed if r.type == IncidentAcknowledged.TYPE]
            assert [(r.data["by"], r.data["via"]) for r in acks] == [("alice", "slack")]


async def test_snooze_menu_then_escalate_button(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            await press(s, "snooze", option="1h")
            await trio.sleep(1)
            inc = s.state.incidents["inc-1"]
            assert inc.status is Status.ACKNOWLEDGED
            (snoozed,) = s.records(IncidentSnoozed.TYPE)
            assert snoozed.data["by"] == "alice" and snoozed.data["via"] == "slack"
            assert inc.snoozed_until == snoozed.ts + timedelta(hours=1)
            assert "snoozed by Alice Example via Slack until" in str(
                s.providers.slack.responses[-1].body["blocks"]
            )
            await press(s, "escalate")
            await trio.sleep(1)
            inc = s.state.incidents["inc-1"]
            assert inc.status is Status.TRIGGERED and inc.escalation is not None
            assert inc.escalation.level == 1  # level 2: bob
            assert s.paged_users() == ["alice", "bob"]
            assert [m.channel for m in s.providers.slack.messages] == ["D0ALICE", "D0BOB"]
            texts = [t for t, _, _ in s.timeline()]
            assert any(t.startswith("Escalated to level 2: bob by alice via slack") for t in texts)
            # bob is at the last level: escalating again finds nobody further, and says so
            await press(s, "escalate")
            await trio.sleep(1)
            assert "nobody further" in str(s.providers.slack.responses[-1].body)


def tamper(body: bytes) -> bytes:
    return body.replace(b"ack", b"resolve", 1)


@pytest.mark.parametrize(
    "how",
    [
        "tampered-body",
        "stale-timestamp",
        "future-timestamp",
        "wrong-secret",
        "unsigned",
        "replayed",
    ],
)
async def test_requests_that_do_not_verify_get_401_and_change_nothing(
    how: str, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            slack = s.providers.slack
            body = slack_body(slack.press(slack.messages[0], "ack"))
            first = s.now()
            if how == "replayed":
                assert (await s.slack(body, timestamp=first)).status_code == 200
                await trio.sleep(1)
            before = s.log.last_seq
            ts = s.now()
            if how == "tampered-body":
                r = await s.slack(tamper(body), signed_body=body)
            elif how == "stale-timestamp":
                r = await s.slack(body, timestamp=ts - 301)
            elif how == "future-timestamp":
                r = await s.slack(body, timestamp=ts + 301)
            elif how == "wrong-secret":
                r = await s.slack(body, secret="not-the-signing-secret")
            elif how == "unsigned":
                r = await s.client.post("/hooks/slack/interactions", content=body)
            else:
                r = await s.slack(body, timestamp=first)  # exactly the request acted on
            assert r.status_code == 401
            await trio.sleep(5)
            assert s.log.last_seq == before
            assert len(slack.responses) == (1 if how == "replayed" else 0)
            if how != "replayed":
                assert s.state.incidents["inc-1"].status is Status.TRIGGERED


async def test_a_slack_user_who_is_not_a_pager_user_is_refused_and_told(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE), caplog.at_level(logging.WARNING):
        async with scene(RULES) as s:
            before = s.log.last_seq
            await press(s, "resolve", user="U0MALLORY")
            await trio.sleep(1)
            assert s.log.last_seq == before
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED
            (response,) = s.providers.slack.responses
            assert response.body["response_type"] == "ephemeral"
            assert response.body["replace_original"] is False
            assert "not one of pager's users" in response.body["text"]
    assert any("U0MALLORY is not a pager user" in r.getMessage() for r in caplog.records)


async def test_a_press_on_a_resolved_incident_answers_with_its_state(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            dm = s.providers.slack.messages[0]
            stale = slack_body(s.providers.slack.press(dm, "ack"))  # the button, before...
            await press(s, "resolve")
            await trio.sleep(1)
            assert s.state.incidents["inc-1"].status is Status.RESOLVED
            before = s.log.last_seq
            assert (await s.slack(stale)).status_code == 200  # ...pressed after
            await trio.sleep(1)
            assert s.log.last_seq == before
            last = s.providers.slack.responses[-1].body
            assert "is already resolved (by Alice Example): nothing to do" in str(last["blocks"])
            assert buttons(last["blocks"]) == []


async def test_a_response_url_that_fails_costs_only_the_rewrite(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            s.providers.slack.fail_always(Fault(drop=True))
            with caplog.at_level(logging.WARNING, logger="pager.slack"):
                await press(s, "ack")
                await trio.sleep(1)
            assert s.state.incidents["inc-1"].status is Status.ACKNOWLEDGED
            assert s.providers.slack.responses == []
            said = [r.getMessage() for r in caplog.records if "response_url" in r.getMessage()]
            # what went wrong, by type; never the URL, which is a credential
            assert said == ["Slack response_url did not take the answer: RemoteProtocolError"]
            assert "/actions/" not in caplog.text
