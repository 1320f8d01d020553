"""The dispatcher: starts one delivery actor per contact method, and wakes the right one
whenever the journal commits a `notification.requested` (and the lanes holding an
incident's pages when it is acknowledged or resolved, so that they are cancelled at once).
It also builds, for each attempt, the `Message` a transport sends: the incident as it
stands now (a person's bundle: its incidents still triggered; a chat channel's bundle:
every incident it posts about, with its latest topic), the names of the service and person
(and of whoever acknowledged or resolved it), and the action links; and it numbers the
bundles (`b1`, `b2`, ... across every method, going on from the journal's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio

from pager.clock import WallClock
from pager.core.bundles import Bundle
from pager.core.events import (
    IncidentAcknowledged,
    IncidentResolved,
    IncidentSnoozed,
    NotificationRequested,
)
from pager.core.model import Incident, Status
from pager.core.notifications import Notification
from pager.core.reach import attempt_limit
from pager.core.rules import RulesBook
from pager.core.state import SystemState
from pager.core.vocabulary import NotificationKind
from pager.store.base import Record
from pager.transports.base import BUNDLE_LISTED, BundleContent, BundleItem, Message, Transport

from .delivery import DeliveryActor, Fallback
from .journal import Journal

__all__ = ["Dispatcher"]

LinkMaker = Callable[[Notification], dict[str, str]]
BundleLinkMaker = Callable[[Bundle], dict[str, str]]


# what takes an incident out of `triggered`: its pages still held back are moot at once
_SETTLED = frozenset({IncidentAcknowledged.TYPE, IncidentResolved.TYPE, IncidentSnoozed.TYPE})


def _no_links(n: Notification) -> dict[str, str]:
    return {}


def _no_bundle_links(b: Bundle) -> dict[str, str]:
    return {}


class Dispatcher:
    def __init__(
        self,
        transports: dict[str, Transport],
        *,
        journal: Journal,
        state: SystemState,
        clock: WallClock,
        rules: Callable[[], RulesBook],
        fallback: Fallback,
        public_url: str = "",
        links: LinkMaker = _no_links,
        bundle_links: BundleLinkMaker = _no_bundle_links,
        timeouts: dict[str, float] | None = None,
        rates: dict[str, float | None] | None = None,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        self.state = state
        self.rules = rules
        self.public_url = public_url
        self.links = links
        self.bundle_links = bundle_links
        self._bundle_number = 0
        self.actors: dict[str, DeliveryActor] = {}
        for method, transport in transports.items():
            self.actors[method] = DeliveryActor(
                transport,
                journal=journal,
                state=state,
                clock=clock,
                make_message=self.make_message,
                fallback=fallback,
                timeout=(timeouts or {}).get(method, 10.0),
                # the channel's configured rate, else what the provider is known to allow
                rate_per_second=(rates or {}).get(method) or transport.default_rate,
                attempt_limit=self.attempt_limit,
                bundling=lambda: self.rules().bundling,
                new_bundle_id=self.new_bundle_id,
                make_bundle_message=self.make_bundle_message,
                may_send=may_send,
            )
        self.log = journal.log

    def transport_of(self, method: str) -> Transport | None:
        """The transport of `method`'s delivery actor (None: not configured)."""
        actor = self.actors.get(method)
        return None if actor is None else actor.transport

    def _committed(self, records: Sequence[Record]) -> None:
        for r in records:
            if r.type == NotificationRequested.TYPE:
                actor = self.actors.get(r.data.get("method", ""))
                if actor is not None:
                    actor.wake(r.data.get("notification_id"))
            elif r.type in _SETTLED:
                # (the journal's hook has folded it: the state says what the incident is now)
                self._settled(r.subject)

    def _settled(self, incident_id: str) -> None:
        """The incident was acknowledged, resolved or snoozed: each of its pages not sent
        yet (held back by the bundling window, a throttle or a retry) is named to its lane,
        which cancels it now, not when its next message falls due (and looks at none of
        its other pages for that)."""
        for n in self.state.notifications.for_incident(incident_id):
            if n.open and n.kind == NotificationKind.PAGE:
                actor = self.actors.get(n.method)
                if actor is not None:
                    actor.settled(n)

    async def run(
        self, *, task_status: trio.TaskStatus[Dispatcher] = trio.TASK_STATUS_IGNORED
    ) -> None:
        # journaled intents wake their actor from now on (a dispatcher may be built ahead of
        # time, by a standby that prepares its takeover)
        self.log.add_commit_hook(self._committed)
        try:
            async with trio.open_nursery() as nursery:
                for actor in self.actors.values():
                    await nursery.start(actor.run)
                task_status.started(self)
        finally:
            self.log.remove_commit_hook(self._committed)

    def new_bundle_id(self) -> str:
        """The next bundle's id: `b` and a number after every one journaled or handed out."""
        self._bundle_number = max(self._bundle_number, self.state.bundles.last_number) + 1
        return f"b{self._bundle_number}"

    def make_bundle_message(self, b: Bundle, attempt: int) -> Message | None:
        """The bundle as one message: its incidents still triggered (None: none is); a chat
        channel's: every incident it carries a status post of (None: none is known)."""
        rules = self.rules()
        items = self._chat_items(b, rules) if b.chat else self._page_items(b, rules)
        if not items:
            return None
        user = rules.users.get(b.user_id) if b.user_id is not None else None
        return Message(
            notification_id=b.id,
            kind="bundle",
            method=b.method,
            address=b.address,
            incident=items[0].incident,
            service_name=items[0].service_name,
            user_id=b.user_id,
            user_name=(user.name or user.id) if user else b.user_id,
            links=self.bundle_links(b),
            public_url=self.public_url,
            attempt=attempt,
            bundle=BundleContent(b.id, tuple(items), rules.bundling.titles, channel=b.chat),
            names=rules.names_of(items[0].incident.acknowledged_by, items[0].incident.resolved_by),
        )

    @staticmethod
    def _service_name(rules: RulesBook, inc: Incident) -> str:
        svc = rules.services.get(inc.service_id)
        return (svc.name or svc.id) if svc else inc.service_id

    def _page_items(self, b: Bundle, rules: RulesBook) -> list[BundleItem]:
        """A person's bundle: its incidents still triggered, each with its Acknowledge link."""
        items: list[BundleItem] = []
        for nid, iid in zip(b.notification_ids, b.incident_ids, strict=False):
            inc = self.state.incidents.get(iid)
            if inc is None or inc.status is not Status.TRIGGERED:
                continue
            n = self.state.notifications.by_id.get(nid)
            links = self.links(n) if n is not None and len(items) < BUNDLE_LISTED else {}
            items.append(
                BundleItem(
                    incident=inc,
                    service_name=self._service_name(rules, inc),
                    notification_id=nid,
                    links={k: v for k, v in links.items() if k == "acknowledge"},
                )
            )
        return items

    def _chat_items(self, b: Bundle, rules: RulesBook) -> list[BundleItem]:
        """A chat channel's bundle: each incident it posts about, once, with the topic of
        its latest post in the bundle."""
        book = self.state.notifications.by_id
        latest: dict[str, tuple[str, str | None]] = {}  # incident -> its last post, topic
        for nid, iid in zip(b.notification_ids, b.incident_ids, strict=False):
            n = book.get(nid)
            latest[iid] = (nid, n.topic if n is not None else None)
        return [
            BundleItem(
                incident=inc,
                service_name=self._service_name(rules, inc),
                notification_id=nid,
                topic=topic,
            )
            for iid, (nid, topic) in latest.items()
            if (inc := self.state.incidents.get(iid)) is not None
        ]

    def attempt_limit(self, n: Notification) -> int:
        """After how many failed attempts `n` counts as failed (its incident's policy)."""
        return attempt_limit(self.rules(), self.state.incidents.get(n.incident_id))

    def make_message(self, n: Notification, attempt: int) -> Message | None:
        inc = self.state.incidents.get(n.incident_id)
        if inc is None:
            return None
        rules = self.rules()
        svc = rules.services.get(inc.service_id)
        user = rules.users.get(n.user_id) if n.user_id else None
        return Message(
            notification_id=n.id,
            kind=n.kind,
            method=n.method,
            address=n.address,
            incident=inc,
            service_name=(svc.name or svc.id) if svc else inc.service_id,
            user_id=n.user_id,
            user_name=(user.name or user.id) if user else n.user_id,
            topic=n.topic,
            previous=n.previous,
            links=self.links(n),
            public_url=self.public_url,
            attempt=attempt,
            names=rules.names_of(inc.acknowledged_by, inc.resolved_by),
        )
