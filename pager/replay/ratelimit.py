"""A configured `rate_limit` survives a restart: at start-up the ingest limiter's buckets are
recomputed from what the log holds of the last window, so a sender over its limit before the
restart is still over it after.

Every accepted alert or change event that changed something left a record: `incident.opened`
(service and integration), `alerts.updated` (its incident's), `service.change` (a PagerDuty
change event). The record's time stands for the event's arrival. The log does not name the
integration key, so an event counts against every limited key of its service and integration
type (exact for the usual one key per type; stricter, never looser, for more). An accepted
event that changed nothing (a resolve of an unknown key) left no record and is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from pager.core.ratelimit import RateLimiter
from pager.core.routing import IntegrationRoute
from pager.core.state import SystemState
from pager.store.base import EventLog, Record
from pager.store.segments import iter_records, list_segments

__all__ = ["recent_records", "warm_limiter", "window"]

_COUNTED = ("incident.opened", "alerts.updated", "service.change")


def recent_records(
    log: EventLog, since: datetime, last: datetime | None = None
) -> Iterator[Record]:
    """Records journaled at or after `since`, reading only the segments that can hold them
    (a JSON-lines log), or from where the log says they start (PostgreSQL); other logs are
    read whole. `last`, the time of the log's last record when the caller knows it (the
    state's): older than `since`, nothing is read at all (a restart after a quiet minute
    would otherwise parse the whole last segment to find none)."""
    if last is not None and last < since:
        return iter(())
    events_dir = getattr(log, "events_dir", None)
    read_since = getattr(log, "read_since", None)  # a log that can look back by time
    if callable(read_since):
        records: Iterable[Record] = read_since(since)
    elif not isinstance(events_dir, Path):
        records = log.read_from(1)
    else:
        segs = list_segments(events_dir)
        start = 0
        for i in range(len(segs) - 1, -1, -1):
            first = next(iter_records(segs[i : i + 1], segs[i].first_seq), None)
            if first is not None and first.ts < since:
                start = i
                break
        records = iter_records(segs[start:], segs[start].first_seq) if segs else ()
    return (r for r in records if r.ts >= since)


def warm_limiter(
    limiter: RateLimiter,
    integrations: Mapping[tuple[str, str], IntegrationRoute],
    state: SystemState,
    records: Iterable[Record],
    now_wall: datetime,
    now_mono: float,
) -> int:
    """Take one token from the buckets of the keys each counted record came through, at the
    monotonic instant matching its wall time. Returns the number of records counted."""
    limited: dict[tuple[str, str], list[tuple[str, IntegrationRoute]]] = {}
    for (typ, key), route in integrations.items():
        if route.rate_events is not None and route.service_id is not None:
            limited.setdefault((route.service_id, typ), []).append((key, route))
    if not limited:
        return 0
    opened: dict[str, tuple[str, str | None]] = {}  # incident -> (service, integration)
    counted = 0
    for rec in records:
        if rec.type not in _COUNTED:
            continue
        service: str | None
        integration: str | None
        if rec.type == "incident.opened":
            service, integration = rec.data["service_id"], rec.data["integration"]
            opened[rec.subject] = (service, integration)
        elif rec.type == "service.change":
            service, integration = rec.data["service_id"], "pagerduty"
        else:
            service, integration = _incident_origin(state, opened, rec.subject)
        if service is None:
            continue
        types = (integration,) if integration else ("pagerduty", "alertmanager", "generic")
        at = now_mono - (now_wall - rec.ts).total_seconds()
        hit = False
        for typ in types:
            for key, route in limited.get((service, typ), ()):
                assert route.rate_events is not None
                limiter.take((typ, key), route.rate_events, route.rate_per_seconds, at)
                hit = True
        counted += hit
    return counted


def _incident_origin(
    state: SystemState, opened: Mapping[str, tuple[str, str | None]], incident_id: str
) -> tuple[str | None, str | None]:
    if incident_id in opened:
        return opened[incident_id]
    inc = state.incidents.get(incident_id)
    if inc is not None:
        return inc.service_id, inc.integration
    summary = state.archive.get(incident_id)
    if summary is not None:
        return summary.service_id, None
    return None, None


def window(integrations: Mapping[tuple[str, str], IntegrationRoute]) -> timedelta | None:
    """The longest configured window: how far back start-up must look (None: no limit)."""
    spans = [r.rate_per_seconds for r in integrations.values() if r.rate_events is not None]
    return timedelta(seconds=max(spans)) if spans else None
