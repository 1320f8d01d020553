"""The supervisor: builds the system from a configuration and runs it under one nursery.

Start-up, in order: open the data folder (lock, torn-tail cut), rebuild the state (newest
snapshot + replay), start the journal writer, then the broadcaster, the router (which starts
an actor per open incident: their timers re-arm from the journaled deadlines), the
snapshotter, and last the edges (the main listener, hypercorn under our accept loop, and the lean ingest listener when
configured), each with `nursery.start` so the next starts only once the previous is ready.

Shutdown (the `shutdown` event, set on SIGINT/SIGTERM) goes the other way: the edges stop
accepting and finish their requests, websockets close, the router closes every actor's inbox
and waits for them, a last snapshot is written, and the journal flushes and fsyncs before the
folder lock is released.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import trio
from hypercorn.config import Config as HypercornConfig

from pager.clock import SystemClock, WallClock
from pager.config.compile import compile_rules
from pager.core.bundles import Bundle
from pager.core.events import ConfigApplied
from pager.core.links import bundle_links, page_links
from pager.core.notifications import Notification
from pager.core.reach import fallback_for
from pager.replay.load import LoadReport, load_state
from pager.replay.ratelimit import recent_records, warm_limiter, window
from pager.store.base import EventLog
from pager.store.jsonl import JsonlLog
from pager.transports.base import Transport
from pager.transports.registry import METHODS, build_transports
from pager.web.accepting import descriptor_budget
from pager.web.app import create_app
from pager.web.ingest import IngestEndpoints
from pager.web.lean import LeanLimits, serve_lean
from pager.web.main_listener import MainLimits, serve_main

from .broadcaster import Broadcaster
from .collector import run_collector, tune
from .dispatcher import Dispatcher
from .heartbeats import Heartbeats
from .journal import Journal
from .messages import Act, RouterMessage
from .retention import Retention
from .router import Router
from .slack_responder import SlackResponder
from .snapshotter import Snapshotter
from .system import System

__all__ = ["ROUTER_INBOX", "Running", "run_pager"]

log = logging.getLogger("pager")

ROUTER_INBOX = 1024


@dataclass
class Running:
    """What `run_pager` hands to `task_status.started`: the system and where it listens."""

    system: System
    urls: list[str]
    ingest_url: str | None
    load: LoadReport


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def _serve_web(
    system: System, stop: trio.Event, budget: int, *, task_status: trio.TaskStatus[list[str]]
) -> None:
    server = system.config.server
    cfg = HypercornConfig()
    cfg.accesslog = None
    cfg.errorlog = logging.getLogger("pager.hypercorn")
    cfg.graceful_timeout = 10.0
    cfg.include_server_header = False
    cfg.websocket_ping_interval = 20.0
    limits = MainLimits(
        max_connections=budget,
        max_header_bytes=LeanLimits().max_header_bytes,
        read_timeout=server.read_timeout.total_seconds(),
        http2=server.http2,
    )
    cfg.h11_max_incomplete_size = limits.max_header_bytes
    host, port = _split(server.listen)
    await serve_main(
        create_app(system), cfg, host, port, limits=limits, shutdown=stop, task_status=task_status
    )


async def run_pager(
    config: Any,
    *,
    shutdown: trio.Event,
    clock: WallClock | None = None,
    event_log: EventLog | None = None,
    config_source: str = "config",
    config_path: str | None = None,
    serve_edges: bool = True,
    manage_gc: bool = False,
    transports: dict[str, Transport] | None = None,
    http: httpx.AsyncBaseTransport | None = None,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run pager until `shutdown` is set. `serve_edges=False` runs the core alone (no
    sockets), for tests that drive it through `System.submit` on a mock clock.
    `transports` replaces the ones the configuration would build, and `http` carries the
    answers to Slack's `response_url` (tests: stand-ins)."""
    clock = clock or SystemClock()
    jcfg = config.journal
    if event_log is None:
        event_log = JsonlLog.open(config.data_dir, segment_size=jcfg.segment_size, fsync=jcfg.fsync)
    try:
        state, report = load_state(event_log)
    except BaseException:
        if isinstance(event_log, JsonlLog):
            event_log.release()
        raise
    # what start-up loaded lives long: keep the collector from rescanning it
    if manage_gc:  # see collector.py
        tune()
        gc.collect()
        gc.freeze()
    log.info(
        "state rebuilt: snapshot %s, %d records replayed, %d incidents open",
        report.snapshot_seq,
        report.replayed,
        len(state.open_by_key),
    )
    rules = compile_rules(config)
    journal = Journal(event_log, state)
    hub = Broadcaster(event_log)
    event_log.add_commit_hook(hub.publish)
    snapshotter = Snapshotter(
        event_log,
        state,
        clock,
        every=jcfg.snapshot_every,
        interval=jcfg.snapshot_interval.total_seconds(),
    )
    async with trio.open_nursery() as outer:
        await outer.start(event_log.run)
        try:
            if state.config_digest != rules.digest:
                await journal.record(
                    [ConfigApplied(digest=rules.digest, source=config_source)], clock.now()
                )
            send, recv = trio.open_memory_channel[RouterMessage](ROUTER_INBOX)
            system = System(
                config=config,
                rules=rules,
                state=state,
                log=event_log,
                journal=journal,
                clock=clock,
                hub=hub,
                router_inbox=send,
                config_path=config_path,
            )
            _warm_rate_limits(system)
            router = Router(journal, state, system.current_rules, clock, send)
            system.router = router
            snapshotter.busy = router.has_actor
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
                system.dispatcher = await core.start(_dispatcher(system, config, transports).run)
                system.slack_responder = await core.start(SlackResponder(system, http=http).run)
                if manage_gc:
                    await core.start(run_collector)
                await core.start(snapshotter.run)
                system.retention = await core.start(
                    Retention(
                        event_log,
                        state,
                        clock,
                        keep=jcfg.retention,
                        delete=jcfg.retention_mode == "delete",
                    ).run
                )
                if serve_edges:
                    await _run_edges(system, shutdown, report, task_status)
                else:
                    system.ready = True
                    task_status.started(Running(system, [], None, report))
                    router.timers.enable()
                    heartbeats.enable()
                    await shutdown.wait()
                    system.ready = False
                    hub.close_all()
                router.stop()
                await router_done.wait()
                await snapshotter.take()
                core.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await event_log.close()
            event_log.clear_commit_hooks()
    log.info("pager stopped cleanly at record %d", event_log.last_seq)


