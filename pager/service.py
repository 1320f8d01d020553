"""The composition root: the one module that builds a running pager from a configuration
and runs it (CONVENTIONS 14). It opens the store the configuration names (`store.type`:
JSON lines in `data_dir`, lock and torn-tail cut; or a PostgreSQL database shared by several
pager processes), rebuilds the state (newest snapshot + replay), builds the journal, the
broadcaster and the `System` handle, starts the journal writer, then the actors under the
supervisor's nursery (pager/actors/supervisor.py), and last the edges: the main listener
(hypercorn under our accept loop, serving the app built by `create_app`) and the lean ingest
listener when configured. Everything below receives what it uses from here; nothing below
imports this.

With the PostgreSQL store the actors run only while this process holds the lease: here the
leadership loop (pager/actors/leadership.py) starts instead, and runs a term of the actors
each time it takes the lease; the edges run throughout, and get from it the narrow
functions they need (the actors running now, `refuse_on_standby`, the cluster view).

Shutdown (the `shutdown` event, set on SIGINT/SIGTERM) goes the other way: the edges stop
accepting and finish their requests, websockets close, the supervisor stops the actors (the
router closes every actor's inbox and waits for them, a last snapshot is written; an active
pager then gives its lease back), and the journal flushes and fsyncs before the folder lock
is released.

Past ~400 lines on purpose: start-up and shutdown read top to bottom in one place, in the
order they happen; what each part does lives in its own module.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import trio
from hypercorn.config import Config as HypercornConfig

from pager.actors.broadcaster import Broadcaster
from pager.actors.collector import freeze_state, run_collector, tune
from pager.actors.journal import Journal
from pager.actors.leadership import ClusterView, leadership
from pager.actors.messages import RouterMessage
from pager.actors.snapshotter import Snapshotter
from pager.actors.supervisor import (
    ROUTER_INBOX,
    Actors,
    CurrentActors,
    Term,
    current_actors,
    quiet_moment,
    run_actors,
)
from pager.actors.system import System
from pager.clock import SystemClock, WallClock
from pager.config.compile import compile_rules
from pager.config.models import Config
from pager.core.events import SCHEMA_VERSION, ConfigApplied
from pager.core.state import SystemState
from pager.replay.load import LoadReport, load_state
from pager.replay.ratelimit import recent_records, warm_limiter, window
from pager.store.base import EventLog
from pager.store.jsonl import JsonlLog
from pager.store.lease import node_name
from pager.store.pg_sessions import PostgresSessions
from pager.store.pg_signin_throttle import PostgresSigninThrottle
from pager.store.postgres import PostgresLog
from pager.transports.base import Transport
from pager.web.accepting import descriptor_budget
from pager.web.app import MAX_BODY, create_app
from pager.web.dashboard import SigninThrottles
from pager.web.ingest import IngestEndpoints
from pager.web.lean import LeanLimits, serve_lean
from pager.web.main_listener import MainLimits, serve_main
from pager.web.sessions import Sessions

__all__ = ["ROUTER_INBOX", "Running", "run_pager", "split_listen"]

log = logging.getLogger("pager")


@dataclass
class Running:
    """What `run_pager` hands to `task_status.started`: the system, its actors and where
    it listens."""

    system: System
    current: CurrentActors  # the actors running now (None on a standby)
    urls: list[str]
    ingest_url: str | None
    load: LoadReport
    node: str | None = None  # the PostgreSQL store: this process's name among the nodes

    @property
    def actors(self) -> Actors:
        """The running actors (a single pager's; an active one's, with the PostgreSQL
        store)."""
        actors = self.current()
        assert actors is not None, "no actors run here: a standby"
        return actors


@dataclass(frozen=True)
class _Edges:
    """What the edges are given besides `System`: the actors (a single pager's one set, or
    a function of now), `serving` (the listeners are up: timers may start), and with the
    PostgreSQL store `refuse_on_standby` and the cluster view."""

    actors: Actors | CurrentActors
    serving: Callable[[], None]
    refuse_on_standby: Callable[[], None] = lambda: None  # a single pager never refuses
    cluster_view: Callable[[], ClusterView] | None = None
    node: str | None = None
    sessions: Sessions | None = None  # the dashboard's sign-ins (None: the file in data_dir)
    throttle: SigninThrottles | None = None  # failed sign-ins (None: this process's memory)


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (`[::1]:8080` too) as (host, port); an empty host is 127.0.0.1."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def open_event_log(config: Config) -> EventLog:
    """The event log `config.store` names: JSON lines in `data_dir` (the default), or the
    table in the PostgreSQL database at `store.dsn`."""
    store = config.store
    if store.type == "postgres":
        ttl = store.lease_ttl.total_seconds()
        return PostgresLog.open(
            str(store.dsn),
            node=node_name(store.node_name),
            poll=min(1.0, ttl / 4),
            settle_timeout=ttl,
        )
    jcfg = config.journal
    return JsonlLog.open(
        config.data_dir,
        segment_size=jcfg.segment_size,
        fsync=jcfg.fsync,
        newest_schema=SCHEMA_VERSION,
    )


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
    if event_log is None:
        event_log = open_event_log(config)
    try:
        state, report = load_state(event_log)
    except BaseException:
        event_log.release()
        raise
    # what start-up loaded lives long: keep the collector from rescanning it. No collection
    # first: a collection of the replayed state (0.2 s more on every start-up at 36,330
    # incidents) untracked tuples that were as many again 30 s later, and what little cyclic
    # garbage load_state (run with the collector off) leaves waits for a full collection
    if manage_gc:  # see actors/collector.py
        tune()
        freeze_state()
    log.info(
        "state rebuilt: snapshot %s, %d records replayed, %d incidents open",
        report.snapshot_seq,
        report.replayed,
        len(state.open_by_key),
    )
    journal = Journal(event_log, state)
    hub = Broadcaster(event_log)
    event_log.add_commit_hook(hub.publish)

    def make_system(inbox: trio.MemorySendChannel[RouterMessage]) -> System:
        system = System(
            config=config,
            rules=compile_rules(config),
            state=state,
            log=event_log,
            journal=journal,
            clock=clock,
            hub=hub,
            router_inbox=inbox,
            config_path=config_path,
        )
        _warm_rate_limits(system)
        return system

    async def serve(system: System, edges: _Edges) -> None:
        """The edges until shutdown (or the core alone, without sockets)."""
        if serve_edges:
            await _run_edges(system, edges, shutdown, report, task_status)
            return
        system.ready = True
        task_status.started(
            Running(system, current_actors(edges.actors), [], None, report, edges.node)
        )
        edges.serving()
        await shutdown.wait()
        system.ready = False
        hub.close_all()

    async with trio.open_nursery() as outer:
        await outer.start(event_log.run)
        try:
            if isinstance(event_log, PostgresLog):  # one of several: compete for the lease
                await _run_cluster(
                    event_log,
                    config,
                    make_system,
                    serve,
                    config_source=config_source,
                    transports=transports,
                    http=http,
                    manage_gc=manage_gc,
                )
            else:
                await _run_single(
                    state,
                    config,
                    make_system,
                    serve,
                    config_source=config_source,
                    transports=transports,
                    http=http,
                    manage_gc=manage_gc,
                )
        finally:
            with trio.CancelScope(shield=True):
                await event_log.close()
            event_log.clear_commit_hooks()
    log.info("pager stopped cleanly at record %d", event_log.last_seq)


_MakeSystem = Callable[[trio.MemorySendChannel[RouterMessage]], System]
_Serve = Callable[[System, _Edges], Awaitable[None]]


async def _run_single(
    state: SystemState,
    config: Config,
    make_system: _MakeSystem,
    serve: _Serve,
    *,
    config_source: str,
    transports: dict[str, Transport] | None,
    http: httpx.AsyncBaseTransport | None,
    manage_gc: bool,
) -> None:
    """One pager on its own log: the actors run for the whole life of the process."""
    send, recv = trio.open_memory_channel[RouterMessage](ROUTER_INBOX)
    system = make_system(send)
    rules = system.compiled_rules
    if state.config_digest != rules.digest:
        await system.journal.record(
            [ConfigApplied(digest=rules.digest, source=config_source)], system.clock.now()
        )
    jcfg = config.journal
    snapshotter = Snapshotter(
        system.log,
        state,
        system.clock,
        every=jcfg.snapshot_every,
        interval=jcfg.snapshot_interval.total_seconds(),
    )

    async def serve_with(actors: Actors) -> None:
        def serving() -> None:
            actors.router.timers.enable()
            actors.heartbeats.enable()

        await serve(system, _Edges(actors, serving))

    await run_actors(
        system,
        recv,
        snapshotter,
        serve_with,
        transports=transports,
        http=http,
        manage_gc=manage_gc,
    )


async def _run_cluster(
    event_log: PostgresLog,
    config: Config,
    make_system: _MakeSystem,
    serve: _Serve,
    *,
    config_source: str,
    transports: dict[str, Transport] | None,
    http: httpx.AsyncBaseTransport | None,
    manage_gc: bool,
) -> None:
    """One of several pagers on one database: the leadership loop competes for the lease
    and runs a term of the actors while it holds it; the edges serve throughout."""
    # no router until this process leads: a request for one is refused at once
    send, recv = trio.open_memory_channel[RouterMessage](0)
    recv.close()
    system = make_system(send)

    def make_term(may_send: Callable[[], bool]) -> Term:
        return Term(
            system, config_source=config_source, transports=transports, http=http,
            may_send=may_send,
        )  # fmt: skip

    leader = leadership(event_log, config, make_term)
    # the dashboard's sign-ins in the database too (its tables made with the log's): every
    # node knows every session, across a failover and behind a load balancer, and failed
    # sign-ins spread over the nodes count once
    sessions = PostgresSessions(str(config.store.dsn), node=leader.node)
    throttle = PostgresSigninThrottle(str(config.store.dsn), node=leader.node)
    edges = _Edges(
        leader.current_actors,
        leader.serving,
        refuse_on_standby=leader.refuse_on_standby,
        cluster_view=leader.view,
        node=leader.node,
        sessions=sessions,
        throttle=throttle,
    )
    try:
        async with trio.open_nursery() as core:
            await core.start(leader.run)
            if manage_gc:

                def quiet() -> bool:  # a full collection's moment: see actors/collector.py
                    actors = leader.current_actors()
                    return actors is None or quiet_moment(system, actors.router)()

                await core.start(run_collector, quiet)
            await serve(system, edges)
            leader.stop()  # the actors stop (a last snapshot), the lease is given back
            await leader.stopped.wait()
            core.cancel_scope.cancel()
    finally:
        sessions.close()
        throttle.close()


async def _serve_web(
    system: System,
    edges: _Edges,
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
        max_body_bytes=MAX_BODY,
        read_timeout=server.read_timeout.total_seconds(),
        http2=server.http2,
    )
    cfg.h11_max_incomplete_size = limits.max_header_bytes
    host, port = split_listen(server.listen)
    app = create_app(
        system,
        edges.actors,
        refuse_on_standby=edges.refuse_on_standby,
        cluster_view=edges.cluster_view,
        sessions=edges.sessions,
        throttle=edges.throttle,
    )
    await serve_main(
        app,
        cfg,
        host,
        port,
        limits=limits,
        shutdown=stop,
        task_status=task_status,
    )


async def _run_edges(
    system: System,
    edges: _Edges,
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
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(_serve_web, system, edges, web_stop, budget)
        ingest_url = None
        if server.ingest_listen:
            host, port = split_listen(server.ingest_listen)
            lean = IngestEndpoints(system, edges.refuse_on_standby)
            system.ingest_handlers.append(lean)
            bound = await nursery.start(
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
        task_status.started(
            Running(system, current_actors(edges.actors), urls, ingest_url, report, edges.node)
        )
        edges.serving()
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
        recent_records(system.log, now - span, system.state.last_ts),
        now,
        trio.current_time(),
    )
    if counted:
        log.info("rate limits: %d events of the last %s counted from the log", counted, span)
