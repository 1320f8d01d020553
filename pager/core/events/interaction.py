"""The event of a provider's signed request about to be acted on (a Slack button press, a
Twilio SMS reply, a key pressed in a Twilio call): journaled before pager acts, so the same
request replayed — while its signature is still good, after a restart too — is known and
changes nothing. Part of the vocabulary of `pager.core.events`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._base import Event, event

__all__ = ["InteractionReceived"]


@event("interaction.received")
@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionReceived(Event):
    """`provider` (slack, twilio) sent the request `request_id` (Slack: the request's
    signature, unique per timestamp and body; Twilio: the MessageSid of a text, the CallSid
    of a call's answer). The read model remembers it until `expires_at`: a Slack signature
    is refused after 5 minutes anyway; a Twilio signature never expires, so its ids are kept
    for weeks."""

    provider: str
    request_id: str
    expires_at: datetime

    @property
    def subject(self) -> str:
        return f"interactions:{self.provider}"

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.request_id}"
