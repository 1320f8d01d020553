"""Replay guards for the providers' signed requests: a Slack button press (by its signature,
unique per timestamp and body), a Twilio text (its MessageSid) or a key pressed in a call
(its CallSid) acts once. Before pager acts on one, the request's id is journaled
(`interaction.received`), and the read model remembers it until it expires: the same
request replayed later — while a Slack signature is still inside its 5 minutes, or any time
for Twilio's, which do not expire — is refused, after a restart as well as before.

Persist, then act: when the id cannot be journaled (the disk is full), the request is
answered 503 and nothing is done."""

from __future__ import annotations

from datetime import timedelta

from pager.actors.system import System
from pager.core.events import InteractionReceived

__all__ = ["ReplayGuard"]


class ReplayGuard:
    """Requests of one provider acted on, remembered for `keep` (in the journal)."""

    def __init__(self, system: System, provider: str, keep: timedelta) -> None:
        self.system = system
        self.provider = provider
        self.keep = keep
        self._claimed: set[str] = set()  # ids being journaled right now

    def seen(self, request_id: str) -> bool:
        """Whether `request_id` was acted on already (or is being, by another request)."""
        key = f"{self.provider}:{request_id}"
        return key in self._claimed or self.system.state.request_seen(key, self.system.clock.now())

    async def first_time(self, request_id: str) -> bool:
        """True once per request id: journals it, then the caller acts. False when it was
        seen already. Raises LogUnavailable (503) when it cannot be journaled."""
        if self.seen(request_id):
            return False
        key = f"{self.provider}:{request_id}"
        self._claimed.add(key)
        try:
            now = self.system.clock.now()
            event = InteractionReceived(
                provider=self.provider, request_id=request_id, expires_at=now + self.keep
            )
            await self.system.journal.record([event], now)
        finally:
            self._claimed.discard(key)
        return True
