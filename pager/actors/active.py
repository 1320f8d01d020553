"""The actors that only an active pager runs: the router (with an actor per open incident
and the timers), the heartbeats, the delivery actors (dispatcher), the Slack responder and
the snapshotter. A single pager runs them once, for its whole life; with the PostgreSQL
store they run while this process holds the lease (pager/actors/leadership.py), and may
start again after a later takeover.

Start (`run`): the configuration in force is journaled when it changed, then each actor
starts in dependency order; timers and heartbeat deadlines wait for `enable()` (the
supervisor calls it once the listeners serve), so deadlines that passed meanwhile fire once,
at once, after start-up. Every open incident's actor re-arms from the absolute deadlines in
the journal, and the delivery actors take up every notification intent that has no outcome.

`stop()` ends them gracefully: the router closes every actor's inbox and waits, a last
snapshot is written. Cancelling `run` instead (the lease is lost) stops everything at once
and writes nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import trio

from pager.core.bundles import Bundle
from pager.core.events import ConfigApplied
from pager.core.links import bundle_links, page_links
from pager.core.notifications import Notification
from pager.core.reach import fallback_for
from pager.transports.base import Transport
from pager.transports.registry import METHODS, build_transports

from .dispatcher import Dispatcher
from .heartbeats import Heartbeats
from .messages import Act, RouterMessage
from .router import Router
from .slack_responder import SlackResponder
from .snapshotter import Snapshotter
from .system import System

__all__ = ["ROUTER_INBOX", "ActorSet"]

log = logging.getLogger("pager")

ROUTER_INBOX = 1024


class ActorSet:
    def __init__(
        self,
        system: System,
        *,
        config_source: str = "config",
        transports: dict[str, Transport] | None = None,
        http: httpx.AsyncBaseTransport | None = None,
        may_send: Callable[[], bool] | None = None,
        ready_early: bool = False,
    ) -> None:
        self.system = system
        # a takeover: `run` reports started once the router and heartbeats take requests,
        # before the delivery actors (whose intents wait durably in the log meanwhile)
        self.ready_early = ready_early
        self.config_source = config_source
        self.transports = transports
        self.http = http
        self.may_send = may_send  # asked before each delivery: does this pager still lead?
        # built now, not at `run`: the transports' clients take a while to make, and a
        # standby prepares its actor set before it is needed, so a takeover starts sooner
        self.dispatcher = _dispatcher(system, transports, may_send)
        self._enabled = trio.Event()
        self._stopping = trio.Event()
        self.done = trio.Event()  # set when `run` has returned (or was cancelled)
        self.router: Router | None = None

    def enable(self) -> None:
        """Start the timers and heartbeat deadlines (once pager serves)."""
        self._enabled.set()

    def stop(self) -> None:
        """Graceful stop: `run` returns once every actor is done and a snapshot written."""
        self._stopping.set()

    async def run(
        self, *, task_status: trio.TaskStatus[ActorSet] = trio.TASK_STATUS_IGNORED
    ) -> None:
        system = self.system
        rules = system.compiled_rules
        if system.state.config_digest != rules.digest:
            await system.journal.record(
                [ConfigApplied(digest=rules.digest, source=self.config_source)], system.clock.now()
            )
        jcfg = system.config.journal
        snapshotter = Snapshotter(
            system.log,
            system.state,
            system.clock,
            every=jcfg.snapshot_every,
            interval=jcfg.snapshot_interval.total_seconds(),
        )
        send, recv = trio.open_memory_channel[RouterMessage](ROUTER_INBOX)
        system.router_inbox = send
        router = Router(system.journal, system.state, system.current_rules, system.clock, send)
        self.router = system.router = router
        snapshotter.busy = router.has_actor
        try:
            async with trio.open_nursery() as core:
                router_done = trio.Event()

                async def run_router(*, task_status: trio.TaskStatus[Router]) -> None:
                    try:
                        await router.run(recv, task_status=task_status)
                    finally:
                        router_done.set()

                await core.start(run_router)
                heartbeats: Heartbeats = await core.start(Heartbeats(system).run)
                system.heartbeats = heartbeats
                if self.ready_early:  # requests can be taken now; pages follow in a moment
                    task_status.started(self)
                system.dispatcher = await core.start(self.dispatcher.run)
                system.slack_responder = await core.start(
                    SlackResponder(system, http=self.http).run
                )
                await core.start(snapshotter.run)
                if not self.ready_early:
                    task_status.started(self)
                await self._enabled.wait()
                router.timers.enable()
                heartbeats.enable()
                await self._stopping.wait()
                router.stop()
                await router_done.wait()
                await snapshotter.take()
                core.cancel_scope.cancel()
        finally:
            self.done.set()
            system.router = None
            system.heartbeats = None
            system.dispatcher = None
            system.slack_responder = None
            system.log.remove_commit_hook(snapshotter.count)


def _dispatcher(
    system: System,
    transports: dict[str, Transport] | None = None,
    may_send: Callable[[], bool] | None = None,
) -> Dispatcher:
    async def fallback(incident_id: str, user_id: str, notification_id: str) -> None:
        inc = system.state.incidents.get(incident_id)
        if inc is None:
            return
        book, rules = system.state.notifications, system.current_rules()
        await system.submit(
            Act(incident_id, fallback_for(book, rules, inc, user_id, notification_id))
        )

    def links(n: Notification) -> dict[str, str]:  # read at each send: a reload may change them
        cfg = system.config
        return page_links(cfg.auth.link_secret, str(cfg.server.public_url or ""), n)

    def links_of_bundle(b: Bundle) -> dict[str, str]:
        cfg = system.config
        public_url = str(cfg.server.public_url or "")
        secret = cfg.auth.link_secret
        return bundle_links(secret, public_url, b.user_id, b.id, b.method, b.requested_at)

    config: Any = system.started  # provider settings are read at start-up
    timeouts: dict[str, float] = {}
    rates: dict[str, float | None] = {}
    for method in METHODS:
        section = getattr(config.channels, "twilio" if method in ("sms", "voice") else method, None)
        if section is not None:
            timeouts[method] = section.timeout.total_seconds()
            rates[method] = section.rate_per_second
    return Dispatcher(
        transports
        if transports is not None
        else build_transports(config, renderer=system.renderer),
        journal=system.journal,
        state=system.state,
        clock=system.clock,
        rules=system.current_rules,
        fallback=fallback,
        public_url=str(config.server.public_url or ""),
        links=links,
        bundle_links=links_of_bundle,
        timeouts=timeouts,
        rates=rates,
        may_send=may_send,
    )
