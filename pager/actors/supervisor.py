"""The supervisor: starts the actors of a running pager under one nursery, in dependency
order, and stops them in reverse.

Start-up (each with `nursery.start`, so the next starts only once the previous is ready):
the router (which starts an actor per open incident: their timers re-arm from the journaled
deadlines), the heartbeats, the delivery dispatcher, the Slack responder, the reporter
(scheduled reports), the collector (when pager manages the garbage collector), the
snapshotter and the retention of old segments. Then it runs `serve(actors)`
(the edges, built by the composition root, pager/service.py) until it returns at shutdown;
then the router closes every actor's inbox and waits for them, a last snapshot is written,
and the rest is cancelled.

A single pager runs its actors once, for its whole life. With the PostgreSQL store they run
while this process holds the lease: each `Term` is one such run (pager/actors/leadership.py
starts one when it takes the lease, and cancels it at once when the lease is lost: then
nothing more is written). The edges outlive the terms, so they reach the actors through a
`CurrentActors` function (None while none run).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import trio

from pager.config.models import Config
from pager.config.models_channels import CHANNEL_OF_METHOD
from pager.core.bundles import Bundle
from pager.core.events import ConfigApplied
from pager.core.links import bundle_links, page_links
from pager.core.notifications import Notification
from pager.core.reach import fallback_for
from pager.transports.base import Transport
from pager.transports.registry import METHODS, build_transports

from .collector import QUIET_AHEAD, run_collector
from .dispatcher import Dispatcher
from .heartbeats import Heartbeats
from .messages import Act, RouterMessage
from .reports import Reporter
from .retention import Retention
from .router import Router
from .slack_responder import SlackResponder
from .snapshotter import Snapshotter
from .system import System

__all__ = [
    "ROUTER_INBOX",
    "Actors",
    "CurrentActors",
    "Term",
    "current_actors",
    "make_dispatcher",
    "quiet_moment",
    "run_actors",
]

ROUTER_INBOX = 1024


@dataclass(frozen=True)
class Actors:
    """The running actors that the edges talk to besides `System.submit`: the composition
    root hands each edge the part it uses (a hook the responder's `offer`, /metrics the
    router's and the dispatcher's counters...)."""

    router: Router
    heartbeats: Heartbeats
    dispatcher: Dispatcher
    slack_responder: SlackResponder
    retention: Retention  # journal.retention, applied hourly


CurrentActors = Callable[[], Actors | None]
"""The actors running now, for an edge that outlives them: None while none run (a standby
of the PostgreSQL store, or a term starting or ending)."""


def current_actors(actors: Actors | CurrentActors | None) -> CurrentActors:
    """`actors` as a function of now: a single pager's one set (or none: the routes alone,
    in tests), or already a function (the leadership's current term)."""
    if actors is None or isinstance(actors, Actors):
        fixed = actors
        return lambda: fixed
    return actors


def quiet_moment(system: System, router: Router) -> Callable[[], bool]:
    """A quiet moment for a full collection of the garbage collector (collector.py): no
    incident timer (escalation, a person's next notification rule) due within QUIET_AHEAD
    seconds, no notification being sent, nothing queued for the log."""
    ahead = timedelta(seconds=QUIET_AHEAD)

    def quiet() -> bool:
        due = router.timers.next_due()
        if due is not None and due - system.clock.now() < ahead:
            return False
        pending = system.state.notifications.pending
        return system.journal.backlog == 0 and not any(pending.values())

    return quiet


async def run_actors(
    system: System,
    inbox: trio.MemoryReceiveChannel[RouterMessage],
    snapshotter: Snapshotter,
    serve: Callable[[Actors], Awaitable[None]],
    *,
    transports: dict[str, Transport] | None = None,
    http: httpx.AsyncBaseTransport | None = None,
    manage_gc: bool = False,
    dispatcher: Dispatcher | None = None,
    taking_requests: Callable[[Actors], None] | None = None,
) -> None:
    """Start the actors, run `serve(actors)` until it returns, then stop them in reverse.

    `dispatcher` is one built ahead (`make_dispatcher`; else one is built here).
    `taking_requests(actors)` is called once the router and the heartbeats take requests,
    before the delivery actors start (a takeover: their intents wait durably in the log)."""
    router = Router(
        system.journal, system.state, system.current_rules, system.clock, system.router_inbox
    )
    snapshotter.busy = router.has_actor
    system.route_now = router.take  # ingest is routed in its requester's task when it can
    heartbeats = Heartbeats(system)
    dispatcher = dispatcher or make_dispatcher(system, transports)
    responder = SlackResponder(system, http=http)
    jcfg = system.config.journal
    retention = Retention(
        system.log,
        system.state,
        system.clock,
        keep=jcfg.retention,
        delete=jcfg.retention_mode == "delete",
    )
    actors = Actors(router, heartbeats, dispatcher, responder, retention)
    async with trio.open_nursery() as core:
        router_done = trio.Event()

        async def run_router(*, task_status: trio.TaskStatus[Router]) -> None:
            try:
                await router.run(inbox, task_status=task_status)
            finally:
                router_done.set()

        await core.start(run_router)
        await core.start(heartbeats.run)
        if taking_requests is not None:
            taking_requests(actors)
        await core.start(dispatcher.run)
        await core.start(responder.run)
        reporter = Reporter(system, dispatcher.transport_of)
        await core.start(reporter.run)  # scheduled reports (off without any)
        if manage_gc:
            await core.start(run_collector, quiet_moment(system, router))
        await core.start(snapshotter.run)
        await core.start(retention.run)
        await serve(actors)
        router.stop()
        await router_done.wait()
        await snapshotter.take()
        core.cancel_scope.cancel()


class Term:
    """One run of the actors while this process holds the lease (the PostgreSQL store). Built
    ahead, while the process stands by: the delivery transports' clients take a while to
    make, so a takeover starts sooner.

    `run` journals the configuration in force when it changed, gives the router a new inbox,
    and runs the actors; it reports started once the router and the heartbeats take
    requests. Timers and heartbeat deadlines wait for `enable()` (the listeners serve), so a
    deadline that passed while no pager was active fires once, at once. `stop()` ends the
    term gracefully (a last snapshot); cancelling `run` (the lease is lost) ends it at once
    and writes nothing more."""

    def __init__(
        self,
        system: System,
        *,
        config_source: str = "config",
        transports: dict[str, Transport] | None = None,
        http: httpx.AsyncBaseTransport | None = None,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        self.system = system
        self.config_source = config_source
        self.http = http
        # asked by the delivery actors before each send: does this pager still lead?
        self.dispatcher = make_dispatcher(system, transports, may_send)
        self.actors: Actors | None = None  # once the router and heartbeats take requests
        self._enabled = trio.Event()
        self._stopping = trio.Event()
        self.done = trio.Event()  # set when `run` has returned (or was cancelled)

    def enable(self) -> None:
        """Start the timers and heartbeat deadlines (once pager serves)."""
        self._enabled.set()

    def stop(self) -> None:
        """Graceful stop: `run` returns once every actor is done and a snapshot written."""
        self._stopping.set()

    async def run(self, *, task_status: trio.TaskStatus[Term] = trio.TASK_STATUS_IGNORED) -> None:
        system = self.system
        try:
            rules = system.compiled_rules
            if system.state.config_digest != rules.digest:
                await system.journal.record(
                    [ConfigApplied(digest=rules.digest, source=self.config_source)],
                    system.clock.now(),
                )
            send, recv = trio.open_memory_channel[RouterMessage](ROUTER_INBOX)
            system.router_inbox = send
            jcfg = system.config.journal
            snapshotter = Snapshotter(
                system.log,
                system.state,
                system.clock,
                every=jcfg.snapshot_every,
                interval=jcfg.snapshot_interval.total_seconds(),
            )

            def taking_requests(actors: Actors) -> None:
                self.actors = actors
                task_status.started(self)

            async def serve(actors: Actors) -> None:
                async def enable() -> None:
                    await self._enabled.wait()
                    actors.router.timers.enable()
                    actors.heartbeats.enable()

                async with trio.open_nursery() as nursery:  # a stop may come before serving
                    nursery.start_soon(enable)
                    await self._stopping.wait()
                    nursery.cancel_scope.cancel()

            await run_actors(
                system,
                recv,
                snapshotter,
                serve,
                http=self.http,
                dispatcher=self.dispatcher,
                taking_requests=taking_requests,
            )
        finally:
            self.actors = None
            self.done.set()


def make_dispatcher(
    system: System,
    transports: dict[str, Transport] | None = None,
    may_send: Callable[[], bool] | None = None,
) -> Dispatcher:
    """The delivery actors of the transports the configuration names (or `transports`);
    `may_send` is asked right before each send (the PostgreSQL store: does this pager still
    hold its lease?)."""
    config: Config = system.started  # provider settings are read at start-up

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
        if b.user_id is None:  # a chat channel's: a link acts as one person, and it has none
            return {}
        cfg = system.config
        public_url = str(cfg.server.public_url or "")
        secret = cfg.auth.link_secret
        return bundle_links(secret, public_url, b.user_id, b.id, b.method, b.requested_at)

    timeouts: dict[str, float] = {}
    rates: dict[str, float | None] = {}
    for method in METHODS:
        section = getattr(config.channels, CHANNEL_OF_METHOD[method], None)
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
