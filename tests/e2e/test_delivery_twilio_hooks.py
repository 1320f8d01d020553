"""Twilio calling back into pager (`/hooks/twilio/*`), on trio's MockClock with pager's own
web app in-process: delivery receipts journaled as `notification.delivered`, a failed one
trying the person's next contact method at once, the call's TwiML and its key menu, and
every request verified with twilio's RequestValidator against `server.public_url` (not the
URL the request came in on) — a bad or missing signature gets 403 and changes nothing.
Requests are signed with twilio's own `RequestValidator.compute_signature`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
import trio
from twilio.request_validator import RequestValidator

from pager.actors.messages import Ingest
from pager.clock import TrioWallClock
from pager.core.commands import TriggerAlert
from pager.core.events import NotificationDelivered
from pager.service import Running
from pager.store.memory import MemoryLog
from pager.transports.registry import build_transports
from pager.web.app import create_app

from ..harness import EPOCH
from ..standins.scene import PUBLIC_URL, TWILIO_TOKEN, Providers, delivery_config, running

VIRTUAL_DEADLINE = 24 * 3600
NOW = 1e-6
SIGNER = RequestValidator(TWILIO_TOKEN)


@dataclass
class Scene:
    run: Running
    log: MemoryLog
    providers: Providers
    client: httpx.AsyncClient

    async def post(
        self, path: str, form: dict[str, str], signature: str | None = "sign"
    ) -> httpx.Response:
        headers = {}
        if signature == "sign":
            signature = SIGNER.compute_signature(PUBLIC_URL + path, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.client.post(path, data=form, headers=headers)

    def delivered(self) -> list[tuple[str, str]]:
        return [
            (r.data["notification_id"], r.data["status"])
            for r in self.log.read_from(1)
            if r.type == NotificationDelivered.TYPE
        ]


@asynccontextmanager
async def scene(rules: str) -> AsyncIterator[Scene]:
    providers = Providers()
    config = delivery_config(rules=rules)
    log = MemoryLog()
    transports = build_transports(config, http=providers.http)
    async with running(
        config, event_log=log, clock=TrioWallClock(EPOCH), transports=transports
    ) as run:
        app = httpx.ASGITransport(app=create_app(run.system, run.actors))
        # pager sits behind a proxy: requests arrive for another URL than the public one
        async with httpx.AsyncClient(transport=app, base_url="http://10.0.0.7:8080") as client:
            await run.system.submit(
                Ingest(
                    "checkout",
                    "disk",
                    "pagerduty",
                    TriggerAlert(key="disk", summary="db-1 disk full", severity="critical"),
                )
            )
            await trio.sleep(1)
            yield Scene(run, log, providers, client)


def sms_receipt(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+15555550100",
        "From": "+15555550199",
        **extra,
    }


async def test_receipts_are_journaled_once_and_steps_on_the_way_ignored(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: sms}, {after: 5m, via: voice}]") as s:
            sid = s.providers.twilio.sms[0].sid
            assert (
                await s.post("/hooks/twilio/status", sms_receipt(sid, "sent"))
            ).status_code == 204
            assert s.delivered() == []
            r = await s.post("/hooks/twilio/status", sms_receipt(sid, "delivered"))
            assert r.status_code == 204
            r = await s.post("/hooks/twilio/status", sms_receipt(sid, "delivered"))  # again
            assert r.status_code == 204
            assert s.delivered() == [("inc-1-n1", "delivered")]
            n = s.run.system.state.notifications.by_id["inc-1-n1"]
            assert n.status == "delivered" and [a.outcome for a in n.history] == [
                "sent",
                "delivered",
            ]
            texts = [t.text for t in s.run.system.state.incidents["inc-1"].timeline]
            assert "Notification inc-1-n1: delivered" in texts
            # an unknown sid is answered and ignored
            r = await s.post("/hooks/twilio/status", sms_receipt("SM" + "f" * 32, "delivered"))
            assert r.status_code == 204 and len(s.delivered()) == 1


@pytest.mark.parametrize(
    ("rules", "receipt", "next_method"),
    [
        (
            "[{after: 0m, via: sms}, {after: 5m, via: voice}]",
            {"MessageStatus": "undelivered", "ErrorCode": "30003"},
            "voice",
        ),
        ("[{after: 0m, via: voice}, {after: 5m, via: sms}]", {"CallStatus": "no-answer"}, "sms"),
        ("[{after: 0m, via: voice}, {after: 5m, via: sms}]", {"CallStatus": "busy"}, "sms"),
    ],
    ids=["sms-undelivered", "call-no-answer", "call-busy"],
)
async def test_a_failed_receipt_tries_the_next_contact_method_at_once(
    rules: str, receipt: dict[str, str], next_method: str, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(rules) as s:
            twilio = s.providers.twilio
            first = twilio.sms[0].sid if "MessageStatus" in receipt else twilio.calls[0].sid
            key = "MessageSid" if "MessageStatus" in receipt else "CallSid"
            await trio.sleep(30)
            t = trio.current_time()
            r = await s.post("/hooks/twilio/status", {key: first, **receipt})
            assert r.status_code == 204
            await trio.sleep(1)
            status = receipt.get("MessageStatus") or receipt["CallStatus"]
            assert s.delivered() == [("inc-1-n1", status)]
            n1, n2 = s.run.system.state.notifications.for_incident("inc-1")
            assert n1.status == "failed" and n2.method == next_method
            nxt = twilio.calls if next_method == "voice" else twilio.sms
            assert len(nxt) == 1 and nxt[-1].at == pytest.approx(t, abs=NOW)  # not at 5 minutes
            await trio.sleep(10 * 60)
            assert len(twilio.calls) + len(twilio.sms) == 2  # and not again at its own time


@pytest.mark.parametrize(
    "signature",
    [None, "", "bm90IGEgc2lnbmF0dXJl", "proxied-url"],
    ids=["absent", "empty", "wrong", "signed-for-the-request-url"],
)
async def test_unverified_requests_get_403_and_change_nothing(
    signature: str | None, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: sms}]") as s:
            form = sms_receipt(s.providers.twilio.sms[0].sid, "undelivered")
            if signature == "proxied-url":
                signature = SIGNER.compute_signature(
                    "http://10.0.0.7:8080/hooks/twilio/status", form
                )
            before = s.log.last_seq
            for path in (
                "/hooks/twilio/status",
                "/hooks/twilio/voice/inc-1-n1",
                "/hooks/twilio/voice/inc-1-n1/gather",
            ):
                r = await s.post(path, form, signature)
                assert r.status_code == 403, path
            # a valid signature over other parameters does not do either
            r = await s.post(
                "/hooks/twilio/status",
                {**form, "MessageStatus": "delivered"},
                SIGNER.compute_signature(PUBLIC_URL + "/hooks/twilio/status", form),
            )
            assert r.status_code == 403
            await trio.sleep(5)
            assert s.log.last_seq == before
            assert s.run.system.state.notifications.by_id["inc-1-n1"].status == "sent"


def twiml(r: httpx.Response) -> ET.Element:
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    return ET.fromstring(r.text)  # noqa: S314 - our own answer


async def test_the_call_reads_the_incident_and_offers_the_keys(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: voice}]") as s:
            call = s.providers.twilio.calls[0]
            assert call.url == f"{PUBLIC_URL}/hooks/twilio/voice/inc-1-n1"
            answered = {"CallSid": call.sid, "CallStatus": "in-progress", "AnsweredBy": "human"}
            doc = twiml(await s.post("/hooks/twilio/voice/inc-1-n1", answered))
            gather = doc.find("Gather")
            assert gather is not None
            assert gather.get("numDigits") == "1"
            assert gather.get("action") == f"{PUBLIC_URL}/hooks/twilio/voice/inc-1-n1/gather"
            said = " ".join(x.text or "" for x in gather.iter("Say"))
            assert "critical" in said and "Checkout API" in said and "db-1 disk full" in said
            assert "Press 4 to acknowledge, 6 to resolve, 5 to escalate" in said
            assert doc[-1].tag == "Hangup"
            # an answering machine gets the essentials and the call ends
            machine = {**answered, "AnsweredBy": "machine_start"}
            doc = twiml(await s.post("/hooks/twilio/voice/inc-1-n1", machine))
            assert [x.tag for x in doc] == ["Say", "Hangup"] and "db-1 disk full" in (
                doc[0].text or ""
            )
            # star repeats; 4 acknowledges (see test_interactions_voice.py for every key)
            gather_path = "/hooks/twilio/voice/inc-1-n1/gather"
            doc = twiml(await s.post(gather_path, {"CallSid": call.sid, "Digits": "*"}))
            assert doc.find("Gather") is not None
            doc = twiml(await s.post(gather_path, {"CallSid": call.sid, "Digits": "4"}))
            assert [x.tag for x in doc] == ["Say", "Hangup"]
            assert "Incident number 1 is acknowledged" in (doc[0].text or "")
