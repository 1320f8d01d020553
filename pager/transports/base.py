"""What every transport (one module per provider protocol) offers the delivery actors.

A transport turns a `Message` into one request to its provider and says how it went: a
`Sent` with the provider's id for the message, or a `DeliveryError` that says whether trying
again can help (`permanent`) and when (`retry_after`, from a 429's Retry-After). Transports
never retry, sleep or journal: the delivery actor does that, the same way for every provider.

The exception tree::

    DeliveryError                 the attempt failed; `permanent`, `retry_after`
    ├── ProviderRejected          the provider answered no (4xx, `ok: false`, SMTP 5xx)
    └── ProviderUnreachable       no answer (connection refused, timeout, 5xx, dropped)
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from pager.core.bundling import services_of, topics_of
from pager.core.model import Incident, Status

__all__ = [
    "BUNDLE_LISTED",
    "BundleContent",
    "BundleItem",
    "DeliveryError",
    "Message",
    "ProviderRejected",
    "ProviderUnreachable",
    "Sent",
    "Transport",
]


BUNDLE_LISTED = 100
"""Incidents a message lists one by one at most (an email; a webhook in full): a bundle of
10,000 incidents is still one readable message, which says how many more there are."""


@dataclass(frozen=True, slots=True)
class BundleItem:
    """One incident of a bundle, as it stands now; `links` its own action links; `topic`
    (a chat channel's bundle) what its latest status post in the bundle says: opened,
    acknowledged, resolved."""

    incident: Incident
    service_name: str
    notification_id: str
    links: dict[str, str] = field(default_factory=dict)
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class BundleContent:
    """What one message about several incidents carries (storm mode, `notification.bundled`):
    bundle `id`, the incidents still triggered (oldest first), and how many to list by title.
    A chat channel's bundle (`channel`) carries every incident it posts about, whatever its
    status, each once with its `topic`."""

    id: str
    items: tuple[BundleItem, ...]
    titles: int = 5
    channel: bool = False

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def triggered(self) -> int:
        """How many of its incidents are still triggered (what Acknowledge all acts on)."""
        return sum(1 for i in self.items if i.incident.status is Status.TRIGGERED)

    def services(self) -> list[tuple[str, int]]:
        """(service name, incidents) for each service, most first."""
        return services_of(i.service_name for i in self.items)

    def topics(self) -> list[tuple[str, int]]:
        """(topic, incidents) for a chat channel's bundle: opened, acknowledged, resolved."""
        return topics_of(i.topic for i in self.items)

    def topics_text(self) -> str:
        """`opened` when every incident has one topic, else `9 opened, 3 resolved`."""
        topics = self.topics()
        if len(topics) == 1:
            return topics[0][0]
        return ", ".join(f"{n} {topic}" for topic, n in topics)


@dataclass(frozen=True, slots=True)
class Message:
    """One notification to send.

    `kind` is "page" (reach `user_id` at `address`), "status" (an incident update, `topic`
    opened/acknowledged/resolved, to a service chat channel at `address`), "update" (edit
    the earlier message `previous` in place, where the provider allows it) or "bundle" (a
    page about several incidents at once: `bundle`, and `notification_id` is the bundle's
    id). `incident` is the incident as it stands now (a bundle's first); `links` maps action
    names (acknowledge, resolve, ...; `acknowledge_all` for a bundle) to signed URLs a person
    can open; `public_url` is where pager is reached from outside. `names` holds the display
    names of the people the incident names (who acknowledged or resolved it), by id: a
    message calls them as the dashboard does (`name_of`).
    """

    notification_id: str
    kind: str
    method: str
    address: str | None
    incident: Incident
    service_name: str
    user_id: str | None = None
    user_name: str | None = None
    topic: str | None = None
    previous: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    public_url: str = ""
    attempt: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    bundle: BundleContent | None = None
    names: dict[str, str] = field(default_factory=dict)

    def name_of(self, user_id: str) -> str:
        """What the message calls a person: their display name, else their id."""
        return self.names.get(user_id, user_id)


@dataclass(frozen=True, slots=True)
class Sent:
    provider_id: str | None = None
    detail: str | None = None


class DeliveryError(Exception):
    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class ProviderRejected(DeliveryError):
    pass


class ProviderUnreachable(DeliveryError):
    pass


class Transport(abc.ABC):
    """One provider protocol. `method` is the contact method it serves (slack, sms, ...)."""

    method: str = ""
    edits_messages: bool = False
    """The provider can edit a message it sent (`Sent.provider_id`) when the incident
    changes: journaled as `notification.sent`'s `editable`."""
    default_rate: float | None = None
    """Requests per second per `rate_key` the provider allows, when the channel's
    `rate_per_second` does not say (None: no pacing)."""

    @abc.abstractmethod
    async def send(self, message: Message) -> Sent:
        """Send (or, for kind "update", edit) once. Raises DeliveryError."""

    def rate_key(self, message: Message) -> str:
        """What the provider's rate limit counts per (a channel, a sending number...)."""
        return self.address_key(message.address)

    def address_key(self, address: str | None) -> str:
        """`rate_key` of a page to `address`."""
        return address or ""

    async def aclose(self) -> None:  # noqa: B027 - most transports hold nothing
        """Release connections."""
