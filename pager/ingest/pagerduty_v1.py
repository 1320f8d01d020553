"""PagerDuty's older Events API v1 (`POST /generic/2010-04-15/create_event.json`), which
Alertmanager still sends when a receiver has `service_key` instead of `routing_key`.

Fields: `service_key` (the service's `pagerduty` integration key), `event_type` (trigger,
acknowledge, resolve), `incident_key` (generated and returned when a trigger has none),
`description` (<= 1024 characters, required to trigger), `details`, `client`, `client_url`.
v1 has no severity: a trigger is `critical`, as every v1 incident was high urgency.
"""

from __future__ import annotations

import uuid
from typing import Any

from pager.core.commands import Acknowledge, ResolveAlert
from pager.errors import InvalidEvent

from .parsed import ParsedAlert, new_parsed_alert, new_trigger
from .validate import Checker

__all__ = ["V1_PATH", "parse_v1_event"]

V1_PATH = "/generic/2010-04-15/create_event.json"
EVENT_TYPES = ("trigger", "acknowledge", "resolve")


def parse_v1_event(body: Any) -> ParsedAlert:
    c = Checker()
    ev = c.obj(body, "event")
    if ev is None:
        raise InvalidEvent(["event: must be an object"])
    key = c.string(ev, "service_key", "", required=True)
    action = c.string(ev, "event_type", "", required=True, choices=EVENT_TYPES)
    incident_key = c.string(ev, "incident_key", "", max_len=255)
    if incident_key is not None and not incident_key.strip():
        c.fail("incident_key", "must not be empty")
    description = c.string(ev, "description", "", required=action == "trigger", max_len=1024)
    client = c.string(ev, "client", "")
    client_url = c.string(ev, "client_url", "")
    if action in ("acknowledge", "resolve") and ev.get("incident_key") is None:
        c.fail("incident_key", f"is required to {action}")
    c.done()
    assert key is not None and action is not None
    generated = incident_key is None
    dedup_key = incident_key if incident_key is not None else uuid.uuid4().hex
    details: dict[str, Any] = {}
    if ev.get("details") is not None:
        details["custom_details"] = ev["details"]
    if client:
        details["client"] = client
    if client_url:
        details["client_url"] = client_url
    view: dict[str, Any] = {
        "routing_key": key,
        "event_action": action,
        "dedup_key": dedup_key,
        "summary": description,
        "severity": "critical",
        "details": ev.get("details"),
    }
    command: Any
    if action == "trigger":
        assert description is not None
        command = new_trigger(
            key=dedup_key,
            summary=description,
            severity="critical",
            source=client,
            details=details or None,
            links=({"href": client_url, "text": client or client_url},) if client_url else None,
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