def _dispatcher(
    system: System, config: Any, transports: dict[str, Transport] | None = None
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
    )


async def _run_edges(
    system: System, shutdown: trio.Event, report: LoadReport, task_status: trio.TaskStatus[Running]
) -> None:
    server = system.config.server
    web_stop = trio.Event()
    lean_stop = trio.Event()
    budget = descriptor_budget(
        server.max_connections,
        reserve=server.descriptor_reserve,
        listeners=2 if server.ingest_listen else 1,
    )
    async with trio.open_nursery() as edges:
        urls = await edges.start(_serve_web, system, web_stop, budget)
        ingest_url = None
        if server.ingest_listen:
            host, port = _split(server.ingest_listen)
            lean = IngestEndpoints(system)
            system.ingest_handlers.append(lean)
            bound = await edges.start(
                lambda task_status: serve_lean(
                    lean,
                    host,
                    port,
                    limits=LeanLimits(
                        max_connections=budget, read_timeout=server.read_timeout.total_seconds()
                    ),
                    shutdown=lean_stop,
                    task_status=task_status,
                )
            )
            ingest_url = f"http://{host}:{bound}"
        system.ready = True
        task_status.started(Running(system, urls, ingest_url, report))
        if system.router is not None:
            system.router.timers.enable()
        if system.heartbeats is not None:
            system.heartbeats.enable()
        await shutdown.wait()
        log.info("shutting down: no new requests; finishing those in flight")
        system.ready = False
        system.hub.close_all()
        web_stop.set()
        lean_stop.set()


def _warm_rate_limits(system: System) -> None:
    """A configured rate_limit holds across a restart: recompute its buckets from the log's
    last window (pager/replay/ratelimit.py)."""
    span = window(system.rules.integrations)
    if span is None:
        return
    now = system.clock.now()
    counted = warm_limiter(
        system.ingest_limiter,
        system.rules.integrations,
        system.state,
        recent_records(system.log, now - span),
        now,
        trio.current_time(),
    )
    if counted:
        log.info("rate limits: %d events of the last %s counted from the log", counted, span)
