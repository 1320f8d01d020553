"""What the two Twilio transports (SMS and voice) share: one `httpx.AsyncClient` for the
account (basic auth with the account sid and auth token, base URL `channels.twilio.api_url`),
the form-encoded `POST /2010-04-01/Accounts/{sid}/{Messages|Calls}.json`, and the meaning of
Twilio's errors (`{"code", "message", "status", "more_info"}`).

Errors: 21211 (invalid To), 21614 (not a mobile number), 21610 (the person replied STOP),
20003 (authentication) and any other 4xx are permanent; 429 / 20429 is retried after its
Retry-After; 5xx and network failures are the provider being unreachable.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from pager.config.models_channels import TwilioChannel

from .base import DeliveryError, ProviderRejected, ProviderUnreachable, Transport
from .provider_http import DEFAULT_RETRY_AFTER, make_client, request, retry_after

__all__ = [
    "FAILED_RECEIPTS",
    "FINAL_RECEIPTS",
    "PERMANENT_CODES",
    "UNREACHED_RECEIPTS",
    "TwilioApi",
    "TwilioTransport",
    "twilio_error",
]

# Twilio's words in a status callback (MessageStatus, CallStatus). The final word on a text
# or a call, worth journaling (queued, ringing... are steps on the way):
FINAL_RECEIPTS = frozenset(
    {"delivered", "undelivered", "failed", "read", "completed", "busy", "no-answer", "canceled"}
)
# a page that did not reach the person: their next contact method is tried
UNREACHED_RECEIPTS = frozenset({"failed", "undelivered", "busy", "no-answer"})
# a notification that failed (journaled as `notification.delivered` with `failed`)
FAILED_RECEIPTS = UNREACHED_RECEIPTS | {"canceled"}

log = logging.getLogger("pager.transports.twilio")

PERMANENT_CODES = {
    20003: "authentication failed (account sid / auth token)",
    21211: "the number is not a valid phone number",
    21214: "the number cannot be reached",
    21408: "no permission to send to this region",
    21610: "the person unsubscribed (replied STOP)",
    21612: "the number cannot be reached from this sender",
    21614: "the number is not a mobile number",
}


def twilio_error(response: httpx.Response, what: str) -> DeliveryError:
    status = response.status_code
    code: int | None = None
    detail = response.text[:200]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw = body.get("code")
        code = raw if isinstance(raw, int) else None
        detail = str(body.get("message") or detail)
    text = f"Twilio {what} answered {status}" + (f" (error {code})" if code else "")
    text += f": {PERMANENT_CODES.get(code or 0, detail)}"
    if status == 429 or code == 20429:
        return ProviderRejected(text, retry_after=retry_after(response) or DEFAULT_RETRY_AFTER)
    if status >= 500 or status == 408:
        return ProviderUnreachable(text, retry_after=retry_after(response))
    return ProviderRejected(text, permanent=True)


class TwilioApi:
    """The account's client, shared by the SMS and voice transports; closed when the last
    of them is closed."""

    def __init__(
        self, channel: TwilioChannel, *, http: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.account_sid = channel.account_sid
        self.from_number = channel.from_number
        self.client = make_client(
            base_url=channel.api_url,
            auth=(channel.account_sid, channel.auth_token),
            timeout=channel.timeout.total_seconds(),
            http=http,
        )
        self._holders = 0

    def hold(self) -> None:
        self._holders += 1

    async def release(self) -> None:
        self._holders -= 1
        if self._holders <= 0:
            await self.client.aclose()

    async def create(self, resource: str, form: dict[str, Any]) -> str | None:
        """POST a new Message or Call; its `sid`, or None when Twilio took it (2xx) but its
        answer does not say the sid (a garbled body from a proxy, say). Twilio has created
        the message or call then, so trying again would text or ring the person a second
        time: it counts as sent, without the sid that matches receipts (and, for a call,
        keypad answers) to it."""
        path = f"/2010-04-01/Accounts/{self.account_sid}/{resource}.json"
        response = await request(self.client, "POST", path, data=form)
        if not 200 <= response.status_code < 300:
            raise twilio_error(response, resource)
        try:
            sid = response.json().get("sid")
        except (ValueError, AttributeError):
            sid = None
        if not isinstance(sid, str) or not sid:
            log.warning(
                "Twilio %s answered %d without a readable sid: counted as sent (not sent "
                "again); its receipts cannot be matched to it",
                resource,
                response.status_code,
            )
            return None
        return sid


class TwilioTransport(Transport):
    """The base of the SMS and voice transports: they hold the account's `TwilioApi` (closed
    with the last of them) and are paced per sending number."""

    def __init__(self, api: TwilioApi) -> None:
        self.api = api
        api.hold()

    def address_key(self, address: str | None) -> str:
        return self.api.from_number

    async def aclose(self) -> None:
        await self.api.release()
