"""Answering a paging call (`/hooks/twilio/voice/{id}` and its `/gather`), end to end on the
mock clock: the Twilio stand-in places the call, Twilio fetches its TwiML, alice presses 4,
pager acknowledges as alice via voice and says so, and the escalation stops. 6 resolves, 5
escalates to the next level, * repeats, any other key repeats the menu; an answering machine
or no key never acknowledges; a call answers once; a tampered or unsigned gather changes
nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest
import trio

from pager.core.model import Status

from .interactions import VIRTUAL_DEADLINE, Scene, scene

RULES = "[{after: 0m, via: voice}]"
CALL = "/hooks/twilio/voice/inc-1-n1"
GATHER = CALL + "/gather"


def twiml(r: httpx.Response) -> ET.Element:
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    return ET.fromstring(r.text)  # noqa: S314 - our own answer


def said(doc: ET.Element) -> str:
    return " ".join(x.text or "" for x in doc.iter("Say"))


async def answer(s: Scene, digits: str, **extra: str) -> ET.Element:
    sid = s.providers.twilio.calls[0].sid
    return twiml(await s.twilio(GATHER, {"CallSid": sid, "Digits": digits, **extra}))


async def test_pressing_4_acknowledges_and_escalation_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            (call,) = s.providers.twilio.calls
            assert call.url == "https://pager.example.test" + CALL
            doc = twiml(await s.twilio(CALL, {"CallSid": call.sid, "AnsweredBy": "human"}))
            assert "Press 4 to acknowledge" in said(doc)
            doc = await answer(s, "4")
            assert "Incident number 1 is acknowledged" in said(doc) and doc[-1].tag == "Hangup"
            assert s.state.incidents["inc-1"].acknowledged_by == "alice"
            await trio.sleep(30 * 60)
            assert s.paged_users() == ["alice"] and s.providers.slack.messages == []
            assert ("Acknowledged by alice via voice", "alice", "voice") in s.timeline()


@pytest.mark.parametrize(("key", "status"), [("6", Status.RESOLVED), ("5", Status.TRIGGERED)])
async def test_6_resolves_and_5_escalates_to_the_next_level(
    key: str, status: Status, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            doc = await answer(s, key)
            await trio.sleep(1)
            inc = s.state.incidents["inc-1"]
            assert inc.status is status
            if key == "5":
                assert "escalated to level 2" in said(doc)
                assert s.paged_users() == ["alice", "bob"]
                assert [m.channel for m in s.providers.slack.messages] == ["D0BOB"]
            else:
                assert "is resolved" in said(doc) and inc.resolved_by == "alice"
            # one answer per call
            before = s.log.last_seq
            assert "received already" in said(await answer(s, "4"))
            assert s.log.last_seq == before


async def test_machines_silence_and_other_keys_do_not_act(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            before = s.log.last_seq
            sid = s.providers.twilio.calls[0].sid
            machine = twiml(
                await s.twilio(CALL, {"CallSid": sid, "AnsweredBy": "machine_end_beep"})
            )
            assert [x.tag for x in machine] == ["Say", "Hangup"]
            assert "No key was pressed" in said(await answer(s, ""))
            assert "No key was pressed" in said(await answer(s, "4", AnsweredBy="machine_start"))
            doc = await answer(s, "9")
            assert "Key 9 does nothing" in said(doc) and doc.find("Gather") is not None
            assert doc.find("Gather").get("action") == "https://pager.example.test" + GATHER  # type: ignore[union-attr]
            assert "Press 4" in said(await answer(s, "*"))
            # a gather for this notification from another call
            other = {"CallSid": "CA" + "f" * 32, "Digits": "4"}
            assert "cannot answer" in said(twiml(await s.twilio(GATHER, other)))
            await trio.sleep(1)
            assert s.log.last_seq == before
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED


@pytest.mark.parametrize("how", ["tampered-digits", "wrong-token", "unsigned"])
async def test_a_gather_that_does_not_verify_changes_nothing(
    how: str, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            form = {"CallSid": s.providers.twilio.calls[0].sid, "Digits": "9"}
            before = s.log.last_seq
            if how == "tampered-digits":
                r = await s.twilio(GATHER, {**form, "Digits": "6"}, signed_form=form)
            elif how == "wrong-token":
                r = await s.twilio(GATHER, {**form, "Digits": "6"}, token="nope")
            else:
                r = await s.client.post(GATHER, data={**form, "Digits": "6"})
            assert r.status_code == 403
            await trio.sleep(1)
            assert s.log.last_seq == before
