"""Operations: `/healthz` (the process answers), `/readyz` (replay done and the log writable:
a load balancer should send traffic), `/metrics` (Prometheus text format)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.supervisor import Actors
from pager.actors.system import System
from pager.core.model import Status

from .auth import authenticate
from .metrics_analytics import AnalyticsCollector
from .responses import jsonify

__all__ = ["register"]


class _StateCollector(Collector):
    """Reads the live system at scrape time: nothing on the hot path."""

    def __init__(self, system: System, actors: Actors | None) -> None:
        self.system = system
        self.router = actors.router if actors is not None else None
        self.dispatcher = actors.dispatcher if actors is not None else None

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self.system
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
            value=self.router.actor_count if self.router else 0,
        )
        pending = GaugeMetricFamily(
            "pager_notifications_pending",
            "Notifications not yet sent (or retrying)",
            labels=["method"],
        )
        for method, ids in s.state.notifications.pending.items():
            pending.add_metric([method], len(ids))
        yield pending
        if self.dispatcher is not None:
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
            for method, actor in self.dispatcher.actors.items():
                out.add_metric([method, "sent"], actor.sent)
                out.add_metric([method, "failed"], actor.failed)
                breaker.add_metric([method], 1 if actor.breaker_open_until() else 0)
                bundles.add_metric([method], actor.bundles_sent)
            yield out
            yield breaker
            yield bundles
        if self.router is not None:
            timers = self.router.timers
            yield GaugeMetricFamily(
                "pager_timers_armed", "Open incidents with a deadline", value=len(timers)
            )
            yield CounterMetricFamily(
                "pager_timers_fired", "Deadlines that came due since start", value=timers.fired
            )
        acc = CounterMetricFamily(
            "pager_ingest_requests", "Ingest requests by outcome", labels=["outcome"]
        )
        acc.add_metric(["accepted"], sum(i.accepted for i in s.ingest_handlers))
        acc.add_metric(["rejected"], sum(i.rejected for i in s.ingest_handlers))
        yield acc


def register(app: QuartTrio, system: System, actors: Actors | None = None) -> None:
    """/healthz, /readyz and /metrics; the metrics read `actors`' counters (the router's
    actors and timers, the dispatcher's outcomes) when there are actors."""
    registry = CollectorRegistry()
    registry.register(_StateCollector(system, actors))
    registry.register(AnalyticsCollector(system))

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        problems = []
        if not system.ready:
            problems.append("replay not finished")
        if not system.log.writable:
            problems.append("event log not writable")
        if problems:
            return jsonify({"status": "not ready", "problems": problems}, 503)
        return jsonify({"status": "ready", "last_seq": system.log.last_seq})

    @app.get("/metrics")
    async def metrics() -> Response:
        if system.config.server.metrics_auth:
            authenticate(system, request.headers)  # 401/403 through the app's error handler
        return Response(
            generate_latest(registry), 200, content_type="text/plain; version=0.0.4; charset=utf-8"
        )
