"""Opsgenie's Alert API v2, as Opsgenie defines it, for what sends to Opsgenie today
(Alertmanager's `opsgenie_configs`, Zabbix's Opsgenie media type, Grafana alerting).

`POST /v2/alerts`: `message` (required, <= 130 characters), `alias` (<= 512; the dedup key:
an open alert with the same alias counts up instead of paging again), `description`
(<= 15000), `responders`, `visibleTo`, `actions`, `tags` (<= 20), `details` (a string map),
`entity`, `source`, `priority` (P1..P5, default P3), `user`, `note`. Without an alias, the
alias is a fresh UUID, as Opsgenie does.

Priority becomes the alert's severity (P1, P2 critical; P3 error; P4 warning; P5 info), so
each service's `urgency_by_severity` decides the urgency, as for every other integration.
"""

from __future__ import annotations

import uuid
from typing import Any

from pager.errors import InvalidEvent

from .parsed import ParsedAlert, new_parsed_alert, new_trigger
from .validate import Checker

__all__ = ["PRIORITY_SEVERITY", "parse_action_body", "parse_create", "parse_update"]

PRIORITY_SEVERITY = {
    "P1": "critical",
    "P2": "critical",
    "P3": "error",
    "P4": "warning",
    "P5": "info",
}


def parse_create(body: Any, key: str) -> ParsedAlert:
    c = Checker()
    msg = c.obj(body, "body")
    if msg is None:
        raise InvalidEvent(["body: must be a JSON object"])
    message = c.string(msg, "message", "", required=True, max_len=130)
    if message is not None and not message.strip():
        c.fail("message", "must not be empty")
    alias = c.string(msg, "alias", "", max_len=512)
    description = c.string(msg, "description", "", max_len=15000)
    entity = c.string(msg, "entity", "", max_len=512)
    source = c.string(msg, "source", "", max_len=100)
    user = c.string(msg, "user", "", max_len=100)
    note = c.string(msg, "note", "", max_len=25000)
    priority = c.string(msg, "priority", "", choices=tuple(PRIORITY_SEVERITY)) or "P3"
    tags = c.array(msg, "tags", "")
    if len(tags) > 20:
        c.fail("tags", f"at most 20 tags, not {len(tags)}")
    for i, t in enumerate(tags):
        if not isinstance(t, str):
            c.fail(f"tags[{i}]", "must be a string")
    details = c.labels(msg, "details", "")
    for f in ("responders", "visibleTo", "actions"):
        c.array(msg, f, "")
    c.done()
    assert message is not None
    generated = not alias
    dedup_key = alias or str(uuid.uuid4())
    og: dict[str, Any] = {"priority": priority, "tags": list(tags)}
    for name, value in (
        ("entity", entity),
        ("user", user),
        ("note", note),
    ):
        if value:
            og[name] = value
    for f in ("responders", "visibleTo", "actions"):
        if msg.get(f):
            og[f] = msg[f]
    if details:
        og["details"] = details
    links: tuple[Any, ...] | None = None
    url = details.get("url") if details else None  # Grafana's details.url
    if url:
        links = ({"href": url, "text": "source"},)
    labels = _tag_labels(tags)
    severity = PRIORITY_SEVERITY[priority]
    command = new_trigger(
        key=dedup_key,
        summary=message,
        severity=severity,
        source=source,
        labels=labels or None,
        details={"opsgenie": og, **({"description": description} if description else {})},
        links=links,
    )
    view = {
        "message": message,
        "summary": message,
        "alias": dedup_key,
        "priority": priority,
        "severity": severity,
        "source": source,
        "entity": entity,
        "tags": list(tags),
        "labels": labels,
        "details": details,
    }
    return new_parsed_alert(
        integration="opsgenie",
        key=key,
        dedup_key=dedup_key,
        command=command,
        opens=True,
        view=view,
        generated_key=generated,
    )


def _tag_labels(tags: list[Any]) -> dict[str, str]:
    """Grafana sends labels as `k:v` tags; they become the alert's labels."""
    out = {}
    for t in tags:
        if isinstance(t, str) and ":" in t:
            k, _, v = t.partition(":")
            if k:
                out[k] = v
    return out


def parse_action_body(body: Any) -> dict[str, str]:
    """`{user, source, note}` of acknowledge/close/notes; an empty body is allowed."""
    if body is None:
        return {}
    c = Checker()
    msg = c.obj(body, "body")
    if msg is None:
        raise InvalidEvent(["body: must be a JSON object"])
    out = {}
    for f, limit in (("user", 100), ("source", 100), ("note", 25000)):
        v = c.string(msg, f, "", max_len=limit)
        if v is not None:
            out[f] = v
    c.done()
    return out


def parse_update(body: Any, field: str) -> str:
    """The body of `PUT .../message` (`{"message"}`, <= 130) or `.../description`
    (`{"description"}`, <= 15000)."""
    c = Checker()
    msg = c.obj(body, "body")
    if msg is None:
        raise InvalidEvent(["body: must be a JSON object"])
    value = c.string(msg, field, "", required=True, max_len=130 if field == "message" else 15000)
    if field == "message" and value is not None and not value.strip():
        c.fail("message", "must not be empty")
    c.done()
    assert value is not None
    return value
