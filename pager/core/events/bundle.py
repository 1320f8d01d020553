"""The event of storm mode: pages of one person, by one contact method, about several
incidents, going out as one message (a bundle); or status posts to one service chat channel
(`user_id` None), several incidents' updates going out as one post. Part of the vocabulary
of `pager.core.events`.

The pages themselves stay what they were (`notification.requested`, one per incident and
rule); `notification.bundled` says which of them one message carries, before it is sent.
Each member's outcome is journaled as its own `notification.sent` / `notification.failed`
with the bundle's id, so every incident's timeline and notifications tell what reached whom.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._base import Event, event

__all__ = ["NotificationsBundled"]


@event("notification.bundled")
@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationsBundled(Event):
    """`notification_ids` (pages of `user_id` by `method` at `address`, about
    `incident_ids`, in the same order) go out as one message, `bundle_id` (`b17`): its
    id with the provider's callbacks (a call's TwiML URL, Slack's "Acknowledge all").
    Without `user_id` they are status posts to the chat channel `address` (an incident may
    appear more than once: opened, then acknowledged). Lines written before chat channels
    were bundled always have a `user_id`."""

    bundle_id: str
    user_id: str | None = None
    method: str
    address: str | None = None
    notification_ids: tuple[str, ...] = ()
    incident_ids: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        if self.user_id is None:
            return f"chat:{self.method}"
        return f"user:{self.user_id}"
