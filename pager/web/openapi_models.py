"""The shapes of pager's request and response bodies, as pydantic v2 models: the OpenAPI
document (pager.web.openapi) takes its schemas from `model_json_schema()` of these.

The ingest parsers stay hand-written (pager.ingest.validate: the storm hot path, and error
messages that are part of the wire contract), so these models describe the bodies; the tests
keep the two together: schemathesis sends bodies generated from these schemas to a running
pager and checks every answer against the document (tests/web/test_openapi_schemathesis.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertmanagerAnswer",
    "AlertmanagerWebhook",
    "ErrorAnswer",
    "GenericAlert",
    "HeartbeatCreate",
    "IncidentAction",
    "IncidentEscalate",
    "IncidentNote",
    "IncidentSnooze",
    "MaintenanceCreate",
    "OpsgenieAccepted",
    "OpsgenieAction",
    "OpsgenieAlert",
    "OpsgenieDescription",
    "OpsgenieError",
    "OpsgenieMessage",
    "OpsgenieNote",
    "OverrideCreate",
    "PagerDutyAccepted",
    "PagerDutyChange",
    "PagerDutyEvent",
    "PagerDutyInvalid",
    "PagerDutyV1Accepted",
    "PagerDutyV1Event",
    "RouteTest",
    "SlackInteraction",
    "TwilioGather",
    "TwilioSms",
    "TwilioStatus",
    "TwilioVoice",
]

Severity = Literal["critical", "error", "warning", "info"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- answers


class ErrorAnswer(BaseModel):
    """The REST API's and ingest's error answer."""

    status: str
    message: str


class PagerDutyAccepted(BaseModel):
    status: Literal["success"]
    message: str
    dedup_key: str


class PagerDutyV1Accepted(BaseModel):
    status: Literal["success"]
    message: str
    incident_key: str


class PagerDutyInvalid(BaseModel):
    status: str
    message: str
    errors: list[str] = []


class AlertmanagerAnswer(BaseModel):
    status: Literal["ok"]
    alerts_not_read: int | None = None


class OpsgenieAccepted(BaseModel):
    model_config = ConfigDict(extra="allow")
    took: float
    requestId: str


class OpsgenieError(BaseModel):
    model_config = ConfigDict(extra="allow")
    message: str
    took: float
    requestId: str


# ---------------------------------------------------------------- ingest bodies


class Link(BaseModel):
    href: str
    text: str | None = None


class GenericAlert(_Body):
    title: str = Field(max_length=1024, min_length=1)
    dedup_key: str | None = Field(default=None, max_length=255)
    status: Literal["firing", "resolved"] = "firing"
    severity: Severity = "critical"
    source: str | None = Field(default=None, max_length=255)
    details: Any = None
    links: list[Link | str] = []


class PagerDutyPayload(_Body):
    summary: str = Field(max_length=1024, min_length=1)
    source: str = Field(max_length=255, min_length=1)
    severity: Severity
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    custom_details: Any = None


class PagerDutyEvent(_Body):
    """PagerDuty Events API v2 (`acknowledge` and `resolve` need `dedup_key`)."""

    routing_key: str
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255, min_length=1)
    payload: PagerDutyPayload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[Link] = []
    images: list[dict[str, Any]] = []


class PagerDutyChangePayload(_Body):
    summary: str = Field(max_length=1024, min_length=1)
    source: str | None = Field(default=None, max_length=255)
    timestamp: str | None = None
    custom_details: Any = None


class PagerDutyChange(_Body):
    routing_key: str
    payload: PagerDutyChangePayload
    links: list[Link] = []


class PagerDutyV1Event(_Body):
    """PagerDuty Events API v1 (`description` is required to trigger)."""

    service_key: str
    event_type: Literal["trigger", "acknowledge", "resolve"]
    incident_key: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=1024)
    details: Any = None
    client: str | None = None
    client_url: str | None = None


class AlertmanagerAlert(_Body):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(max_length=128)
    annotations: dict[str, str] = Field(default={}, max_length=128)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = Field(default=None, max_length=16384)
    fingerprint: str | None = Field(default=None, max_length=64)


class AlertmanagerWebhook(_Body):
    """Alertmanager's webhook, version 4."""

    version: str = "4"
    groupKey: str = Field(max_length=4096, min_length=1)
    truncatedAlerts: int = Field(default=0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str | None = None
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
    externalURL: str | None = Field(default=None, max_length=16384)
    alerts: list[AlertmanagerAlert]


class OpsgenieAlert(_Body):
    message: str = Field(max_length=130, min_length=1)
    alias: str | None = Field(default=None, max_length=512)
    description: str | None = None
    responders: list[dict[str, Any]] = []
    visibleTo: list[dict[str, Any]] = []
    actions: list[str] = []
    tags: list[str] = Field(default=[], max_length=20)
    details: dict[str, str] = {}
    entity: str | None = None
    source: str | None = None
    priority: Literal["P1", "P2", "P3", "P4", "P5"] = "P3"
    user: str | None = None
    note: str | None = None


class OpsgenieAction(_Body):
    user: str | None = None
    source: str | None = None
    note: str | None = None


class OpsgenieNote(OpsgenieAction):
    note: str = Field(min_length=1)


class OpsgenieMessage(_Body):
    message: str = Field(max_length=130, min_length=1)


class OpsgenieDescription(_Body):
    description: str


# ---------------------------------------------------------------- REST API bodies


class IncidentAction(_Body):
    by: str | None = Field(default=None, description="a configured user's id")


class IncidentSnooze(IncidentAction):
    for_: str = Field(alias="for", examples=["30m"])


class IncidentEscalate(IncidentAction):
    level: int | None = Field(default=None, ge=1, description="from 1; default: the next level")


class IncidentNote(IncidentAction):
    text: str = Field(min_length=1)


class HeartbeatCreate(_Closed):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    service: str
    interval: str = Field(examples=["5m"])
    grace: str = Field(default="0s", examples=["1m"])
    by: str | None = None


class MaintenanceCreate(_Body):
    for_: str | None = Field(default=None, alias="for", examples=["2h"])
    start: str | None = None
    end: str | None = None
    reason: str | None = None
    by: str | None = None


class OverrideCreate(_Body):
    user: str
    start: str = Field(description="ISO 8601 instant with a UTC offset")
    end: str = Field(description="ISO 8601 instant with a UTC offset, after start")
    by: str | None = None


class RouteTest(_Body):
    payload: dict[str, Any]
    integration: str | None = None
    key: str | None = None
    at: str | None = Field(default=None, description="ISO 8601 instant; default now")


# ---------------------------------------------------------------- provider hooks (forms)


class SlackInteraction(_Body):
    payload: str = Field(description="the interaction, JSON (block_actions)")


class TwilioSms(_Body):
    From: str
    Body: str = ""
    MessageSid: str | None = None


class TwilioVoice(_Body):
    CallSid: str | None = None
    AnsweredBy: str | None = None


class TwilioGather(TwilioVoice):
    Digits: str | None = None


class TwilioStatus(_Body):
    MessageSid: str | None = None
    MessageStatus: str | None = None
    CallSid: str | None = None
    CallStatus: str | None = None
    ErrorCode: str | None = None
