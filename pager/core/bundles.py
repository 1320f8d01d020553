"""The bundles read model: every bundle (which pages one message carried, to whom, the
provider's id once sent) and, per lane (person, contact method; or chat channel: method,
address), when its messages went out — what the throttles count, so they hold across a
restart (the snapshot keeps it; replay rebuilds it). Folded by `SystemState` from
`notification.bundled` and `notification.sent`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .bundling import LANE_MEMORY
from .events import NotificationsBundled

__all__ = ["BUNDLE_MEMORY", "Bundle", "BundleBook"]

BUNDLE_MEMORY = timedelta(days=1)
"""A bundle is answerable (Acknowledge all) this long after it was requested. Older ones are
forgotten as the log is folded (by the instants in the log, never the wall clock), so a
snapshot and a replay of the same records hold the same bundles."""


@dataclass(frozen=True, slots=True)
class Bundle:
    """One message about several incidents: pages of `user_id`, or (`user_id` None) status
    posts to the chat channel `address`."""

    id: str
    user_id: str | None
    method: str
    address: str | None
    notification_ids: tuple[str, ...]
    incident_ids: tuple[str, ...]
    requested_at: datetime
    provider_id: str | None = None
    sent_at: datetime | None = None

    @property
    def chat(self) -> bool:
        """Whether it is a chat channel's (status posts), not a person's (pages)."""
        return self.user_id is None

    @property
    def incidents(self) -> tuple[str, ...]:
        """Its incidents, each once, in order (a channel's may name one twice)."""
        return tuple(dict.fromkeys(self.incident_ids))


class BundleBook:
    def __init__(self) -> None:
        self.by_id: dict[str, Bundle] = {}
        self.by_provider_id: dict[str, str] = {}
        self.lanes: dict[tuple[str, str], list[datetime]] = {}  # (user, method) -> sent at
        # (method, address) of a chat channel -> when its status posts went out
        self.channels: dict[tuple[str, str], list[datetime]] = {}
        self.last_number = 0  # bundle ids are "b" and a number

    def bundled(self, ev: NotificationsBundled, at: datetime) -> None:
        self._forget(at - BUNDLE_MEMORY)
        self.by_id[ev.bundle_id] = Bundle(
            ev.bundle_id,
            ev.user_id,
            ev.method,
            ev.address,
            tuple(ev.notification_ids),
            tuple(ev.incident_ids),
            at,
        )
        number = ev.bundle_id[1:]
        if ev.bundle_id.startswith("b") and number.isdigit():
            self.last_number = max(self.last_number, int(number))

    def sent(
        self,
        user_id: str,
        method: str,
        bundle_id: str | None,
        provider_id: str | None,
        at: datetime,
    ) -> None:
        """A page of `user_id` by `method` went out (alone, or in `bundle_id`: counted once)."""
        if self._counts(bundle_id, provider_id, at):
            self._count(self.lanes, (user_id, method), at)

    def chat_sent(
        self,
        method: str,
        address: str,
        bundle_id: str | None,
        provider_id: str | None,
        at: datetime,
    ) -> None:
        """A status post to the chat channel `address` went out (alone, or in `bundle_id`:
        counted once)."""
        if self._counts(bundle_id, provider_id, at):
            self._count(self.channels, (method, address), at)

    def _counts(self, bundle_id: str | None, provider_id: str | None, at: datetime) -> bool:
        """Whether a message sent now counts for its lane: one alone does; a bundle's first
        member does (and marks the bundle sent), the others went in the same message."""
        if bundle_id is None:
            return True
        b = self.by_id.get(bundle_id)
        if b is None or b.sent_at is not None:
            return False
        self.by_id[bundle_id] = dataclasses.replace(b, provider_id=provider_id, sent_at=at)
        if provider_id:
            self.by_provider_id[provider_id] = bundle_id
        return True

    @staticmethod
    def _count(
        lanes: dict[tuple[str, str], list[datetime]], key: tuple[str, str], at: datetime
    ) -> None:
        lane = lanes.get(key)
        if lane is None:
            lane = lanes[key] = []
        lane.append(at)
        while lane and lane[0] < at - LANE_MEMORY:
            del lane[0]

    def sent_on(self, user_id: str, method: str) -> list[datetime]:
        return self.lanes.get((user_id, method), [])

    def chat_sent_on(self, method: str, address: str) -> list[datetime]:
        return self.channels.get((method, address), [])

    def _forget(self, before: datetime) -> None:
        """Drop bundles requested before `before`: the oldest come first (bundles are
        journaled in time order), so this stops at the first one to keep."""
        while self.by_id:
            bid, b = next(iter(self.by_id.items()))
            if b.requested_at >= before:
                return
            del self.by_id[bid]
            if b.provider_id and self.by_provider_id.get(b.provider_id) == bid:
                del self.by_provider_id[b.provider_id]

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "last_number": self.last_number,
            "bundles": list(self.by_id.values()),
            # copies: the snapshot is serialized in another thread while the lanes go on
            "lanes": [[user, method, list(times)] for (user, method), times in self.lanes.items()],
            "channels": [
                [method, address, list(times)] for (method, address), times in self.channels.items()
            ],
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any] | None) -> BundleBook:
        book = cls()
        if not data:
            return book
        book.last_number = data.get("last_number", 0)
        for raw in data.get("bundles", ()):
            b = Bundle(
                raw["id"],
                raw.get("user_id"),
                raw["method"],
                raw.get("address"),
                tuple(raw["notification_ids"]),
                tuple(raw["incident_ids"]),
                datetime.fromisoformat(raw["requested_at"]),
                raw.get("provider_id"),
                None if raw.get("sent_at") is None else datetime.fromisoformat(raw["sent_at"]),
            )
            book.by_id[b.id] = b
            if b.provider_id:
                book.by_provider_id[b.provider_id] = b.id
        for user, method, times in data.get("lanes", ()):
            book.lanes[(user, method)] = [datetime.fromisoformat(t) for t in times]
        for method, address, times in data.get("channels", ()):  # since chat lanes (optional)
            book.channels[(method, address)] = [datetime.fromisoformat(t) for t in times]
        return book
