"""The events of reaching people: notification intents and outcomes (journaled by the
incident and delivery actors), action links spent, and contact opt-outs. Part of the
vocabulary of `pager.core.events`, which re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..vocabulary import NotificationKind
from ._base import Event, IncidentEvent, event, upgrade

__all__ = [
    "ContactOptedIn",
    "ContactOptedOut",
    "LinkUsed",
    "NotificationCancelled",
    "NotificationDelivered",
    "NotificationEvent",
    "NotificationFailed",
    "NotificationRequested",
    "NotificationSent",
]


class NotificationEvent(IncidentEvent):
    """The events of one notification (`notification.*`): the notifications read model
    (pager.core.notifications) folds these."""

    __slots__ = ()


@event("notification.requested")
@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationRequested(NotificationEvent):
    """The intent to notify, journaled before anything is sent. `kind` "page" reaches a
    person by their rule `step` (`next_at`: when their next rule is due); "status" posts an
    incident update (`topic`: opened, acknowledged, resolved) to a service's chat channel."""

    incident_id: str
    notification_id: str
    kind: NotificationKind
    method: str
    address: str | None = None
    user_id: str | None = None
    step: int | None = None
    next_at: datetime | None = None
    urgency: str | None = None
    topic: str | None = None
    fallback_from: str | None = None
    previous: str | None = None  # kind "update": the provider id of the message to edit


@event("notification.sent")
@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationSent(NotificationEvent):
    """The provider accepted it (`provider_id`: its message id, call sid, ...); with
    `bundle_id`, as one of the pages that message carried (`notification.bundled`). A page
    names the person it reached (`user_id`): what storm mode's throttles count (older logs
    lack it, and count nothing). `editable`: the provider can edit this message in place
    when the incident changes (the transport says so; lines written before this field
    existed get it from `_LEGACY_EDITABLE`)."""

    incident_id: str
    notification_id: str
    attempt: int
    provider_id: str | None = None
    method: str | None = None
    bundle_id: str | None = None
    user_id: str | None = None
    editable: bool | None = None


@event("notification.failed")
@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationFailed(NotificationEvent):
    """An attempt failed. With `retry_at` it will be tried again then; `permanent` means
    never again (bad number, revoked token, or out of attempts). `bundle_id`: the attempt
    was that bundle's."""

    incident_id: str
    notification_id: str
    attempt: int
    error: str
    permanent: bool = False
    retry_at: datetime | None = None
    bundle_id: str | None = None


@event("notification.delivered")
@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationDelivered(NotificationEvent):
    """A receipt from the provider (e.g. Twilio's status callback): `status` as it says it
    (delivered, undelivered, failed, completed, no-answer, ...), and `failed` whether that
    word means the notification did not reach the person (the transport knows its
    provider's words; lines written before this field existed get it from
    `_LEGACY_FAILED_RECEIPTS`)."""

    incident_id: str
    notification_id: str
    status: str
    error: str | None = None
    failed: bool | None = None


@event("notification.cancelled")
@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationCancelled(NotificationEvent):
    """Not sent (or not retried) because it no longer matters, e.g. the incident was
    acknowledged first."""

    incident_id: str
    notification_id: str
    reason: str


@event("link.used")
@dataclass(frozen=True, slots=True, kw_only=True)
class LinkUsed(IncidentEvent):
    """A signed action link (email, Teams) performed its action: journaled in the same
    append as the action's own events, and never accepted again. Kept by the read model
    until `expires_at`, after which the link is refused as expired anyway."""

    incident_id: str
    link_id: str
    user_id: str
    action: str
    expires_at: datetime


@event("contact.opted_out")
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactOptedOut(Event):
    """The person asked for no more messages at `address` by `method` (an SMS reply of STOP
    or a synonym): pager sends none there until they opt in again; notifications by that
    method fail at once, so their next contact method is tried."""

    user_id: str
    method: str
    address: str
    keyword: str | None = None
    # the provider's id of the message that asked (Twilio's MessageSid): a signed request
    # replayed later, after a restart too, is known by it and changes nothing
    message_sid: str | None = None

    @property
    def subject(self) -> str:
        return f"user:{self.user_id}"


@event("contact.opted_in")
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactOptedIn(Event):
    """Messages to `address` by `method` are welcome again (START)."""

    user_id: str
    method: str
    address: str
    keyword: str | None = None
    # the provider's id of the message that asked (Twilio's MessageSid): a signed request
    # replayed later, after a restart too, is known by it and changes nothing
    message_sid: str | None = None

    @property
    def subject(self) -> str:
        return f"user:{self.user_id}"


# How lines written before `editable` and `failed` existed are read: what pager knew of its
# providers then (Slack edits its messages; Twilio's words for a failed receipt). A frozen
# record of the log's past, not the providers' present: that lives in pager/transports.
_LEGACY_EDITABLE = frozenset({"slack"})
_LEGACY_FAILED_RECEIPTS = frozenset({"failed", "undelivered", "busy", "no-answer", "canceled"})


@upgrade(NotificationSent)
def _sent_before_editable(data: dict[str, object]) -> None:
    if "editable" not in data and data.get("method") in _LEGACY_EDITABLE:
        data["editable"] = True


@upgrade(NotificationDelivered)
def _delivered_before_failed(data: dict[str, object]) -> None:
    if "failed" not in data:
        data["failed"] = data.get("status") in _LEGACY_FAILED_RECEIPTS
