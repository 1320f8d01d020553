"""The shapes of pager's request and response bodies, as pydantic v2 models: the OpenAPI
document (pager.web.openapi) takes its schemas from `model_json_schema()` of these.

The ingest parsers stay hand-written (pager.ingest.validate: the storm hot path, and error
messages that are part of the wire contract), so these models describe the bodies; the tests
keep the two together: schemathesis sends bodies generated from these schemas to a running
pager and checks every answer against the document (tests/web/test_openapi_schemathesis.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

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
NONBLANK = r"[^\s\x00-\x1f\x7f-\x9f]"  # more than white space and controls (ingest drops those)
KEPT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"  # a character ingest keeps (not a control)


def nonblank(max_length: int | None = None, **kw: Any) -> Any:
    """A required text: not blank, at most `max_length` characters."""
    return Field(pattern=NONBLANK, max_length=max_length, **kw)


_DROPPED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # what ingest drops from every string
_BLANK = r"\s\x00-\x1f\x7f-\x9f"


def kept_pattern(max_length: int, *, line: bool = False, nonblank: bool = False) -> str:
    """A pattern for an ingest text of at most `max_length` characters as pager keeps it
    (`pager.core.text`): control characters, which ingest drops, do not count, CRLF counts
    as one (it becomes LF), and in a one-line field (`line`) a run of tabs and newlines
    counts as one (it becomes a space); with `nonblank`, more than white space and controls.
    Each character can be read one way only, so a long refused string costs no
    backtracking."""
    d = _DROPPED
    if line:  # a whole run of tabs and line breaks (controls in it too) is one
        unit = rf"[\t\n\r][\t\n\r{d}]*(?![\t\n\r{d}])|[^\t\n\r{d}]"
    else:  # CRLF is one, a CR or LF alone one
        unit = rf"\r\n|\r(?!\n)|[^\r{d}]"
    head = rf"(?=[{_BLANK}]*[^{_BLANK}])" if nonblank else ""
    # `(?!\n)$`: the end, also where a `$` alone would let Python's re leave a last LF
    return rf"^{head}[{d}]*(?:(?:{unit})[{d}]*){{0,{max_length}}}(?!\n)$"


def kept(max_length: int, *, line: bool = False, nonblank: bool = False, **kw: Any) -> Any:
    """An ingest text of at most `max_length` characters as pager keeps it (`kept_pattern`);
    a `maxLength` would count the controls ingest drops, and refuse what pager takes."""
    # in the document only: pydantic's own regex engine has no look-around
    pattern = kept_pattern(max_length, line=line, nonblank=nonblank)
    runs = "a run of tabs and line breaks counts as one; " if line else ""
    words = f"at most {max_length} characters ({runs}control characters, dropped, do not count)"
    kw.setdefault("description", words)
    return Field(json_schema_extra={"pattern": pattern}, **kw)


Key = Annotated[str, nonblank()]
DURATION = r"^([1-9][0-9]{0,2}[smhd]|[1-9][0-9]?w)$"  # 30s, 5m, 2h, 1d, 1w (and 1h30m: pager.config.durations)
Duration = Annotated[str, Field(pattern=DURATION, examples=["30m"])]
Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"})]  # ISO 8601 / RFC 3339


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
    href: Key
    text: str | None = None


class Image(BaseModel):
    src: Key
    href: str | None = None
    alt: str | None = None


class GenericAlert(_Body):
    title: str = kept(1024, line=True, nonblank=True)
    dedup_key: str | None = kept(255, nonblank=True, default=None)
    status: Literal["firing", "resolved"] = "firing"
    severity: Severity = "critical"
    source: str | None = kept(255, line=True, default=None)
    details: Any = None
    links: list[Link | str] | None = None


class PagerDutyPayload(_Body):
    summary: str = kept(1024, line=True, nonblank=True)
    source: str = kept(255, line=True, nonblank=True)
    severity: Severity
    timestamp: Instant | None = None
    component: str | None = None
    group: str | None = None
    custom_details: Any = None


class _PagerDutyEvent(_Body):
    routing_key: Key
    client: str | None = None
    client_url: str | None = None
    links: list[Link] | None = None
    images: list[Image] | None = None


class PagerDutyTrigger(_PagerDutyEvent):
    event_action: Literal["trigger"]
    dedup_key: str | None = kept(255, nonblank=True, default=None)
    payload: PagerDutyPayload


class PagerDutyAckResolve(_PagerDutyEvent):
    event_action: Literal["acknowledge", "resolve"]
    dedup_key: str = kept(255, nonblank=True)
    payload: dict[str, Any] | None = None


class PagerDutyEvent(RootModel[PagerDutyTrigger | PagerDutyAckResolve]):
    """PagerDuty Events API v2: a trigger carries a payload, acknowledge and resolve a
    dedup_key."""


class PagerDutyChangePayload(_Body):
    summary: str = kept(1024, line=True, nonblank=True)
    source: str | None = kept(255, line=True, default=None)
    timestamp: Instant | None = None
    custom_details: Any = None


class PagerDutyChange(_Body):
    routing_key: Key
    payload: PagerDutyChangePayload
    links: list[Link] | None = None


class _PagerDutyV1(_Body):
    service_key: Key
    details: Any = None
    client: str | None = None
    client_url: str | None = None


class PagerDutyV1Trigger(_PagerDutyV1):
    event_type: Literal["trigger"]
    incident_key: str | None = kept(255, nonblank=True, default=None)
    description: str = kept(1024, nonblank=True)


class PagerDutyV1AckResolve(_PagerDutyV1):
    event_type: Literal["acknowledge", "resolve"]
    incident_key: str = kept(255, nonblank=True)
    description: str | None = kept(1024, default=None)


class PagerDutyV1Event(RootModel[PagerDutyV1Trigger | PagerDutyV1AckResolve]):
    """PagerDuty Events API v1 (`description` is required to trigger, `incident_key` to
    acknowledge or resolve)."""


class AlertmanagerAlert(_Body):
    """One alert of the group. Alertmanager sends every field; pager reads an alert by its
    `fingerprint` or, without one, by its `labels` (one of the two is required), and without
    `status` takes it as firing unless `endsAt` has passed."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "anyOf": [
                {
                    "required": ["labels"],
                    "properties": {"labels": {"type": "object", "minProperties": 1}},
                },
                {
                    "required": ["fingerprint"],
                    "properties": {"fingerprint": {"type": "string", "pattern": KEPT}},
                },
            ]
        },
    )

    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str] | None = Field(default=None, max_length=128)
    annotations: dict[str, str] | None = Field(default=None, max_length=128)
    startsAt: Instant | None = None
    endsAt: Instant | None = None
    generatorURL: str | None = kept(16384, default=None)
    fingerprint: str | None = kept(64, default=None)


