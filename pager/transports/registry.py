"""Building the transports a configuration asks for: one per configured channel, plus the
console, which needs no configuration. A contact method without a configured channel gets a
transport that fails at once and for good, so the person's next method is tried.

`http` (an `httpx.AsyncBaseTransport`) carries every provider call of the HTTP transports
instead of the network: tests route them to in-process stand-ins with it.
"""

from __future__ import annotations

from typing import Any

import httpx

from pager.core.vocabulary import ContactMethod

from .base import DeliveryError, Message, Sent, Transport
from .console import ConsoleTransport
from .email import EmailTransport
from .slack import EDITS as SLACK_EDITS
from .slack import SlackTransport
from .teams import TeamsTransport
from .templates import Renderer
from .twilio_api import TwilioApi
from .twilio_sms import TwilioSmsTransport
from .twilio_voice import TwilioVoiceTransport
from .webhook import WebhookTransport

__all__ = ["MESSAGE_EDITS", "METHODS", "MissingTransport", "build_transports"]

METHODS: tuple[ContactMethod, ...] = tuple(ContactMethod)  # the one list (pager.core.vocabulary)

# the provider whose sent messages are edited in place as the incident changes (decide's
# `Context.edits`)
MESSAGE_EDITS = SLACK_EDITS


class MissingTransport(Transport):
    def __init__(self, method: str) -> None:
        self.method = method

    async def send(self, message: Message) -> Sent:
        raise DeliveryError(
            f"no {self.method} channel is configured (channels.{self.method})", permanent=True
        )


def build_transports(
    config: Any, http: httpx.AsyncBaseTransport | None = None, renderer: Renderer | None = None
) -> dict[str, Transport]:
    """Every method in METHODS mapped to its transport, rendering with `renderer` (by
    default one of the configuration's templates)."""
    channels = config.channels
    renderer = renderer or Renderer(config.templates)
    out: dict[str, Transport] = {"console": ConsoleTransport()}
    if channels.slack is not None:
        out["slack"] = SlackTransport(channels.slack, renderer, http=http)
    if channels.twilio is not None:
        api = TwilioApi(channels.twilio, http=http)
        out["sms"] = TwilioSmsTransport(api, renderer)
        out["voice"] = TwilioVoiceTransport(api)
    if channels.email is not None:
        public_url = str(config.server.public_url or "")
        out["email"] = EmailTransport(channels.email, renderer, public_url=public_url)
    if channels.teams is not None:
        out["teams"] = TeamsTransport(channels.teams, renderer, http=http)
    if channels.webhook is not None:
        out["webhook"] = WebhookTransport(channels.webhook, http=http)
    for method in METHODS:
        out.setdefault(method, MissingTransport(method))
    return out
