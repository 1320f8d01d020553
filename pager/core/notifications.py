"""The notifications read model: every notification, its attempts and its outcome (for
`GET /api/v1/notifications` and the delivery actors), folded from the `notification.*`
events. A notification is *pending* from its request until it is sent, cancelled or failed
for good; the delivery actors work from the pending set, so a restart retries every intent
that has no outcome yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._fast import copier, maker
from .events import (
    Event,
    NotificationCancelled,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
)
from .vocabulary import NotificationKind, NotificationStatus

__all__ = ["FOLDS", "Attempt", "Notification", "NotificationBook"]


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    outcome: str  # sent, failed, delivered (receipt), cancelled
    attempt: int | None = None
    detail: str | None = None


_OPEN = (NotificationStatus.PENDING, NotificationStatus.RETRYING)
_SENT = NotificationStatus.SENT


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    incident_id: str
    kind: NotificationKind
    method: str
    address: str | None
    user_id: str | None
    topic: str | None
    step: int | None
    previous: str | None
    requested_at: datetime
    status: NotificationStatus = NotificationStatus.PENDING
    attempts: int = 0
    provider_id: str | None = None
    retry_at: datetime | None = None
    last_error: str | None = None
    history: tuple[Attempt, ...] = ()
    bundle_id: str | None = None  # the bundle that carries it (notification.bundled)

    @property
    def open(self) -> bool:
        return self.status in _OPEN


def _replace(n: Notification, **changes: Any) -> Notification:
    return _copy(n, changes)


# dataclasses.replace and the constructor, made fast for replay (see _fast.py): a copier per
# set of fields an outcome sets, called with their values in this order
_copy = copier(Notification)
_Notification = maker(Notification)
_Attempt = maker(Attempt)
_sent = copier(
    Notification,
    ("status", "attempts", "provider_id", "retry_at", "history", "bundle_id"),
)
_failed = copier(
    Notification,
    ("status", "attempts", "retry_at", "last_error", "history", "bundle_id"),
)
_delivered = copier(Notification, ("status", "last_error", "history"))
_cancelled = copier(Notification, ("status", "retry_at", "history"))


class NotificationBook:
    def __init__(self) -> None:
        self.by_id: dict[str, Notification] = {}
        self.by_incident: dict[str, list[str]] = {}
        self.pending: dict[str, dict[str, None]] = {}  # method -> ordered set of ids
        self.by_provider_id: dict[str, str] = {}

    def apply(self, event: Event, at: datetime) -> None:
        fold = FOLDS.get(type(event))
        if fold is not None:
            fold(self, event, at)

    def requested(self, e: NotificationRequested, at: datetime) -> None:
        nid, iid, method = e.notification_id, e.incident_id, e.method
        self.by_id[nid] = _Notification(
            nid, iid, e.kind, method, e.address, e.user_id, e.topic, e.step, e.previous, at
        )
        ids = self.by_incident.get(iid)
        if ids is None:
            self.by_incident[iid] = [nid]
        else:
            ids.append(nid)
        pending = self.pending.get(method)
        if pending is None:
            self.pending[method] = {nid: None}
        else:
            pending[nid] = None

    def sent(self, e: NotificationSent, at: datetime) -> None:
        n = self.by_id.get(e.notification_id)
        if n is None:
            return
        attempt, provider_id = e.attempt, e.provider_id
        self.by_id[n.id] = _sent(
            n,
            _SENT,
            attempt,
            provider_id,
            None,
            (*n.history, _Attempt(at, "sent", attempt, provider_id)),
            e.bundle_id or n.bundle_id,
        )
        if provider_id:
            self.by_provider_id[provider_id] = n.id
        self._settled(n)

    def failed(self, e: NotificationFailed, at: datetime) -> None:
        n = self.by_id.get(e.notification_id)
        if n is None:
            return
        final = e.permanent or e.retry_at is None
        self.by_id[n.id] = _failed(
            n,
            NotificationStatus.FAILED if final else NotificationStatus.RETRYING,
            e.attempt,
            None if final else e.retry_at,
            e.error,
            (*n.history, _Attempt(at, "failed", e.attempt, e.error)),
            e.bundle_id or n.bundle_id,
        )
        if final:
            self._settled(n)

    def delivered(self, e: NotificationDelivered, at: datetime) -> None:
        n = self.by_id.get(e.notification_id)
        if n is None:
            return
        bad = bool(e.failed)
        self.by_id[n.id] = _delivered(
            n,
            NotificationStatus.FAILED if bad else NotificationStatus.DELIVERED,
            e.error if bad else n.last_error,
            (*n.history, _Attempt(at, e.status, None, e.error)),
        )
        self._settled(n)

    def cancelled(self, e: NotificationCancelled, at: datetime) -> None:
        n = self.by_id.get(e.notification_id)
        if n is None:
            return
        self.by_id[n.id] = _cancelled(
            n,
            NotificationStatus.CANCELLED,
            None,
            (*n.history, _Attempt(at, "cancelled", None, e.reason)),
        )
        self._settled(n)

    def _settled(self, n: Notification) -> None:
        """`n` is no longer open (sent, delivered, failed for good, cancelled)."""
        pending = self.pending.get(n.method)
        if pending is not None:
            pending.pop(n.id, None)

    def bundled(self, bundle_id: str, notification_ids: tuple[str, ...]) -> None:
        """`notification.bundled`: these pages go out together, as `bundle_id`."""
        for nid in notification_ids:
            n = self.by_id.get(nid)
            if n is not None:
                self.by_id[nid] = _replace(n, bundle_id=bundle_id)

    def add(self, n: Notification) -> None:
        """Install a notification as it stands (from a snapshot, or rebuilt from the log)."""
        if n.id in self.by_id:
            return
        self.by_id[n.id] = n
        self.by_incident.setdefault(n.incident_id, []).append(n.id)
        if n.open:
            self.pending.setdefault(n.method, {})[n.id] = None
        if n.provider_id:
            self.by_provider_id[n.provider_id] = n.id

    def forget(self, incident_id: str) -> None:
        """Drop an archived incident's finished notifications (open ones stay: they still
        have work to do)."""
        keep = []
        for nid in self.by_incident.pop(incident_id, ()):
            n = self.by_id[nid]
            if n.open:
                keep.append(nid)
                continue
            del self.by_id[nid]
            if n.provider_id and self.by_provider_id.get(n.provider_id) == nid:
                del self.by_provider_id[n.provider_id]
        if keep:
            self.by_incident[incident_id] = keep

    def reached(self, user_id: str) -> list[str]:
        """The incidents whose pages reached `user_id` (sent, alone or in a bundle), oldest
        first."""
        out: dict[str, None] = {}
        for n in self.by_id.values():
            if n.kind == "page" and n.user_id == user_id and n.status in ("sent", "delivered"):
                out[n.incident_id] = None
        return list(out)

    def for_incident(self, incident_id: str) -> list[Notification]:
        return [self.by_id[i] for i in self.by_incident.get(incident_id, ())]


FOLDS: dict[type, Callable[[NotificationBook, Any, datetime], None]] = {
    NotificationRequested: NotificationBook.requested,
    NotificationSent: NotificationBook.sent,
    NotificationFailed: NotificationBook.failed,
    NotificationDelivered: NotificationBook.delivered,
    NotificationCancelled: NotificationBook.cancelled,
}
"""Each `notification.*` event type's fold, `FOLDS[type](book, event, at)`: `apply` without
looking at the event's type twice (the read model's hot path)."""
