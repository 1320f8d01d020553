"""The base of the delivery actor (one per contact method: slack, sms, voice, email, teams,
webhook, console): it sends every pending notification of its method through its transport,
retries with backoff and jitter, honours Retry-After, respects the provider's rate limit,
leaves a failing provider alone for a while (circuit breaker), and journals every attempt and
outcome. Pages to people and status posts to chat channels go through their lanes
(`_lanes.py`: storm mode, bundles); this module is what every notification shares, and the
path of the others (edits in place of a message already sent).

It works from the durable pending set (`state.notifications.pending[method]`), woken through a
one-slot channel when new intents are journaled, so nothing is queued in memory that is not
already on disk and a restart picks up every intent without an outcome. A page for an
incident that was acknowledged or resolved meanwhile is cancelled, not sent. When a page
fails for good, the incident actor is asked to try the person's next contact method at once
— as it does at once for an address whose owner opted out of the method (SMS STOP).

Delivery never blocks escalation: the incident actors never wait for it.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import trio

from pager.clock import WallClock, trio_deadline
from pager.core.backoff import CircuitBreaker, RetryPolicy
from pager.core.events import (
    Event,
    NotificationCancelled,
    NotificationFailed,
    NotificationSent,
)
from pager.core.model import Status
from pager.core.notifications import Notification
from pager.core.ratelimit import RateLimiter
from pager.core.reach import DEFAULT_ATTEMPT_LIMIT, falls_back_now
from pager.core.redaction import without_secrets
from pager.core.state import SystemState
from pager.core.vocabulary import NotificationKind
from pager.errors import LogUnavailable
from pager.store.base import LogDamaged
from pager.transports.base import (
    DeliveryError,
    Message,
    ProviderRejected,
    ProviderUnreachable,
    Sent,
    Transport,
)

from ..archived import ensure_incident
from ..journal import Journal

__all__ = ["AttemptLimit", "DeliveryBase", "Fallback", "MessageFactory"]

log = logging.getLogger("pager.delivery")

Fallback = Callable[[str, str, str], Awaitable[None]]  # (incident_id, user_id, notification_id)
MessageFactory = Callable[[Notification, int], Message | None]
AttemptLimit = Callable[[Notification], int]  # attempts after which it counts as failed


def _default_limit(n: Notification) -> int:
    return DEFAULT_ATTEMPT_LIMIT


class DeliveryBase:
    def __init__(
        self,
        transport: Transport,
        *,
        journal: Journal,
        state: SystemState,
        clock: WallClock,
        make_message: MessageFactory,
        fallback: Fallback,
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
        rate_per_second: float | None = None,
        concurrency: int = 16,
        breaker: CircuitBreaker | None = None,
        rand: Callable[[], float] = random.random,
        may_send: Callable[[], bool] | None = None,
        attempt_limit: AttemptLimit = _default_limit,
    ) -> None:
        self.transport = transport
        self.method = transport.method
        self.journal = journal
        self.state = state
        self.clock = clock
        self.make_message = make_message
        self.fallback = fallback
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.rate_per_second = rate_per_second
        self.limiter = trio.CapacityLimiter(concurrency)
        self.breaker = breaker or CircuitBreaker()
        self.rate = RateLimiter()
        self.rand = rand
        # asked right before each send: False once this pager may no longer lead (its lease
        # ran out); the intent stays pending for the pager that leads now
        self.may_send = may_send
        self.attempt_limit = attempt_limit
        self._fresh: list[str] = []  # intents journaled since the last look
        self._rescan = True  # look at the whole pending set (at start-up)
        self._active: set[str] = set()
        self._wake_send: trio.MemorySendChannel[None] | None = None
        self._nursery: trio.Nursery | None = None
        self.sent = 0
        self.failed = 0

    def breaker_open_until(self) -> datetime | None:
        """When the circuit breaker lets attempts out again; None when it is closed."""
        wait = self.breaker.wait(trio.current_time())
        if not self.breaker.is_open or wait <= 0:
            return None
        return self.clock.now() + timedelta(seconds=wait)

    def wake(self, notification_id: str | None = None) -> None:
        """A new intent of this method is journaled (coalesced). With its id, only it is
        looked at, not the whole pending set again (which, with a backlog, would make every
        wake cost the size of the backlog)."""
        if notification_id is not None:
            self._fresh.append(notification_id)
        else:
            self._rescan = True
        if self._wake_send is not None:
            with contextlib.suppress(
                trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError
            ):
                self._wake_send.send_nowait(None)

    async def run(
        self, *, task_status: trio.TaskStatus[DeliveryBase] = trio.TASK_STATUS_IGNORED
    ) -> None:
        send, recv = trio.open_memory_channel[None](1)
        self._wake_send = send
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started(self)
                self._scan()
                async with recv:
                    async for _ in recv:
                        self._scan()
        finally:
            # shutdown cancels this actor; closing the provider's connections must still
            # happen (else they leak), but not hold shutdown up for long
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self.transport.aclose()

    def _scan(self) -> None:
        assert self._nursery is not None
        pending = self.state.notifications.pending.get(self.method, {})
        if self._rescan:
            self._rescan = False
            self._fresh.clear()
            ids = list(pending)
        else:
            ids, self._fresh = [i for i in self._fresh if i in pending], []
        for nid in ids:
            if nid in self._active:
                continue
            n = self.state.notifications.by_id.get(nid)
            if n is not None and self._take_page(n):
                continue
            self._active.add(nid)
            self._nursery.start_soon(self._deliver, nid, name=f"deliver {nid}")

    def _take_page(self, n: Notification) -> bool:
        """Whether `n` is delivered another way (a person's lane); the base takes none."""
        return False

    # ------------------------------------------------------------------ one notification

    async def _deliver(self, nid: str) -> None:
        try:
            while True:
                n = self.state.notifications.by_id.get(nid)
                if n is None or not n.open:
                    return
                if n.retry_at is not None:
                    await trio.sleep_until(trio_deadline(self.clock, n.retry_at))
                    n = self.state.notifications.by_id[nid]
                if not await self._attempt(n):
                    return
        finally:
            self._active.discard(nid)

    async def _attempt(self, n: Notification, *, paced: bool = False) -> bool:
        """One attempt (`paced`: the provider's rate was waited for already). True when it
        should be tried again (after its retry_at)."""
        if self.state.incidents.get(n.incident_id) is None and not await self._rebuild(n):
            return False
        if await self._moot(n):
            return False
        attempt = n.attempts + 1
        if n.address is not None and self.state.is_opted_out(self.method, n.address):
            return await self._failed(
                n,
                attempt,
                ProviderRejected(
                    f"the person opted out of {self.method} (replied STOP); "
                    "nothing is sent there until they reply START",
                    permanent=True,
                ),
            )
        message = self.make_message(n, attempt)
        if message is None:
            await self._record(
                NotificationFailed(
                    incident_id=n.incident_id,
                    notification_id=n.id,
                    attempt=attempt,
                    error="nothing to send it with (unknown user or service)",
                    permanent=True,
                )
            )
            return False
        if not paced:
            await self._pace(message)
            if await self._moot(n):  # acknowledged while it waited for the rate or the breaker
                return False
        try:
            sent = await self._send(message)
        except DeliveryError as e:
            return await self._failed(n, attempt, e)
        await self._sent(n, attempt, sent)
        return False

    async def _send(self, message: Message) -> Sent:
        """One request to the provider, within the timeout and the concurrency limit; every
        way of failing is a DeliveryError (and counts for the circuit breaker)."""
        # this pager's lease may have run out: send nothing until it is renewed, or until the
        # actors are stopped (another pager leads, and sends the intent); the condition is the
        # clock passing the lease's end, so there is no event to wait on
        while self.may_send is not None and not self.may_send():  # noqa: ASYNC110
            await trio.sleep(0.1)
        async with self.limiter:
            try:
                with trio.fail_after(self.timeout):
                    sent = await self.transport.send(message)
            except DeliveryError:
                raise
            except trio.TooSlowError:
                raise ProviderUnreachable(f"no answer within {self.timeout:g}s") from None
            except Exception as e:  # a transport bug must not kill delivery of everything else
                log.exception("%s transport failed on %s", self.method, message.notification_id)
                raise ProviderUnreachable(f"{type(e).__name__}: {e}") from None
        self.breaker.success()
        return sent

    async def _rebuild(self, n: Notification) -> bool:
        """The notification's incident is archived (resolved a while ago, or before a
        restart): a page for it is moot; a status update needs the incident rebuilt from
        the log. False when there is nothing to send."""
        if n.incident_id not in self.state.archive:
            log.error("notification %s is for unknown incident %s; dropped", n.id, n.incident_id)
            return False
        if n.kind == NotificationKind.PAGE:
            await self._record(
                NotificationCancelled(
                    incident_id=n.incident_id,
                    notification_id=n.id,
                    reason="the incident is resolved",
                )
            )
            return False
        try:
            return await ensure_incident(self.state, self.journal.log, n.incident_id) is not None
        except (OSError, ValueError, LogDamaged) as e:
            log.error("notification %s: its incident could not be rebuilt: %s", n.id, e)
            return False

    async def _moot(self, n: Notification) -> bool:
        """A page for an incident no longer triggered is cancelled, not sent."""
        inc = self.state.incidents.get(n.incident_id)
        if n.kind != NotificationKind.PAGE or inc is None or inc.status is Status.TRIGGERED:
            return False
        await self._record(
            NotificationCancelled(
                incident_id=n.incident_id,
                notification_id=n.id,
                reason=f"the incident is {inc.status.value}",
            )
        )
        return True

    async def _pace(self, message: Message) -> None:
        """Wait for the provider's rate limit and an open circuit breaker."""
        await self._pace_key(self.transport.rate_key(message))

    async def _pace_key(self, key: str) -> None:
        """Wait for the provider's rate limit (for `key`) and an open circuit breaker."""
        while True:
            wait = self.breaker.wait(trio.current_time())
            if wait <= 0 and self.rate_per_second:
                wait = self.rate.take(key, 1, 1.0 / self.rate_per_second, trio.current_time())
            if wait <= 0:
                return
            await trio.sleep(wait)

    async def _sent(self, n: Notification, attempt: int, sent: Sent) -> None:
        self.sent += 1
        await self._record(
            NotificationSent(
                incident_id=n.incident_id,
                notification_id=n.id,
                attempt=attempt,
                provider_id=sent.provider_id,
                method=self.method,
                user_id=n.user_id if n.kind == "page" else None,
                editable=True if self.transport.edits_messages else None,
            )
        )

    def _retry_at(self, attempt: int, e: DeliveryError, requested_at: datetime) -> datetime | None:
        """When to try again after failed attempt `attempt`; None: never (final)."""
        now = self.clock.now()
        if not e.permanent:
            self.breaker.failure(trio.current_time())
        age = (now - requested_at).total_seconds()
        final = e.permanent or attempt >= self.policy.max_attempts or age >= self.policy.max_age
        if final:
            return None
        return now + timedelta(seconds=self.policy.delay(attempt, self.rand(), e.retry_after))

    async def _fall_back(self, n: Notification, attempt: int, final: bool) -> None:
        """Failed for good, or tried as often as the policy allows before moving on: the
        person's next contact method now (once per notification)."""
        if (
            n.kind == "page"
            and n.user_id is not None
            and falls_back_now(attempt, final, self.attempt_limit(n))
        ):
            try:
                await self.fallback(n.incident_id, n.user_id, n.id)
            except Exception as err:  # the incident may be gone or busy: escalation goes on
                log.warning("fallback for %s not requested: %s", n.id, err)

    async def _failed(self, n: Notification, attempt: int, e: DeliveryError) -> bool:
        retry_at = self._retry_at(attempt, e, n.requested_at)
        final = retry_at is None
        # whatever the transport quoted, never the credentials of the URL it posted to
        error = without_secrets(e.message, n.address)
        log.warning(
            "%s %s attempt %d failed: %s%s", self.method, n.id, attempt, error,
            "" if retry_at is None else f"; retrying at {retry_at.isoformat()}",
        )  # fmt: skip
        await self._record(
            NotificationFailed(
                incident_id=n.incident_id,
                notification_id=n.id,
                attempt=attempt,
                error=error,
                permanent=final,
                retry_at=retry_at,
            )
        )
        if final:
            self.failed += 1
        await self._fall_back(n, attempt, final)
        return not final

    async def _record(self, *events: Event) -> bool:
        """Journal outcomes (in one append). A full disk must not lose an outcome silently:
        try a few times, then log (the intent stays pending and is retried after a
        restart). False when they could not be journaled."""
        for i in range(5):
            try:
                await self.journal.record(list(events), self.clock.now())
                return True
            except LogUnavailable as e:
                log.error("cannot journal %s (%s); try %d of 5", events[0].TYPE, e, i + 1)
                await trio.sleep(1.0)
        return False
