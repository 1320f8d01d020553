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

Bounds (docs/http.md, "Limits on what ingest reads"): a groupKey, fingerprint, label or URL longer than anything
Alertmanager sends is a 400 that names the field. A group of more than MAX_GROUP_ALERTS alerts
is read in part, never refused (Alertmanager would drop the notification, and nobody would be
paged): its firing alerts first, and, when some firing ones are left out, the alerts not read
are taken as unknown rather than resolved, as with Alertmanager's own `max_alerts`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pager.core.commands import AlertObservation, UpsertGroup
from pager.core.text import clean_line
from pager.errors import InvalidEvent

from .parsed import ParsedAlert, new_parsed_alert
from .validate import Checker

__all__ = [
    "MAX_ANNOTATION",
    "MAX_FINGERPRINT",
    "MAX_GROUP_ALERTS",
    "MAX_GROUP_KEY",
    "MAX_LABELS",
    "MAX_LABEL_NAME",
    "MAX_LABEL_VALUE",
    "MAX_URL",
    "parse_webhook",
    "severity_of",
]

# Bounds of what pager reads (docs/http.md, "Limits on what ingest reads"): a field past them is a 400 naming the
# field; a group of more alerts is read in part (see `_keep`), never refused.
MAX_GROUP_ALERTS = 1000  # alerts read of one webhook
MAX_GROUP_KEY = 4096  # characters; Alertmanager's are its route and group labels
MAX_FINGERPRINT = 64  # Alertmanager's are 16 hex digits
MAX_LABELS = 128  # entries of one label or annotation set
MAX_LABEL_NAME = 256
MAX_LABEL_VALUE = 4096
MAX_ANNOTATION = 32 * 1024
MAX_URL = 16 * 1024  # generatorURL carries the alert's PromQL expression

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
    group_key = c.string(msg, "groupKey", "", required=True, max_len=MAX_GROUP_KEY)
    truncated = msg.get("truncatedAlerts", 0)
    if isinstance(truncated, float) and truncated.is_integer() and abs(truncated) <= 2**53:
        truncated = int(truncated)  # JSON has one number type: 3.0 is the integer 3
    if not isinstance(truncated, int) or isinstance(truncated, bool):
        c.fail("truncatedAlerts", "must be an integer")
        truncated = 0
    elif not 0 <= truncated <= 2**53:
        c.fail("truncatedAlerts", f"must be between 0 and 2^53 (got {truncated})")
        truncated = 0
    group_labels = _labels(c, msg, "groupLabels", "")
    common_labels = _labels(c, msg, "commonLabels", "")
    common_ann = _labels(c, msg, "commonAnnotations", "", annotations=True)
    external = c.string(msg, "externalURL", "", max_len=MAX_URL)
    receiver = c.string(msg, "receiver", "", max_len=MAX_LABEL_VALUE, line=True)
    group_status = c.string(msg, "status", "", required=True, choices=("firing", "resolved"))
    raw_alerts = c.array(msg, "alerts", "")
    if msg.get("alerts") is None:
        c.fail("alerts", "is required")
    kept, dropped_firing = _keep(raw_alerts)
    obs: list[AlertObservation] = []
    for i in kept:
        a = raw_alerts[i]
        path = f"alerts[{i}]"
        o = c.obj(a, path)
        if o is None:
            continue
        labels = _labels(c, o, "labels", path)
        ann = _labels(c, o, "annotations", path, annotations=True)
        status = c.string(o, "status", path, choices=("firing", "resolved"))
        starts = c.time(o, "startsAt", path)
        ends = c.time(o, "endsAt", path)
        gen = c.string(o, "generatorURL", path, max_len=MAX_URL)
        fp = c.string(o, "fingerprint", path, max_len=MAX_FINGERPRINT)
        if fp is None and o.get("fingerprint") is not None:
            continue  # refused above
        fp = fp or (_fingerprint(labels) if labels else None)
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
                summary=clean_line(summary)[:1024],
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
    title = clean_line(common_ann.get("summary") or "")
    if not title:
        name = group_labels.get("alertname") or common_labels.get("alertname")
        rest = ", ".join(f"{k}={v}" for k, v in group_labels.items() if k != "alertname")
        title = " ".join(p for p in (name, f"({rest})" if rest else "") if p) or (
            obs[0].summary if obs else group_key
        )
    view = {
        "receiver": receiver,
        "status": group_status,
        "labels": {**common_labels, **group_labels},
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "annotations": common_ann,
        "commonAnnotations": common_ann,
        "externalURL": external,
    }
    return new_parsed_alert(
        integration="alertmanager",
        key=key,
        dedup_key=group_key,
        command=UpsertGroup(
            alerts=tuple(obs), truncated=truncated > 0 or dropped_firing, title=title[:1024]
        ),
        opens=True,
        view=view,
        dropped=len(raw_alerts) - len(kept),
    )


def _keep(raw_alerts: list[Any]) -> tuple[list[int], bool]:
    """Which alerts of a group to read (their indexes, in the order sent), at most
    MAX_GROUP_ALERTS: the firing ones first, then resolved ones. Also whether a firing alert
    was left out: then the alerts not read are not taken as resolved (as with Alertmanager's
    own `truncatedAlerts`)."""
    if len(raw_alerts) <= MAX_GROUP_ALERTS:
        return list(range(len(raw_alerts))), False
    firing: list[int] = []
    resolved: list[int] = []
    for i, a in enumerate(raw_alerts):
        (firing if _looks_firing(a) else resolved).append(i)
    kept = firing[:MAX_GROUP_ALERTS]
    kept += resolved[: MAX_GROUP_ALERTS - len(kept)]
    kept.sort()
    return kept, len(firing) > MAX_GROUP_ALERTS


def _looks_firing(a: Any) -> bool:
    """A quick look at an alert's status, for choosing which alerts of a large group to read
    (the alerts read are checked in full)."""
    if not isinstance(a, dict):
        return False
    status = a.get("status")
    if status is not None:
        return bool(status == "firing")
    ends = a.get("endsAt")
    return not isinstance(ends, str) or ends.startswith("0001-")


def _labels(
    c: Checker, parent: Mapping[str, Any], key: str, path: str, *, annotations: bool = False
) -> dict[str, str]:
    """A label (or annotation) set, within the limits: at most MAX_LABELS of them, names of
    at most MAX_LABEL_NAME characters, values of at most MAX_LABEL_VALUE (annotations:
    MAX_ANNOTATION, and multi-line)."""
    full = f"{path}.{key}" if path else key
    labels = c.labels(parent, key, path, line=not annotations)
    if len(labels) > MAX_LABELS:
        c.fail(full, f"must have at most {MAX_LABELS} entries (got {len(labels)})")
        return {}
    limit = MAX_ANNOTATION if annotations else MAX_LABEL_VALUE
    for name, value in labels.items():
        if len(name) > MAX_LABEL_NAME:
            c.fail(full, f"a name must be at most {MAX_LABEL_NAME} characters (got {len(name)})")
            return {}
        if len(value) > limit:
            c.fail(f"{full}.{name}", f"must be at most {limit} characters (got {len(value)})")
            return {}
    return labels
