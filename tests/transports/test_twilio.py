"""The Twilio transports (SMS and voice) against the Twilio stand-in over real HTTP: basic
auth, form fields, E.164 numbers, the status callback, a text that fits one segment, the
call's TwiML URL and machine detection, and Twilio's error codes; plus the segment rules
(GSM-7 and UCS-2) the text is fitted with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from pager.config.models_channels import Templates, TwilioChannel
from pager.transports.base import DeliveryError, ProviderRejected, ProviderUnreachable
from pager.transports.templates import Renderer
from pager.transports.twilio_api import TwilioApi
from pager.transports.twilio_sms import TwilioSmsTransport, fit_title, segment_budget, sms_text
from pager.transports.twilio_voice import TwilioVoiceTransport

from ..standins.asgi import Fault
from ..standins.serve import served
from ..standins.twilio import TwilioStandIn, twilio_error
from .samples import PUBLIC_URL, SHORT_TIMEOUT, incident, message

SID, TOKEN, FROM = "AC" + "1" * 32, "auth-token", "+15555550199"
ALICE = "+15555550100"


@asynccontextmanager
async def twilio(
    token: str = TOKEN,
) -> AsyncIterator[tuple[TwilioStandIn, TwilioSmsTransport, TwilioVoiceTransport]]:
    standin = TwilioStandIn(SID, TOKEN, FROM)
    async with served(standin) as base:
        cfg = TwilioChannel.model_validate(
            {
                "api_url": base,
                "account_sid": SID,
                "auth_token": token,
                "from_number": FROM,
                "timeout": SHORT_TIMEOUT,
            }
        )
        api = TwilioApi(cfg)
        sms, voice = TwilioSmsTransport(api), TwilioVoiceTransport(api)
        try:
            yield standin, sms, voice
        finally:
            await sms.aclose()
            await voice.aclose()
            assert api.client.is_closed  # shared, and closed with the last of the two


async def test_sms_request_and_sid() -> None:
    with trio.fail_after(10):
        async with twilio() as (standin, sms, _):
            sent = await sms.send(message("sms", ALICE))
            (req,) = standin.requests
            assert req.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
            assert req.headers["authorization"].startswith("Basic ")
            assert req.headers["content-type"] == "application/x-www-form-urlencoded"
            (text,) = standin.sms
            assert (text.to, text.from_) == (ALICE, FROM)
            assert text.status_callback == f"{PUBLIC_URL}/hooks/twilio/status"
            code = incident().short_code
            assert text.body == (
                f"[pager] CRITICAL db-1 disk full (Checkout API). Reply 4 {code} to ack, "
                f"6 {code} to resolve"
            )
            assert sent.provider_id == text.sid
            assert sms.rate_key(message("sms", ALICE)) == FROM


async def test_a_long_title_is_cut_to_fit_one_segment_keeping_code_and_instructions() -> None:
    long = incident(title="Disk usage on db-1 crossed 95% on /var/lib/postgresql " * 5)
    with trio.fail_after(10):
        async with twilio() as (standin, sms, _):
            await sms.send(message("sms", ALICE, incident=long))
            body = standin.sms[0].body
            code = long.short_code
            limit, used = segment_budget(body)  # "[" and "]" are GSM-7 escapes: two each
            assert limit == 160 and 155 <= used <= 160 and used == len(body) + 2
            assert body.endswith(f"Reply 4 {code} to ack, 6 {code} to resolve")
            assert "Disk usage on db-1 crossed" in body and "..." in body


def test_segment_rules() -> None:
    assert segment_budget("plain text") == (160, 10)
    assert segment_budget("{braces} cost two") == (160, 19)
    assert segment_budget("naïve") == (70, 5)  # ï is not GSM-7: the whole text is UCS-2
    assert segment_budget("fire 🔥") == (70, 7)  # outside the BMP: two code units
    # a title with an emoji is cut to fit 70 UCS-2 units, or loses the emoji to fit 160
    render = lambda t: f"[pager] {t}. Reply 4 ABC to ack"  # noqa: E731
    fitted = fit_title(render, "🔥 " + "x" * 200)
    limit, used = segment_budget(fitted)
    assert used <= limit and fitted.endswith("Reply 4 ABC to ack")
    # when nothing can make it fit, the whole text goes (several segments)
    assert fit_title(lambda t: "y" * 300 + t, "title") == "y" * 300 + "title"


def test_a_custom_sms_template_is_fitted_too() -> None:
    templates = Templates.model_validate(
        {"sms": {"text": "{{ incident.short_code }}: {{ incident.title }} [{{ service.name }}]"}}
    )
    text = sms_text(Renderer(templates), message("sms", ALICE, incident=incident(title="z" * 300)))
    assert segment_budget(text) == (160, 160) and len(text) == 158  # [ ] count two
    assert text.startswith(incident().short_code + ": zzz")
    assert text.endswith("z... [Checkout API]")


async def test_call_request_points_twilio_at_our_twiml() -> None:
    with trio.fail_after(10):
        async with twilio() as (standin, _, voice):
            sent = await voice.send(message("voice", ALICE))
            (call,) = standin.calls
            assert standin.requests[0].path == f"/2010-04-01/Accounts/{SID}/Calls.json"
            assert call.url == f"{PUBLIC_URL}/hooks/twilio/voice/inc-7-n1"
            assert call.method == "POST"
            assert call.status_callback == f"{PUBLIC_URL}/hooks/twilio/status"
            assert call.status_events == ["completed"]
            assert call.machine_detection == "Enable"
            assert sent.provider_id == call.sid


@pytest.mark.parametrize(
    ("fault", "kind", "permanent", "retry_after"),
    [
        (twilio_error(400, 21211, "invalid To"), ProviderRejected, True, None),
        (twilio_error(400, 21614, "not a mobile number"), ProviderRejected, True, None),
        (twilio_error(400, 21610, "unsubscribed recipient"), ProviderRejected, True, None),
        (twilio_error(401, 20003, "Authenticate"), ProviderRejected, True, None),
        (
            twilio_error(429, 20429, "Too Many Requests", retry_after=5),
            ProviderRejected,
            False,
            5.0,
        ),
        (twilio_error(500, 20500, "Internal Server Error"), ProviderUnreachable, False, None),
        (Fault(delay=3), ProviderUnreachable, False, None),
        (Fault(drop=True), ProviderUnreachable, False, None),
    ],
    ids=["21211", "21614", "21610", "20003", "20429", "500", "timeout", "dropped"],
)
async def test_twilio_errors(
    fault: Fault, kind: type[DeliveryError], permanent: bool, retry_after: float | None
) -> None:
    with trio.fail_after(10):
        async with twilio() as (standin, sms, voice):
            standin.fail(fault, fault)
            for transport, method in ((sms, "sms"), (voice, "voice")):
                with pytest.raises(kind) as e:
                    await transport.send(message(method, ALICE))
                assert (e.value.permanent, e.value.retry_after) == (permanent, retry_after)


async def test_the_stand_in_checks_numbers_and_credentials_like_twilio() -> None:
    with trio.fail_after(10):
        async with twilio() as (standin, sms, _):
            standin.landlines.add("+15555550111")
            with pytest.raises(ProviderRejected, match="21614") as e:
                await sms.send(message("sms", "+15555550111"))
            assert e.value.permanent
            with pytest.raises(ProviderRejected, match="21211"):
                await sms.send(message("sms", "555-0100"))
        async with twilio(token="wrong") as (_, sms, _):
            with pytest.raises(ProviderRejected, match="20003") as e:
                await sms.send(message("sms", ALICE))
            assert e.value.permanent
