"""Operations: `/healthz` (the process answers), `/readyz` (replay done and the log writable:
a load balancer should send traffic; 503 `standby` on a pager that does not hold the lease),
`/metrics` (Prometheus text format; with the PostgreSQL store, the role, epoch, lease age and
replication lag too; under `pager serve`, the garbage collector's pauses)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.collector import PAUSES, Pauses
from pager.actors.leadership import ClusterView
from pager.actors.supervisor import Actors, CurrentActors, current_actors
from pager.actors.system import System
from pager.core.model import Status
from pager.core.vocabulary import Role

from .auth import authenticate
from .metrics_analytics import AnalyticsCollector
from .responses import jsonify

__all__ = ["register"]


class _StateCollector(Collector):
    """Reads the live system at scrape time: nothing on the hot path."""

    def __init__(
        self,
        system: System,
        actors: Actors | CurrentActors | None,
        cluster_view: Callable[[], ClusterView] | None = None,
    ) -> None:
        self.system = system
        self.actors = current_actors(actors)
        self.cluster_view = cluster_view

    def collect(self) -> Iterator[Metric]:
        s = self.system
        actors = self.actors()
        router = actors.router if actors is not None else None
        dispatcher = actors.dispatcher if actors is not None else None
        by_status = {st: 0 for st in Status}
        for iid in s.state.open_by_key.values():
            by_status[s.state.incidents[iid].status] += 1
        g = GaugeMetricFamily("pager_open_incidents", "Open incidents by status", labels=["status"])
        for st in (Status.TRIGGERED, Status.ACKNOWLEDGED):
            g.add_metric([st.value], by_status[st])
        yield g
        yield GaugeMetricFamily(
            "pager_incidents",
            "Incidents known (open and resolved)",
            value=len(s.state.incidents)
            + sum(1 for i in s.state.archive if i not in s.state.incidents),
        )
        yield CounterMetricFamily(
            "pager_journal_records",
            "Records journaled (the log's last sequence number)",
            value=s.log.last_seq,
        )
        yield GaugeMetricFamily(
            "pager_journal_writable",
            "1 when the event log can be written",
            value=1 if s.log.writable else 0,
        )
        yield GaugeMetricFamily(
            "pager_stream_subscribers", "Websocket stream subscribers", value=s.hub.subscribers
        )
        yield GaugeMetricFamily(
            "pager_incident_actors",
            "Running incident actors",
            value=router.actor_count if router else 0,
        )
        pending = GaugeMetricFamily(
            "pager_notifications_pending",
            "Notifications not yet sent (or retrying)",
            labels=["method"],
        )
        for method, ids in s.state.notifications.pending.items():
            pending.add_metric([method], len(ids))
        yield pending
        if dispatcher is not None:
            out = CounterMetricFamily(
                "pager_notifications", "Delivery outcomes since start", labels=["method", "outcome"]
            )
            breaker = GaugeMetricFamily(
                "pager_delivery_circuit_open",
                "1 while the method's circuit breaker holds attempts back",
                labels=["method"],
            )
            bundles = CounterMetricFamily(
                "pager_bundles_sent",
                "Messages sent that carried several pages at once (storm mode)",
                labels=["method"],
            )
            for method, actor in dispatcher.actors.items():
                out.add_metric([method, "sent"], actor.sent)
                out.add_metric([method, "failed"], actor.failed)
                breaker.add_metric([method], 1 if actor.breaker_open_until() else 0)
                bundles.add_metric([method], actor.bundles_sent)
            yield out
            yield breaker
            yield bundles
        if router is not None:
            timers = router.timers
            yield GaugeMetricFamily(
                "pager_timers_armed", "Open incidents with a deadline", value=len(timers)
            )
            yield CounterMetricFamily(
                "pager_timers_fired", "Deadlines that came due since start", value=timers.fired
            )
        if self.cluster_view is not None:
            yield from _cluster_metrics(self.cluster_view())
        acc = CounterMetricFamily(
            "pager_ingest_requests", "Ingest requests by outcome", labels=["outcome"]
        )
        acc.add_metric(["accepted"], sum(i.accepted for i in s.ingest_handlers))
        acc.add_metric(["rejected"], sum(i.rejected for i in s.ingest_handlers))
        yield acc
        if PAUSES in gc.callbacks:  # pager serve manages the collector (actors/collector.py)
            yield from _gc_metrics(PAUSES)


def _gc_metrics(p: Pauses) -> Iterator[Metric]:
    pauses = HistogramMetricFamily(
        "pager_gc_pause_seconds",
        "Pauses of the cyclic garbage collector, by generation (2: a full collection)",
        labels=["generation"],
    )
    collected = CounterMetricFamily(
        "pager_gc_collected_objects",
        "Objects the cyclic garbage collector freed, by generation",
        labels=["generation"],
    )
    for g in range(3):
        counts, total = [], 0
        for bound, n in zip((*p.BOUNDS, float("inf")), p.buckets[g], strict=True):
            total += n
            counts.append((f"{bound:g}" if bound != float("inf") else "+Inf", total))
        pauses.add_metric([str(g)], counts, p.seconds[g])
        collected.add_metric([str(g)], p.collected[g])
    yield pauses
    yield collected
    yield GaugeMetricFamily(
        "pager_gc_frozen_objects",
        "Objects frozen out of the collector's reach (gc.freeze) as start-up or the last full"
        " collection left them (the freezes between them are not counted)",
        value=p.frozen,
    )


def _cluster_metrics(view: ClusterView) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    role = GaugeMetricFamily(
        "pager_cluster_role",
        "1 for this process's role among the pagers on one database",
        labels=["role", "node"],
    )
    for name in Role:
        role.add_metric([name, view.node], 1 if view.role == name else 0)
    yield role
    yield GaugeMetricFamily(
        "pager_cluster_epoch",
        "The lease epoch (of this process when active, else of the holder)",
        value=view.epoch if view.epoch is not None else 0,
    )
    if view.lease_age is not None:
        yield GaugeMetricFamily(
            "pager_cluster_lease_age_seconds",
            "Seconds since the lease was last taken or renewed",
            value=view.lease_age,
        )
    if view.lag_seconds is not None:
        yield GaugeMetricFamily(
            "pager_cluster_replication_lag_seconds",
            "Seconds since this process last read the end of the log (0 when active)",
            value=view.lag_seconds,
        )
    yield GaugeMetricFamily(
        "pager_cluster_replication_lag_records",
        "Records in the database not yet applied here",
        value=view.lag_records,
    )


def _cluster_json(view: ClusterView) -> dict[str, object]:
    return {
        "role": view.role,
        "node": view.node,
        "epoch": view.epoch,
        "leader": view.holder,
        "lease_age": None if view.lease_age is None else round(view.lease_age, 3),
        "replication_lag": None if view.lag_seconds is None else round(view.lag_seconds, 3),
        "replication_lag_records": view.lag_records,
    }


def register(
    app: QuartTrio,
    system: System,
    actors: Actors | CurrentActors | None = None,
    cluster_view: Callable[[], ClusterView] | None = None,
) -> None:
    """/healthz, /readyz and /metrics; the metrics read `actors`' counters (the router's
    actors and timers, the dispatcher's outcomes) when there are actors. `cluster_view`
    (the PostgreSQL store) is this process's place among the pagers on one database: both
    answers show it, and /readyz answers 503 `standby` where it is not the active one."""
    registry = CollectorRegistry()
    registry.register(_StateCollector(system, actors, cluster_view))
    registry.register(AnalyticsCollector(system))

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        problems = []
        view = cluster_view() if cluster_view is not None else None
        cluster = _cluster_json(view) if view is not None else {}
        if not system.ready:
            problems.append("replay not finished")
        elif view is not None and view.role == Role.STANDBY:  # traffic goes to the active one
            return jsonify({"status": "standby", "last_seq": system.log.last_seq, **cluster}, 503)
        if not system.log.writable:
            problems.append("event log not writable")
        if problems:
            return jsonify({"status": "not ready", "problems": problems, **cluster}, 503)
        return jsonify({"status": "ready", "last_seq": system.log.last_seq, **cluster})

    @app.get("/metrics")
    async def metrics() -> Response:
        if system.config.server.metrics_auth:
            authenticate(system, request.headers)  # 401/403 through the app's error handler
        return Response(
            generate_latest(registry), 200, content_type="text/plain; version=0.0.4; charset=utf-8"
        )
