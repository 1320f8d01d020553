"""A signed gather for a voice notification whose call was never placed (no CallSid on
record: cancelled, or not yet due) answers nothing: without the check an incident could be
resolved through a cancelled notification, with any call's CallSid."""

from __future__ import annotations

import trio

from pager.core.model import Status

from ..standins.twilio import twilio_error
from .interactions import VIRTUAL_DEADLINE, scene
from .test_interactions_voice import said, twiml

RULES = "[{after: 0m, via: voice}]"


async def test_a_gather_for_a_call_never_placed_is_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES, trigger=False) as s:
            # Twilio refuses to place the call: the notification never gets a CallSid
            s.providers.twilio.fail_always(twilio_error(400, 21211, "not a valid phone number"))
            await s.trigger()
            await trio.sleep(60)
            unplaced = [n for n in s.state.notifications.by_id.values() if n.provider_id is None]
            assert unplaced and unplaced[0].method == "voice"
            before = s.log.last_seq
            form = {"CallSid": "CA" + "e" * 32, "Digits": "6"}
            doc = twiml(await s.twilio(f"/hooks/twilio/voice/{unplaced[0].id}/gather", form))
            assert "cannot answer" in said(doc)
            await trio.sleep(1)
            assert s.log.last_seq == before
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED
