"""Pages to people, and status posts to chat channels, go through lanes: storm mode.

A lane is one person by this actor's contact method, or one service chat channel (its
address) of this method. Its task sends one message at a time,
when the lane's rules allow one (`pager.core.bundling.next_send_at`: `bundling.after` per
`bundling.window`, then the method's throttles, counted from the journal so they hold over a
restart) and the provider's rate does. While the pages due and the messages of the window
are no more than `bundling.after`, each page goes out alone, as it always did; past that, the
message carries every page of the lane that is due by then, as one bundle: first
journaled (`notification.bundled`, which pages it carries), then sent once, and its outcome
journaled for each page it carried (`notification.sent` / `notification.failed` with the
bundle's id), so every incident's timeline and the person's next contact method work as
for a page alone. A bundle that fails is retried as it was; pages that come meanwhile wait
for the next message. Pages of incidents acknowledged or resolved meanwhile are cancelled,
never sent — a bundle whose incidents were all acknowledged is not sent at all — and at
once: when the incident leaves `triggered` the dispatcher names its pages to their lanes,
so the page reads `cancelled` (not `pending` until the window ends) in the API and on the
incident's page. A waiting lane cancels just the pages named (those of every incident
settled since it last ran, in one append) and goes on waiting: in a storm a lane holds
thousands of pages, and looking at all of them for each incident resolved would cost the
square of the storm.

A chat channel's lane is the same with three differences: only `bundling.after` per
`bundling.window` holds it back (no person's throttles); nothing is cancelled (a channel is
told that an incident opened even when it is resolved by then: the bundle says "3 opened,
2 resolved"); and its bundle names every incident it carries, each with its latest topic.

Escalation does not wait for any of this: the incident actors request pages on their own
time; only what reaches the person is held back and bundled.

(`_bundle.py`: which due pages are still to send, and one attempt of a journaled bundle.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import trio

from pager.clock import trio_deadline
from pager.core.bundling import BundlePolicy, next_send_at
from pager.core.events import NotificationsBundled
from pager.core.model import Status
from pager.core.notifications import Notification
from pager.core.vocabulary import NotificationKind
from pager.transports.base import Transport

from ._bundle import BundleDelivery, BundleMessageFactory

__all__ = ["BundleMessageFactory", "DeliveryActor"]

log = logging.getLogger("pager.delivery")

IDLE_TURN = 1.0  # seconds a lane waits after a turn that could do nothing (a full disk)

Lane = tuple[str | None, str | None]
"""(user id, None): a person's lane; (None, address): a chat channel's."""


def lane_of(n: Notification) -> Lane | None:
    """The lane that sends `n`: a page's person, a status post's channel; None for the
    others (edits in place)."""
    if n.kind == NotificationKind.PAGE:
        return None if n.user_id is None else (n.user_id, None)
    if n.kind == NotificationKind.STATUS:
        return None if n.address is None else (None, n.address)
    return None


def _default_policy() -> BundlePolicy:
    return BundlePolicy()


class DeliveryActor(BundleDelivery):
    def __init__(
        self,
        transport: Transport,
        *,
        bundling: Callable[[], BundlePolicy] = _default_policy,
        new_bundle_id: Callable[[], str] | None = None,
        make_bundle_message: BundleMessageFactory | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(transport, **kwargs)
        self.bundling = bundling
        self._numbers = 0
        self.new_bundle_id = new_bundle_id or self._own_bundle_id
        self.make_bundle_message: BundleMessageFactory = make_bundle_message or (
            lambda b, attempt: None
        )
        self._lanes: dict[Lane, trio.Event] = {}  # lane -> the poke that wakes it
        # lane -> its pages taken so far, oldest first (some may be done: they are pruned
        # when the lane looks), so a look costs that person's pages, not everyone's
        self._queued: dict[Lane, dict[str, None]] = {}
        # lane -> what a waiting lane waits for: (until, the throttles' earliest, the
        # policy it was computed with); a new page wakes it only when it could go sooner
        self._waits: dict[Lane, tuple[datetime, datetime, BundlePolicy]] = {}
        # lane -> its pages whose incidents left `triggered` since it last ran (`settled`)
        self._settled: dict[Lane, dict[str, None]] = {}
        self._relook: set[Lane] = set()  # waiting lanes that must look at all their pages
        self._dropped: set[str] = set()  # pages of incidents nobody knows: never sent
        self.bundles_sent = 0

    def _own_bundle_id(self) -> str:
        self._numbers = max(self._numbers, self.state.bundles.last_number) + 1
        return f"b{self._numbers}"

    # ------------------------------------------------------------------ lanes

    def _take_page(self, n: Notification) -> bool:
        lane = lane_of(n)
        if lane is None:
            return False
        self._queued.setdefault(lane, {})[n.id] = None
        poke = self._lanes.get(lane)
        if poke is not None:
            if self._sooner(lane, n):
                self._relook.add(lane)
                poke.set()
        else:
            assert self._nursery is not None
            self._lanes[lane] = trio.Event()
            who = lane[0] if lane[0] is not None else "a chat channel"
            self._nursery.start_soon(self._lane, lane, name=f"{self.method} lane {who}")
        return True

    def settled(self, n: Notification) -> None:
        """Page `n`'s incident is no longer triggered: its lane cancels it now, not when its
        next message is due (a lane not running yet looks at all its pages when it starts)."""
        lane = lane_of(n)
        poke = self._lanes.get(lane) if lane is not None else None
        if lane is not None and poke is not None:
            self._settled.setdefault(lane, {})[n.id] = None
            poke.set()

    def _sooner(self, lane: Lane, n: Notification) -> bool:
        """Whether new page `n` could make its waiting lane's next message due sooner (or
        must fail at once: opted out). While the lane waits for the bundling window or a
        throttle, another page changes nothing, and waking it would cost a look at all its
        pages for each new page: a storm's cost would grow with the square of its pages."""
        wait = self._waits.get(lane)
        if wait is None or self._opted_out(n):
            return True
        until, allowed, policy = wait
        if self.bundling() is not policy:  # the rules changed (a reload): look again
            return True
        return max(n.retry_at or self.clock.now(), allowed) < until

    def _pages_of(self, lane: Lane) -> list[Notification]:
        """The lane's pages waiting to go out (or to be tried again), oldest first; the
        ones done meanwhile leave its index."""
        book = self.state.notifications
        pending = book.pending.get(self.method, {})
        queued = self._queued.get(lane, {})
        out = []
        done = []
        for nid in queued:
            n = book.by_id.get(nid)
            if n is None or nid not in pending or nid in self._dropped:
                done.append(nid)
            else:
                out.append(n)
        for nid in done:
            del queued[nid]
        return out

    def _opted_out(self, n: Notification) -> bool:
        return n.address is not None and self.state.is_opted_out(self.method, n.address)

    def _sent_on(self, lane: Lane) -> list[datetime]:
        """When the lane's messages went out (what its rules count), oldest first."""
        user_id, address = lane
        if user_id is not None:
            return self.state.bundles.sent_on(user_id, self.method)
        assert address is not None
        return self.state.bundles.chat_sent_on(self.method, address)

    def _due(
        self, lane: Lane, pages: list[Notification], now: datetime
    ) -> tuple[datetime, datetime, BundlePolicy]:
        """When the lane may send its next message (a page is ready, and the rules allow),
        when the rules alone allow it, and the policy that said so."""
        ready = min(n.retry_at or now for n in pages)
        policy = self.bundling()
        rules = policy.rules(self.method) if lane[0] is not None else policy.chat_rules()
        allowed = next_send_at(rules, self._sent_on(lane), now)
        return max(ready, allowed), allowed, policy

    async def _lane(self, lane: Lane) -> None:
        try:
            while True:
                self._relook.discard(lane)
                pages = self._pages_of(lane)
                if not pages:
                    # (no await since the look: a new page starts a new lane)
                    self._queued.pop(lane, None)
                    return
                stopped = [n for n in pages if n.bundle_id is None and self._opted_out(n)]
                if stopped:  # not a message: it fails at once, whatever the throttles say
                    for n in stopped:
                        await self._attempt(n, paced=True)
                        if self.state.notifications.by_id.get(n.id) == n:  # nothing journaled
                            self._dropped.add(n.id)
                    continue
                if await self._cancel_settled(pages):
                    continue
                now = self.clock.now()
                due, allowed, policy = self._due(lane, pages, now)
                if due > now:
                    self._waits[lane] = (due, allowed, policy)
                    try:
                        await self._wait(lane, due)
                    finally:
                        del self._waits[lane]
                    continue
                try:
                    progressed = await self._turn(lane, pages)
                except Exception:  # a bug must cost this lane a pause, not every delivery
                    log.exception("%s lane of %s failed", self.method, lane[0] or "a channel")
                    progressed = False
                if not progressed:
                    await trio.sleep(IDLE_TURN)
        finally:
            del self._lanes[lane]
            self._settled.pop(lane, None)
            self._relook.discard(lane)

    async def _wait(self, lane: Lane, due: datetime) -> None:
        """Wait until the lane's next message is `due`, or a page comes that could go
        sooner (`_sooner`), or the lane has no page left. The pages the dispatcher names as
        settled meanwhile are cancelled as they come (`_cancel_named`), without a look at the
        others, and the wait goes on to the same end: without them the next message can only
        be due later, never sooner, and the look when the wait ends sees that."""
        deadline = trio_deadline(self.clock, due)
        while lane not in self._relook and trio.current_time() < deadline:
            if self._settled.get(lane):
                if not await self._cancel_named(lane):
                    return  # no page left: the lane ends
                continue
            poke = self._lanes[lane] = trio.Event()
            with trio.move_on_at(deadline) as waited:
                await poke.wait()
            if waited.cancelled_caught:
                return

    async def _turn(self, lane: Lane, pages: list[Notification]) -> bool:
        """Send the lane's next message. False when nothing could be done."""
        now = self.clock.now()
        first = next(n for n in pages if n.retry_at is None or n.retry_at <= now)
        await self._pace_key(self.transport.address_key(first.address))
        # what is due now that the provider's rate allows a message (more may have come)
        now = self.clock.now()
        due = [
            n
            for n in self._pages_of(lane)
            if (n.retry_at is None or n.retry_at <= now) and n.address == first.address
        ]
        retrying = next((n.bundle_id for n in due if n.bundle_id is not None), None)
        if retrying is not None:  # a bundle journaled before (a retry, a restart): as it was
            return await self._attempt_bundle(retrying, [n for n in due if n.bundle_id == retrying])
        live = await self._still_due([n for n in due if n.bundle_id is None])
        if not live:
            return bool(due)
        policy = self.bundling()
        in_window = sum(1 for t in self._sent_on(lane) if t > now - policy.window)
        if len(live) == 1 or in_window + len(live) <= policy.after:
            # no storm: the oldest page goes alone (the others follow, one each)
            await self._attempt(live[0], paced=True)
            return True
        bundle_id = self.new_bundle_id()
        bundled = NotificationsBundled(
            bundle_id=bundle_id,
            user_id=lane[0],
            method=self.method,
            address=first.address,
            notification_ids=tuple(n.id for n in live),
            incident_ids=tuple(n.incident_id for n in live),
        )
        if not await self._record(bundled):
            return False
        book = self.state.notifications.by_id
        return await self._attempt_bundle(bundle_id, [book.get(n.id, n) for n in live])

    async def _cancel_named(self, lane: Lane) -> bool:
        """Cancel the pages the dispatcher named since the lane last ran (`settled`): those
        still pending, in one append whatever their incidents, with the reasons
        `_cancel_moot` gives. Only they are looked at (a storm's lane holds thousands of
        pages). False when the lane has no page left."""
        ids = self._settled.pop(lane, {})
        book = self.state.notifications
        pending = book.pending.get(self.method, {})
        named = [n for i in ids if i in pending and (n := book.by_id.get(i)) is not None]
        named = [n for n in named if n.id not in self._dropped]
        if named:
            await self._cancel_moot(named)  # (a page whose incident is triggered again stays)
        pending = book.pending.get(self.method, {})
        queued = self._queued.get(lane, {})
        for nid in ids:
            if nid not in pending or nid in self._dropped:
                queued.pop(nid, None)
        # (a page the journal could not take stays pending, queued: the next look tries
        # again, and a message never carries it: `_still_due`)
        return bool(queued)

    async def _cancel_settled(self, pages: list[Notification]) -> bool:
        """Cancel the lane's pages whose incidents are acknowledged or resolved, whenever
        they were to go out (held back by the window, a throttle or a retry): a page shows
        its fate as soon as it has one. True when some left the pending set."""
        settled = []
        for n in pages:
            if n.kind != NotificationKind.PAGE:
                continue  # a channel is told what happened, even after the fact
            inc = self.state.incidents.get(n.incident_id)
            if inc is None or inc.status is not Status.TRIGGERED:
                settled.append(n)
        if not settled:
            return False
        await self._cancel_moot(settled)
        pending = self.state.notifications.pending.get(self.method, {})
        return any(n.id not in pending or n.id in self._dropped for n in settled)
