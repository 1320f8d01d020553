"""The composition root: the one module that builds a running pager from a configuration
and runs it (CONVENTIONS 14). It opens the store (lock, torn-tail cut), rebuilds the state
(newest snapshot + replay), builds the journal, the broadcaster, the snapshotter and the
`System` handle, starts the journal writer, then the actors under the supervisor's nursery
(pager/actors/supervisor.py), and last the edges: the main listener (hypercorn under our
accept loop, serving the app built by `create_app`) and the lean ingest listener when
configured. Everything below receives what it uses from here; nothing below imports this.

Shutdown (the `shutdown` event, set on SIGINT/SIGTERM) goes the other way: the edges stop
accepting and finish their requests, websockets close, the supervisor stops the actors (the
router closes every actor's inbox and waits for them, a last snapshot is written), and the
journal flushes and fsyncs before the folder lock is released.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import trio
from hypercorn.config import Config as HypercornConfig

from pager.actors.broadcaster import Broadcaster
from pager.actors.collector import tune
from pager.actors.journal import Journal
from pager.actors.messages import RouterMessage
from pager.actors.snapshotter import Snapshotter
from pager.actors.supervisor import Actors, run_actors
from pager.actors.system import System
from pager.clock import SystemClock, WallClock
from pager.config.compile import compile_rules
from pager.config.models import Config
from pager.core.events import SCHEMA_VERSION, ConfigApplied
from pager.replay.load import LoadReport, load_state
from pager.replay.ratelimit import recent_records, warm_limiter, window
from pager.store.base import EventLog
from pager.store.jsonl import JsonlLog
from pager.transports.base import Transport
from pager.web.accepting import descriptor_budget
from pager.web.app import create_app
from pager.web.ingest import IngestEndpoints
from pager.web.lean import LeanLimits, serve_lean
from pager.web.main_listener import MainLimits, serve_main

__all__ = ["ROUTER_INBOX", "Running", "run_pager", "split_listen"]

log = logging.getLogger("pager")

ROUTER_INBOX = 1024


@dataclass
class Running:
    """What `run_pager` hands to `task_status.started`: the system, its actors and where
    it listens."""

    system: System
    actors: Actors
    urls: list[str]
    ingest_url: str | None
    load: LoadReport


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (`[::1]:8080` too) as (host, port); an empty host is 127.0.0.1."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def run_pager(
    config: Config,
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
        event_log = JsonlLog.open(
            config.data_dir,
            segment_size=jcfg.segment_size,
            fsync=jcfg.fsync,
            newest_schema=SCHEMA_VERSION,
        )
    try:
        state, report = load_state(event_log)
    except BaseException:
        if isinstance(event_log, JsonlLog):
            event_log.release()
        raise
    # what start-up loaded lives long: keep the collector from rescanning it
    if manage_gc:  # see actors/collector.py
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
            serve: Callable[[Actors], Awaitable[None]]
            if serve_edges:

                async def serve(actors: Actors) -> None:
                    await _run_edges(system, actors, shutdown, report, task_status)

            else:

                async def serve(actors: Actors) -> None:
                    system.ready = True
                    task_status.started(Running(system, actors, [], None, report))
                    actors.router.timers.enable()
                    actors.heartbeats.enable()
                    await shutdown.wait()
                    system.ready = False
                    hub.close_all()

            await run_actors(
                system,
                recv,
                snapshotter,
                serve,
                transports=transports,
                http=http,
                manage_gc=manage_gc,
            )
        finally:
            with trio.CancelScope(shield=True):
                await event_log.close()
            event_log.clear_commit_hooks()
    log.info("pager stopped cleanly at record %d", event_log.last_seq)


async def _serve_web(
    system: System,
    actors: Actors,
    stop: trio.Event,
    budget: int,
    *,
    task_status: trio.TaskStatus[list[str]],
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
    host, port = split_listen(server.listen)
    await serve_main(
        create_app(system, actors),
        cfg,
        host,
        port,
        limits=limits,
        shutdown=stop,
        task_status=task_status,
    )


async def _run_edges(
    system: System,
    actors: Actors,
    shutdown: trio.Event,
    report: LoadReport,
    task_status: trio.TaskStatus[Running],
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
        urls = await edges.start(_serve_web, system, actors, web_stop, budget)
        ingest_url = None
        if server.ingest_listen:
            host, port = split_listen(server.ingest_listen)
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
        task_status.started(Running(system, actors, urls, ingest_url, report))
        actors.router.timers.enable()
        actors.heartbeats.enable()
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
