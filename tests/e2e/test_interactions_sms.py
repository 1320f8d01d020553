"""Answering a page by SMS (`POST /hooks/twilio/sms`), end to end on the mock clock: the
page's text reaches alice through the Twilio stand-in, she replies with the code it gives
(`4 K7Q`), pager acknowledges, answers in TwiML, and the escalation stops; the timeline says
alice, via SMS. Also: a bare `ack`/`resolve` answers her latest page, unknown words are
explained, a resolved incident is answered with its state, STOP makes pager send her no
texts (her next contact method is used instead) until START, and a text from a number that
is not a pager user's, or one Twilio did not sign, changes nothing."""

from __future__ import annotations

import logging
import re

import pytest
import trio

from pager.core.events import ContactOptedIn, ContactOptedOut
from pager.core.model import Status
from pager.store.memory import MemoryLog

from .interactions import ALICE_PHONE, PUBLIC_URL, VIRTUAL_DEADLINE, scene

RULES = "[{after: 0m, via: sms}, {after: 5m, via: voice}]"


async def test_replying_with_the_code_acknowledges_and_escalation_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            (page,) = s.providers.twilio.sms
            assert page.to == ALICE_PHONE
            code = re.search(r"Reply 4 (\w{3}) to ack", page.body)
            assert code is not None and code[1] == s.state.incidents["inc-1"].short_code
            answer = await s.text(f"4 {code[1].lower()}")
            assert "acknowledged by Alice Example via SMS" in answer
            assert s.state.incidents["inc-1"].status is Status.ACKNOWLEDGED
            await trio.sleep(30 * 60)
            # no call at 5 minutes, no bob at 10
            assert s.providers.twilio.calls == [] and s.providers.slack.messages == []
            assert s.paged_users() == ["alice"]
            assert ("Acknowledged by alice via sms", "alice", "sms") in s.timeline()


async def test_bare_words_answer_the_latest_page_and_others_are_explained(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            await s.trigger("cpu", "db-2 cpu high")  # inc-2: alice's latest page
            await trio.sleep(1)
            before = s.log.last_seq
            for gibberish in ("hello?", "4 ZZ", "7 K7Q"):
                answer = await s.text(gibberish)
                assert "reply 4 CODE to acknowledge" in answer
            assert "knows no incident" in await s.text("ack 222")
            assert s.log.last_seq == before
            assert "#2" in await s.text("ack") and "resolved" in await s.text("resolve")
            assert s.state.incidents["inc-2"].status is Status.RESOLVED
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED
            # inc-2 is resolved: "resolve" now means inc-1, the latest page still open
            assert "#1" in await s.text("6")
            assert s.state.incidents["inc-1"].status is Status.RESOLVED
            before = s.log.last_seq
            code = s.state.incidents["inc-1"].short_code
            answer = await s.text(f"ack {code}")
            assert "is already resolved (by Alice Example): nothing to do" in answer
            assert s.log.last_seq == before


async def test_stop_sends_no_more_texts_until_start(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            assert await s.text("STOP") == ""  # Twilio confirms opt-outs itself
            (out,) = s.records(ContactOptedOut.TYPE)
            assert out.data == {
                "user_id": "alice", "method": "sms", "address": ALICE_PHONE, "keyword": "STOP",
                "message_sid": f"SM{1:032x}",
            }  # fmt: skip
            # an action still works, but pager texts no answer to an opted-out number
            assert await s.text("4") == ""
            assert s.state.incidents["inc-1"].status is Status.ACKNOWLEDGED
            # the next page skips SMS at once: her next rule (a call) runs now, not at 5m
            t = trio.current_time()
            await s.trigger("cpu", "db-2 cpu high")
            await trio.sleep(1)
            assert len(s.providers.twilio.sms) == 1
            assert [c.at - t for c in s.providers.twilio.calls] == [pytest.approx(0, abs=1e-6)]
            failed = s.state.notifications.for_incident("inc-2")[0]
            assert failed.method == "sms" and failed.status == "failed"
            assert "replied STOP" in (failed.last_error or "")
            assert "texts are on again" in await s.text("start")
            assert len(s.records(ContactOptedIn.TYPE)) == 1
            await s.trigger("mem", "db-3 memory")
            # texted again, once a minute has passed since her last text (the SMS throttle)
            await trio.sleep(60)
            assert len(s.providers.twilio.sms) == 2


async def test_a_replayed_stop_changes_nothing_after_a_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A signed STOP (or START) is valid for ever: its MessageSid is journaled with the
    opt-out, so a replay after START, in a later run, neither journals nor opts out again."""
    log = MemoryLog()
    stop, start = "SM" + "5" * 32, "SM" + "6" * 32
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES, log=log) as s:
            assert await s.text("STOP", sid=stop) == ""
            assert "texts are on again" in await s.text("START", sid=start)
        async with scene(RULES, log=log, trigger=False) as s:  # pager restarted on its log
            before = s.log.last_seq
            assert await s.text("STOP", sid=stop) == ""
            assert await s.text("START", sid=start) == ""
            assert s.log.last_seq == before
            assert not s.state.is_opted_out("sms", ALICE_PHONE)
            # a new STOP still works
            assert await s.text("STOP", sid="SM" + "7" * 32) == ""
            assert s.state.is_opted_out("sms", ALICE_PHONE)


async def test_a_message_is_acted_on_once(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES) as s:
            assert "acknowledged" in await s.text("4", sid="SM" + "a" * 32)
            before = s.log.last_seq
            assert await s.text("resolve", sid="SM" + "a" * 32) == ""
            assert s.log.last_seq == before


@pytest.mark.parametrize(
    "how", ["unknown-sender", "wrong-token", "tampered-body", "proxied-url", "unsigned"]
)
async def test_texts_that_do_not_verify_or_are_not_from_a_user_change_nothing(
    how: str, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE), caplog.at_level(logging.WARNING):
        async with scene(RULES) as s:
            code = s.state.incidents["inc-1"].short_code
            form = {"MessageSid": "SM" + "b" * 32, "From": ALICE_PHONE, "Body": f"6 {code}"}
            before = s.log.last_seq
            path = "/hooks/twilio/sms"
            if how == "unknown-sender":
                r = await s.twilio(path, {**form, "From": "+15555550999"})
                assert r.status_code == 200 and "<Message>" not in r.text
                assert any("not a pager user" in x.getMessage() for x in caplog.records)
                assert "0999" not in caplog.text  # the number is masked in the log
            elif how == "wrong-token":
                r = await s.twilio(path, form, token="not-the-auth-token")
            elif how == "tampered-body":
                r = await s.twilio(path, {**form, "Body": f"4 {code}"}, signed_form=form)
            elif how == "proxied-url":
                r = await s.twilio(path, form, url="http://10.0.0.7:8080" + path)
            else:
                r = await s.client.post(path, data=form)
            if how != "unknown-sender":
                assert r.status_code == 403
            await trio.sleep(1)
            assert s.log.last_seq == before
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED
            assert PUBLIC_URL  # the signature is over the public URL (see interactions.py)
