"""`/metrics` from the analytics ledger: what the whole log says, so the numbers are the same
after a restart (the ledger is rebuilt from the log and its snapshots), unlike the
"since start" counters of the delivery actors.

- `pager_time_to_acknowledge_seconds` and `pager_time_to_resolve_seconds`: histograms per
  service (opening to first acknowledgement, opening to resolution);
- `pager_service_incidents{service,state}`: incidents by their state now (triggered,
  acknowledged, resolved);
- `pager_notification_outcomes_total{method,outcome}`: notification events by method:
  requested, sent, retrying, failed, delivered, undelivered, cancelled;
- `pager_user_pages_total{user}` and `pager_user_interruptions_total{user}`: pages each
  person received, and interruptions (SMS, calls, push; not email or chat). Only when
  `server.metrics_auth` is on: they say of each person, by name, how often they were woken,
  which an open `/metrics` (the default, like `/healthz`) would tell anyone who can reach
  pager. Every other series names services, methods and states, never a person.

The ledger keeps these as running aggregates (`pager.core.analytics.metrics`); a scrape
reads them and scans nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from pager.actors.system import System
from pager.core.analytics.vocabulary import STATES

__all__ = ["AnalyticsCollector"]

Family = GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily


class AnalyticsCollector(Collector):
    def __init__(self, system: System) -> None:
        self.system = system

    def collect(self) -> Iterator[Family]:
        led = self.system.state.analytics
        agg = led.aggregates
        name = led.names.strings
        for metric, what, hists in (
            ("pager_time_to_acknowledge_seconds", "Seconds from opening to the first "
             "acknowledgement, per service", agg.ack),
            ("pager_time_to_resolve_seconds", "Seconds from opening to resolution, per service",
             agg.res),
        ):  # fmt: skip
            h = HistogramMetricFamily(metric, what, labels=["service"])
            for svc, hist in sorted(hists.items()):
                h.add_metric([name[svc]], hist.cumulative(), hist.sum_ms / 1000)
            yield h
        g = GaugeMetricFamily(
            "pager_service_incidents", "Incidents of each service by state now", labels=[
                "service", "state"]
        )  # fmt: skip
        for (svc, state), n in sorted(agg.states.items()):
            g.add_metric([name[svc], STATES[state]], n)
        yield g
        c = CounterMetricFamily(
            "pager_notification_outcomes",
            "Notification events in the log by method and outcome (requested, sent, retrying, "
            "failed, delivered, undelivered, cancelled)",
            labels=["method", "outcome"],
        )
        for (method, outcome), n in sorted(led.outcome_events.items()):
            c.add_metric([name[method], outcome], n)
        yield c
        if not self.system.config.server.metrics_auth:
            return  # per person only behind a token (see the module's docstring)
        for metric, what, counts in (
            ("pager_user_pages", "Pages each person received", agg.pages),
            ("pager_user_interruptions", "Interruptions of each person: notifications of a "
             "page by SMS, voice call or push that were sent", agg.interruptions),
        ):  # fmt: skip
            c = CounterMetricFamily(metric, what, labels=["user"])
            for user, n in sorted(counts.items()):
                if user >= 0:
                    c.add_metric([name[user]], n)
            yield c