class AlertmanagerWebhook(_Body):
    """Alertmanager's webhook, version 4."""

    version: Literal["4", 4] = "4"
    groupKey: str = kept(4096, nonblank=True)
    truncatedAlerts: int = Field(default=0, ge=0, le=2**53)  # larger ones are read as floats
    status: Literal["firing", "resolved"]
    receiver: str | None = None
    groupLabels: dict[str, str] | None = None
    commonLabels: dict[str, str] | None = None
    commonAnnotations: dict[str, str] | None = None
    externalURL: str | None = kept(16384, default=None)
    alerts: list[AlertmanagerAlert]


class OpsgenieAlert(_Body):
    message: str = kept(130, nonblank=True)
    alias: str | None = kept(512, default=None)
    description: str | None = kept(15000, default=None)
    # kept in the alert's details as they come, never read: any array is taken
    responders: list[Any] = Field(default=[], description="kept as sent, not read")
    visibleTo: list[Any] = Field(default=[], description="kept as sent, not read")
    actions: list[Any] = Field(default=[], description="kept as sent, not read")
    tags: list[str] = Field(default=[], max_length=20)
    details: dict[str, str] = {}
    entity: str | None = kept(512, default=None)
    source: str | None = kept(100, default=None)
    priority: Literal["P1", "P2", "P3", "P4", "P5"] = "P3"
    user: str | None = kept(100, default=None)
    note: str | None = kept(25000, default=None)


class OpsgenieAction(_Body):
    user: str | None = None
    source: str | None = None
    note: str | None = None


class OpsgenieNote(OpsgenieAction):
    note: str = nonblank()


class OpsgenieMessage(_Body):
    message: str = kept(130, nonblank=True)


class OpsgenieDescription(_Body):
    description: str = kept(15000, nonblank=True)


# ---------------------------------------------------------------- REST API bodies


class IncidentAction(_Body):
    by: str | None = Field(default=None, description="a configured user's id")


class IncidentSnooze(IncidentAction):
    for_: Duration = Field(alias="for")


class IncidentEscalate(IncidentAction):
    level: int = Field(ge=1, le=2**31, description="the level to page, from 1")


class IncidentNote(IncidentAction):
    text: str = nonblank()


# ---------------------------------------------------------------- dashboard forms


class DashboardForm(_Body):
    csrf: str = Field(description="the session's CSRF token, from the page (or X-CSRF-Token)")


class DashboardLogin(_Body):
    csrf: str = Field(description="the sign-in form's token, bound to the pager_login cookie")
    user: str = Field(description="a user's id or email")
    password: str
    next: str | None = Field(default=None, description="a path on this site to go to afterwards")


class DashboardSnooze(DashboardForm):
    for_: Literal["15m", "1h", "4h"] = Field(alias="for")


class DashboardEscalate(DashboardForm):
    level: int = Field(ge=1, le=2**31, description="the level to page, from 1")


class DashboardNote(DashboardForm):
    text: str = nonblank()


class DashboardMaintenance(DashboardForm):
    for_: Literal["30m", "1h", "2h", "4h", "8h", "24h"] = Field(alias="for")
    reason: str | None = Field(default=None, max_length=500)


class HeartbeatCreate(_Closed):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    service: str
    interval: Duration
    grace: Duration | Literal["0"] = "0"
    by: str | None = None


class MaintenanceCreate(_Body):
    for_: Duration | None = Field(default=None, alias="for")
    start: Instant | None = None
    end: Instant | None = None
    reason: str | None = None
    by: str | None = None


class OverrideCreate(_Body):
    user: str
    start: Instant = Field(description="ISO 8601 instant with a UTC offset")
    end: Instant = Field(description="ISO 8601 instant with a UTC offset, after start")
    by: str | None = None


class RouteTest(_Body):
    payload: dict[str, Any]
    integration: Literal["pagerduty", "alertmanager", "generic", "opsgenie"] | None = None
    key: str | None = None
    at: Instant | None = Field(default=None, description="ISO 8601 instant; default now")


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
