"""PagerDuty Events API v2, as PagerDuty defines it, so that any client that speaks it
(pdpyras, the `pagerduty` package, Alertmanager's `pagerduty_configs`, Datadog, ...) can point
at pager by changing one URL.

Alert events (`POST /v2/enqueue`): `routing_key`, `event_action` (trigger, acknowledge,
resolve), `dedup_key` (at most 255 characters; generated and returned when a trigger has
none), `payload` (summary <= 1024 characters, source, severity, timestamp, component, group,
class, custom_details), `links`, `images`, `client`, `client_url`. Unknown fields are ignored,
as PagerDuty does. Change events (`POST /v2/change/enqueue`): `routing_key`, `payload`
(summary, source, timestamp, custom_details), `links`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pager.core.commands import Acknowledge, ResolveAlert
from pager.core.model import SEVERITIES
from pager.errors import InvalidEvent

from .parsed import ParsedAlert, ParsedChange, new_parsed_alert, new_trigger
from .validate import Checker

__all__ = ["MAX_EVENT_BYTES", "parse_alert_event", "parse_change_event"]

MAX_EVENT_BYTES = 512 * 1024
ACTIONS = ("trigger", "acknowledge", "resolve")


def _links(c: Checker, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, link in enumerate(c.array(body, "links", "")):
        o = c.obj(link, f"links[{i}]")
        if o is not None and c.string(o, "href", f"links[{i}]", required=True) is not None:
            c.string(o, "text", f"links[{i}]")
            out.append({"href": o["href"], **({"text": o["text"]} if "text" in o else {})})
    return out


def _images(c: Checker, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, img in enumerate(c.array(body, "images", "")):
        o = c.obj(img, f"images[{i}]")
        if o is not None and c.string(o, "src", f"images[{i}]", required=True) is not None:
            c.string(o, "href", f"images[{i}]")
            c.string(o, "alt", f"images[{i}]")
            out.append({k: o[k] for k in ("src", "href", "alt") if k in o})
    return out


def parse_alert_event(body: Any) -> ParsedAlert:
    c = Checker()
    ev = c.obj(body, "event")
    if ev is None:
        c.done()
        raise InvalidEvent(["event: must be an object"])
    key = c.string(ev, "routing_key", "", required=True)
    action = c.string(ev, "event_action", "", required=True, choices=ACTIONS)
    dedup = c.string(ev, "dedup_key", "", max_len=255)
    if dedup is not None and not dedup.strip():
        c.fail("dedup_key", "must not be empty")
    links = _links(c, ev)
    images = _images(c, ev)
    client = c.string(ev, "client", "")
    client_url = c.string(ev, "client_url", "")
    if action in ("acknowledge", "resolve") and ev.get("dedup_key") is None:
        c.fail("dedup_key", f"is required to {action}")
    payload = c.obj(ev.get("payload"), "payload", required=action == "trigger")
    summary = source = severity = None
    occurred = None
    details: dict[str, Any] = {}
    if action == "trigger" and payload is not None:
        summary = c.string(payload, "summary", "payload", required=True, max_len=1024, line=True)
        source = c.string(payload, "source", "payload", required=True, max_len=255, line=True)
        severity = c.string(payload, "severity", "payload", required=True, choices=SEVERITIES)
        occurred = c.time(payload, "timestamp", "payload")
        for f in ("component", "group", "class"):
            v = c.string(payload, f, "payload", line=True)
            if v is not None:
                details[f] = v
        if "custom_details" in payload and payload["custom_details"] is not None:
            details["custom_details"] = payload["custom_details"]
    c.done()
    assert key is not None and action is not None
    if images:
        details["images"] = images
    if client:
        details["client"] = client
    if client_url:
        details["client_url"] = client_url
    generated = dedup is None
    dedup_key = dedup if dedup is not None else uuid.uuid4().hex
    view: dict[str, Any] = {"routing_key": key, "event_action": action, "dedup_key": dedup_key}
    if payload is not None:
        view["payload"] = payload
        view.update({k: v for k, v in payload.items() if k not in view})
    if action == "trigger":
        assert summary is not None and severity is not None
        command: Any = new_trigger(
            key=dedup_key,
            summary=summary,
            severity=severity,
            source=source,
            details=details or None,
            links=tuple(links) or None,
            occurred_at=occurred,
        )
    elif action == "acknowledge":
        command = Acknowledge(by=None, via="pagerduty")
    else:
        command = ResolveAlert(key=dedup_key, via="pagerduty")
    return new_parsed_alert(
        integration="pagerduty",
        key=key,
        dedup_key=dedup_key,
        command=command,
        opens=action == "trigger",
        view=view,
        generated_key=generated,
    )


def parse_change_event(body: Any) -> ParsedChange:
    c = Checker()
    ev = c.obj(body, "event")
    if ev is None:
        raise InvalidEvent(["event: must be an object"])
    key = c.string(ev, "routing_key", "", required=True)
    payload = c.obj(ev.get("payload"), "payload")
    summary = source = None
    occurred = None
    details = None
    if payload is not None:
        summary = c.string(payload, "summary", "payload", required=True, max_len=1024, line=True)
        source = c.string(payload, "source", "payload", max_len=255, line=True)
        occurred = c.time(payload, "timestamp", "payload")
        details = payload.get("custom_details")
    links = _links(c, ev)
    c.done()
    assert key is not None and summary is not None
    return ParsedChange(
        key=key,
        summary=summary,
        source=source,
        occurred_at=occurred,
        links=tuple(links),
        details=details,
        view={"routing_key": key, "payload": payload or {}},
    )
