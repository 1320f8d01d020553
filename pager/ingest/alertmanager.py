"""Alertmanager's webhook, version 4.

One incident per `groupKey`, its alerts keyed by `fingerprint`. Alertmanager re-sends the whole
group on every change and on every repeat, so ingestion is an idempotent upsert (the core's
UpsertGroup). Each alert's own `status` counts (a `firing` group carries resolved alerts), an
`endsAt` of year 1 means "still firing", and with `truncatedAlerts > 0` alerts missing from the
list are not taken as resolved.

Severity comes from the `severity` label, mapped onto PagerDuty's four (`page`, `p1` ->
critical; `high`, `major` -> error; ...); without one it is `error`, as in Alertmanager's own
PagerDuty integration. The summary is the alert's `summary` annotation, else its `description`,
else its `alertname`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pager.core.commands import AlertObservation, UpsertGroup
from pager.errors import InvalidEvent

from .parsed import ParsedAlert
from .validate import Checker

__all__ = ["parse_webhook", "severity_of"]

_SEVERITY = {
    "critical": "critical", "page": "critical", "p1": "critical", "emergency": "critical",
    "fatal": "critical", "disaster": "critical",
    "error": "error", "high": "error", "major": "error", "p2": "error",
    "warning": "warning", "warn": "warning", "minor": "warning", "medium": "warning",
    "average": "warning", "p3": "warning",
    "info": "info", "informational": "info", "low": "info", "none": "info", "p4": "info",
    "p5": "info", "notice": "info", "debug": "info", "ok": "info",
}  # fmt: skip


def severity_of(labels: Mapping[str, str]) -> str:
    return _SEVERITY.get(labels.get("severity", "").strip().lower(), "error")


def _fingerprint(labels: Mapping[str, str]) -> str:
    raw = "\x00".join(f"{k}\x01{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def parse_webhook(body: Any, key: str) -> ParsedAlert:
    c = Checker()
    msg = c.obj(body, "body")
    if msg is None:
        raise InvalidEvent(["body: must be a JSON object"])
    version = msg.get("version")
    if version is not None and str(version) != "4":
        c.fail("version", f"webhook version {version!r} is not supported (only 4)")
    group_key = c.string(msg, "groupKey", "", required=True)
    truncated = msg.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool):
        c.fail("truncatedAlerts", "must be an integer")
        truncated = 0
    group_labels = c.labels(msg, "groupLabels", "")
    common_labels = c.labels(msg, "commonLabels", "")
    common_ann = c.labels(msg, "commonAnnotations", "")
    external = c.string(msg, "externalURL", "")
    raw_alerts = c.array(msg, "alerts", "")
    if "alerts" not in msg:
        c.fail("alerts", "is required")
    obs: list[AlertObservation] = []
    for i, a in enumerate(raw_alerts):
        path = f"alerts[{i}]"
        o = c.obj(a, path)
        if o is None:
            continue
        labels = c.labels(o, "labels", path)
        ann = c.labels(o, "annotations", path)
        status = c.string(o, "status", path, choices=("firing", "resolved"))
        starts = c.time(o, "startsAt", path)
        ends = c.time(o, "endsAt", path)
        gen = c.string(o, "generatorURL", path)
        fp = c.string(o, "fingerprint", path) or (_fingerprint(labels) if labels else None)
        if fp is None:
            c.fail(path, "needs a fingerprint or labels")
            continue
        firing = status == "firing" if status is not None else (ends is None or ends.year <= 1)
        summary = ann.get("summary") or ann.get("description") or labels.get("alertname") or fp
        details: dict[str, Any] = {"annotations": ann} if ann else {}
        if starts is not None:
            details["startsAt"] = starts.isoformat()
        links = ({"href": gen, "text": "Source"},) if gen else None
        obs.append(
            AlertObservation(
                key=fp,
                firing=firing,
                summary=summary[:1024],
                severity=severity_of(labels),
                source=labels.get("instance") or labels.get("job"),
                labels=labels or None,
                details=details or None,
                links=links,
                occurred_at=starts if firing else (ends if ends and ends.year > 1 else None),
            )
        )
    c.done()
    assert group_key is not None
    title = common_ann.get("summary")
    if not title:
        name = group_labels.get("alertname") or common_labels.get("alertname")
        rest = ", ".join(f"{k}={v}" for k, v in group_labels.items() if k != "alertname")
        title = " ".join(p for p in (name, f"({rest})" if rest else "") if p) or (
            obs[0].summary if obs else group_key
        )
    view = {
        "receiver": msg.get("receiver"),
        "status": msg.get("status"),
        "labels": {**common_labels, **group_labels},
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "annotations": common_ann,
        "commonAnnotations": common_ann,
        "externalURL": external,
    }
    return ParsedAlert(
        integration="alertmanager",
        key=key,
        dedup_key=group_key,
        command=UpsertGroup(alerts=tuple(obs), truncated=truncated > 0, title=title[:1024]),
        opens=True,
        view=view,
    )
