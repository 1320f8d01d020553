"""The supervisor: starts the actors of a running pager under one nursery, in dependency
order, and stops them in reverse.

Start-up (each with `nursery.start`, so the next starts only once the previous is ready):
the router (which starts an actor per open incident: their timers re-arm from the journaled
deadlines), the heartbeats, the delivery dispatcher, the Slack responder, the collector
(when pager manages the garbage collector), the snapshotter and the retention of old
segments. Then it runs `serve(actors)`
(the edges, built by the composition root, pager/service.py) until it returns at shutdown;
then the router closes every actor's inbox and waits for them, a last snapshot is written,
and the rest is cancelled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import trio

from pager.config.models import Config
from pager.config.models_channels import CHANNEL_OF_METHOD
from pager.core.bundles import Bundle
from pager.core.links import bundle_links, page_links
from pager.core.notifications import Notification
from pager.core.reach import fallback_for
from pager.transports.base import Transport
from pager.transports.registry import METHODS, build_transports

from .collector import run_collector
from .dispatcher import Dispatcher
from .heartbeats import Heartbeats
from .messages import Act, RouterMessage
from .reports import Reporter
from .retention import Retention
from .router import Router
from .slack_responder import SlackResponder
from .snapshotter import Snapshotter
from .system import System

__all__ = ["Actors", "run_actors"]


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


async def run_actors(
    system: System,
    inbox: trio.MemoryReceiveChannel[RouterMessage],
    snapshotter: Snapshotter,
    serve: Callable[[Actors], Awaitable[None]],
    *,
    transports: dict[str, Transport] | None = None,
    http: httpx.AsyncBaseTransport | None = None,
    manage_gc: bool = False,
) -> None:
    """Start the actors, run `serve(actors)` until it returns, then stop them in reverse."""
    router = Router(
        system.journal, system.state, system.current_rules, system.clock, system.router_inbox
    )
    snapshotter.busy = router.has_actor
    system.route_now = router.take  # ingest is routed in its requester's task when it can
    async with trio.open_nursery() as core:
        router_done = trio.Event()

        async def run_router(*, task_status: trio.TaskStatus[Router]) -> None:
            try:
                await router.run(inbox, task_status=task_status)
            finally:
                router_done.set()

        await core.start(run_router)
        heartbeats: Heartbeats = await core.start(Heartbeats(system).run)
        dispatcher: Dispatcher = await core.start(_dispatcher(system, transports).run)
        responder: SlackResponder = await core.start(SlackResponder(system, http=http).run)
        reporter = Reporter(system, dispatcher.transport_of)
        await core.start(reporter.run)  # scheduled reports (off without any)
        if manage_gc:
            await core.start(run_collector)
        await core.start(snapshotter.run)
        jcfg = system.config.journal
        retention: Retention = await core.start(
            Retention(
                system.log,
                system.state,
                system.clock,
                keep=jcfg.retention,
                delete=jcfg.retention_mode == "delete",
            ).run
        )
        await serve(Actors(router, heartbeats, dispatcher, responder, retention))
        router.stop()
        await router_done.wait()
        await snapshotter.take()
        core.cancel_scope.cancel()


def _dispatcher(system: System, transports: dict[str, Transport] | None = None) -> Dispatcher:
    config: Config = system.config

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
    )
