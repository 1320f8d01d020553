"""A title holding every C0 control character (as an incident journaled before ingest
cleaned titles still holds) reaches each channel safely: the TwiML of the call, of every
answer in it and of the SMS reply is well-formed XML (Twilio would fail the call
otherwise); the mail's bytes carry no NUL, CR or LF in the subject; the SMS text none at
all. On the mock clock, with the scene of the interaction tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import trio

from .interactions import ALICE_PHONE, VIRTUAL_DEADLINE, scene

C0 = "".join(chr(i) for i in range(32))
TITLE = f"db-1{C0}disk\x7ffull"
RULES = "[{after: 0m, via: voice}, {after: 0m, via: sms}, {after: 0m, via: email}]"
CALL = "/hooks/twilio/voice/inc-1-n1"


def well_formed(r: httpx.Response) -> ET.Element:
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    return ET.fromstring(r.text)  # noqa: S314 - our own answer; raises when ill-formed


async def test_every_c0_control_in_a_title_leaves_twiml_mail_and_sms_clean(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(RULES, trigger=False) as s:
            await s.trigger(summary=TITLE)
            await trio.sleep(1)
            assert s.state.incidents["inc-1"].title == TITLE  # journaled as it came
            call = next(c for c in s.providers.twilio.calls)
            doc = well_formed(await s.twilio(CALL, {"CallSid": call.sid, "AnsweredBy": "human"}))
            assert "db-1" in " ".join(x.text or "" for x in doc.iter("Say"))
            well_formed(await s.twilio(CALL, {"CallSid": call.sid, "AnsweredBy": "machine_start"}))
            well_formed(await s.twilio(CALL + "/gather", {"CallSid": call.sid, "Digits": "9"}))
            # the SMS reply names the incident by its title
            form = {
                "MessageSid": "SM" + "1" * 32,
                "From": ALICE_PHONE,
                "To": "+15555550199",
                "Body": "ack",
            }
            doc = well_formed(await s.twilio("/hooks/twilio/sms", form))
            assert "acknowledged by Alice Example" in (doc.findtext("Message") or "")
            (sms,) = s.providers.twilio.sms
            assert not any(c in sms.body for c in C0), sms.body
            (mail,) = s.email.mails
            raw = mail.as_bytes()
            assert b"\x00" not in raw and b"\x1b" not in raw
            subject = str(mail["Subject"])
            assert not any(c in subject for c in C0 + "\x7f"), subject
            assert subject.startswith("[pager] #1 db-1 disk")
