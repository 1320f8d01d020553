"""The supervisor: builds the system from a configuration and runs it under one nursery.

Start-up, in order: open the data folder (lock, torn-tail cut) or the database, rebuild the
state (newest snapshot + replay), start the journal writer, then the broadcaster, the
actors (pager/actors/active.py: the router, which starts an actor per open incident whose
timers re-arm from the journaled deadlines, heartbeats, delivery, the snapshotter; with the
PostgreSQL store only while this process holds the lease, pager/actors/leadership.py), and
last the edges (the main listener, hypercorn under our accept loop, and the lean ingest listener when
configured), each with `nursery.start` so the next starts only once the previous is ready.

Shutdown (the `shutdown` event, set on SIGINT/SIGTERM) goes the other way: the edges stop
accepting and finish their requests, websockets close, the router closes every actor's inbox
and waits for them, a last snapshot is written, and the journal flushes and fsyncs before the
folder lock is released.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import trio
from hypercorn.config import Config as HypercornConfig

from pager.clock import SystemClock, WallClock
from pager.config.compile import compile_rules
from pager.replay.load import LoadReport, load_state
from pager.replay.ratelimit import recent_records, warm_limiter, window
from pager.store.base import EventLog
from pager.store.opening import open_event_log
from pager.store.postgres import PostgresLog
from pager.transports.base import Transport
from pager.web.accepting import descriptor_budget
from pager.web.app import create_app
from pager.web.ingest import IngestEndpoints
from pager.web.lean import LeanLimits, serve_lean
from pager.web.main_listener import MainLimits, serve_main

from .active import ROUTER_INBOX, ActorSet
from .broadcaster import Broadcaster
from .collector import run_collector, tune
from .journal import Journal
from .leadership import leadership
from .messages import RouterMessage
from .retention import Retention
from .system import System

__all__ = ["ROUTER_INBOX", "Running", "run_pager"]

log = logging.getLogger("pager")


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
    if event_log is None:
        event_log = open_event_log(config)
    try:
        state, report = load_state(event_log)
    except BaseException:
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
    async with trio.open_nursery() as outer:
        await outer.start(event_log.run)
        try:
            # the actors give the router an inbox of their own when they start
            send, recv = trio.open_memory_channel[RouterMessage](0)
            recv.close()
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

            def actor_set(may_send: Callable[[], bool] | None = None) -> ActorSet:
                return ActorSet(
                    system,
                    config_source=config_source,
                    transports=transports,
                    http=http,
                    may_send=may_send,
                    ready_early=may_send is not None,  # a takeover: take requests sooner
                )

            async with trio.open_nursery() as core:
                if isinstance(event_log, PostgresLog):  # one of several: compete for the lease
                    cluster = leadership(event_log, config, actor_set)
                    system.cluster = cluster
                    await core.start(cluster.run)
                    serving, stop_actors = cluster.serving, cluster.stop
                    stopped = cluster.stopped
                else:
                    actors: ActorSet = await core.start(actor_set().run)
                    serving, stop_actors, stopped = actors.enable, actors.stop, actors.done
                if manage_gc:
                    await core.start(run_collector)
                # journal.retention (the JSON-lines log; a no-op for other logs)
                jcfg = config.journal
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
                    await _run_edges(system, shutdown, report, serving, task_status)
                else:
                    system.ready = True
                    task_status.started(Running(system, [], None, report))
                    serving()
                    await shutdown.wait()
                    system.ready = False
                    hub.close_all()
                stop_actors()
                await stopped.wait()
                core.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await event_log.close()
            event_log.clear_commit_hooks()
    log.info("pager stopped cleanly at record %d", event_log.last_seq)


async def _run_edges(
    system: System,
    shutdown: trio.Event,
    report: LoadReport,
    serving: Callable[[], None],
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
        serving()
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
