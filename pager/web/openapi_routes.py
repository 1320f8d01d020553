"""The route table of pager's HTTP interface: one `Op` per method and path, with its
authentication, body model, query parameters and answers. pager.web.openapi turns it into the
OpenAPI 3.1 document; tests/web/test_openapi.py checks it against the Quart app's url_map both
ways (every route described, every description served).

Longer than ~400 lines on purpose: it is one table, an entry per route, read and changed as a
whole beside the app; split, a route's description would be in a module other than its
neighbours'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from pager.config.models_people import CONTACT_METHODS
from pager.core.model import StatusFilter

from . import openapi_models as m
from .api_notifications import STATUSES as NOTIFICATION_STATUSES

__all__ = ["JSON", "OPS", "Op", "Param"]

JSON = "application/json"
TWIML = "application/xml"
TEXT = "text/plain"
HTML = "text/html"
PROMETHEUS = "text/plain"
CSV = "text/csv"


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False
    where: str = "query"


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # OpenAPI template: /api/v1/incidents/{incident_id}
    summary: str
    tag: str
    auth: tuple[str, ...] = ("bearer",)  # security schemes, any one of them; () for none
    body: type[BaseModel] | None = None
    form: bool = False  # application/x-www-form-urlencoded instead of JSON
    body_required: bool = False
    query: tuple[Param, ...] = ()
    ok: tuple[int, ...] = (200,)
    ok_schema: type[BaseModel] | None = None
    media: str = JSON
    errors: tuple[int, ...] = ()
    error_schema: type[BaseModel] | None = m.ErrorAnswer
    error_media: str = JSON
    extra: dict[str, Any] = field(default_factory=dict)


def _q(name: str, description: str = "", **schema: Any) -> Param:
    return Param(name, schema or {"type": "string"}, description)


STR = {"type": "string"}
INSTANT = {"type": "string", "format": "date-time"}
# the words as `statuses_for` reads them: any case, spaces around, empty parts skipped
_STATUS = "|".join("".join(f"[{c}{c.upper()}]" for c in word) for word in StatusFilter)
_STATUS_PART = rf"\s*({_STATUS})?\s*"
API_ERRORS = (400, 401, 403, 404)
PD_ERRORS = (400, 413, 415, 429, 503)
OG_ERRORS = (400, 401, 404, 413, 415, 422, 429, 503)
TWILIO = ("twilioSignature",)


def _api(method: str, path: str, summary: str, tag: str, **kw: Any) -> Op:
    kw.setdefault("errors", API_ERRORS)
    return Op(method, path, summary, tag, **kw)


def _incident_action(
    action: str, body: type[BaseModel], summary: str, *, required: bool = True
) -> Op:
    return _api(
        "POST",
        f"/api/v1/incidents/{{incident_id}}/{action}",
        summary,
        "incidents",
        body=body,
        body_required=required,
        errors=(*API_ERRORS, 409, 503),
        extra={"description": "The body is read as JSON whatever its Content-Type says."},
    )


def _page(method: str, path: str, summary: str, **kw: Any) -> Op:
    """A dashboard page or form: HTML, a session cookie; without one, 303 to /login."""
    kw.setdefault("auth", ("session",))
    kw.setdefault("media", HTML)
    kw.setdefault("ok", (200,) if method == "GET" else (303,))
    kw.setdefault("errors", (303, 400, 403, 404) if method == "GET" else (400, 403, 404, 409))
    if method == "POST":
        kw.setdefault("form", True)
        kw.setdefault("body_required", True)
        kw.setdefault("body", m.DashboardForm)
    return Op(method, path, summary, "dashboard", error_schema=None, error_media=HTML, **kw)


def _opsgenie(method: str, path: str, summary: str, **kw: Any) -> Op:
    kw.setdefault("ok", (202,))
    kw.setdefault("ok_schema", m.OpsgenieAccepted)
    kw.setdefault("errors", OG_ERRORS)
    kw.setdefault("error_schema", m.OpsgenieError)
    ident = _q("identifierType", "how `identifier` names the alert", enum=["id", "alias", "tiny"])
    if "{identifier}" in path:
        kw.setdefault("query", (ident,))
    return Op(method, path, summary, "opsgenie", auth=("genieKey", "genieKeyQuery"), **kw)


_INCIDENT_FILTERS = (
    _q(
        "status",
        "which incidents (default open)",
        enum=[f.value for f in StatusFilter],
    ),
    _q("service", "a service id"),
    _q("urgency", "high or low; empty for both", enum=["", "high", "low"]),
    _q("q", "words of the title, the key or the short code"),
)

_ANALYTICS_QUERY = (
    _q("from", "ISO 8601 instant; default 7 days before `to`", **INSTANT),
    _q("to", "ISO 8601 instant; default now; at most 400 days after `from`", **INSTANT),
    _q("service", "a service id"),
    _q("group_by", "the series' periods (empty: day)", enum=["", "day", "week"]),
    _q("tz", "IANA time zone of the series' days and weeks (default UTC)"),
)
_NEXT = (_q("next", "where to go afterwards: a path on this site (anything else: /)"),)

OPS: tuple[Op, ...] = (
    # ------------------------------------------------------------ ingest
    Op(
        "POST",
        "/v2/enqueue",
        "PagerDuty Events API v2",
        "ingest",
        auth=(),
        body=m.PagerDutyEvent,
        body_required=True,
        ok=(202,),
        ok_schema=m.PagerDutyAccepted,
        errors=PD_ERRORS,
        error_schema=m.PagerDutyInvalid,
    ),
    Op(
        "POST",
        "/v2/change/enqueue",
        "PagerDuty change event",
        "ingest",
        auth=(),
        body=m.PagerDutyChange,
        body_required=True,
        ok=(202,),
        errors=PD_ERRORS,
        error_schema=m.PagerDutyInvalid,
    ),
    Op(
        "POST",
        "/generic/2010-04-15/create_event.json",
        "PagerDuty Events API v1",
        "ingest",
        auth=(),
        body=m.PagerDutyV1Event,
        body_required=True,
        ok_schema=m.PagerDutyV1Accepted,
        errors=PD_ERRORS,
        error_schema=m.PagerDutyInvalid,
    ),
    Op(
        "POST",
        "/integrations/alertmanager/{key}",
        "Alertmanager webhook (v4)",
        "ingest",
        auth=(),
        body=m.AlertmanagerWebhook,
        body_required=True,
        ok_schema=m.AlertmanagerAnswer,
        errors=(400, 404, 413, 415, 503),
        error_schema=m.PagerDutyInvalid,
    ),
    Op(
        "POST",
        "/integrations/generic/{key}",
        "A generic alert",
        "ingest",
        auth=(),
        body=m.GenericAlert,
        body_required=True,
        ok=(202,),
        ok_schema=m.PagerDutyAccepted,
        errors=(*PD_ERRORS, 404),
        error_schema=m.PagerDutyInvalid,
    ),
    # ------------------------------------------------------------ Opsgenie Alert API v2
    _opsgenie("POST", "/v2/alerts", "Create an alert", body=m.OpsgenieAlert, body_required=True),
    _opsgenie("GET", "/v2/alerts/{identifier}", "An alert", ok=(200,), ok_schema=None),
    _opsgenie("POST", "/v2/alerts/{identifier}/acknowledge", "Acknowledge", body=m.OpsgenieAction),
    _opsgenie("POST", "/v2/alerts/{identifier}/close", "Close", body=m.OpsgenieAction),
    _opsgenie(
        "POST",
        "/v2/alerts/{identifier}/notes",
        "Add a note",
        body=m.OpsgenieNote,
        body_required=True,
    ),
    _opsgenie(
        "PUT",
        "/v2/alerts/{identifier}/message",
        "Change the title",
        body=m.OpsgenieMessage,
        body_required=True,
    ),
    _opsgenie(
        "PUT",
        "/v2/alerts/{identifier}/description",
        "Change the description",
        body=m.OpsgenieDescription,
        body_required=True,
    ),
    _opsgenie(
        "GET",
        "/v2/alerts/requests/{requestId}",
        "The outcome of a request",
        ok=(200,),
        ok_schema=None,
    ),
    Op(
        "GET",
        "/v2/heartbeats/{name}/ping",
        "Opsgenie heartbeat ping",
        "heartbeats",
        auth=("genieKey", "genieKeyQuery"),
        ok=(202,),
        ok_schema=m.OpsgenieAccepted,
        errors=(401, 404, 429, 503),
        error_schema=m.OpsgenieError,
    ),
    Op(
        "POST",
        "/v2/heartbeats/{name}/ping",
        "Opsgenie heartbeat ping",
        "heartbeats",
        auth=("genieKey", "genieKeyQuery"),
        ok=(202,),
        ok_schema=m.OpsgenieAccepted,
        errors=(401, 404, 429, 503),
        error_schema=m.OpsgenieError,
    ),
    # ------------------------------------------------------------ incidents
    _api(
        "GET",
        "/api/v1/incidents",
        "Incidents, newest first",
        "incidents",
        query=(
            _q(
                "status",
                f"comma list of {', '.join(StatusFilter)}",
                type="string",
                pattern=f"^{_STATUS_PART}(,{_STATUS_PART})*$",
            ),
            _q("service", "a service id"),
            _q("since", "ISO 8601 instant: created at or after", **INSTANT),
            _q("limit", "1 to 1000, default 100", type="integer", minimum=1, maximum=1000),
        ),
    ),
    _api(
        "GET",
        "/api/v1/incidents/{incident_id}",
        "One incident",
        "incidents",
        errors=(*API_ERRORS, 410),  # 410: journal.retention deleted its history
    ),
    _incident_action("acknowledge", m.IncidentAction, "Acknowledge", required=False),
    _incident_action("resolve", m.IncidentAction, "Resolve", required=False),
    _incident_action("snooze", m.IncidentSnooze, "Snooze"),
    _incident_action("escalate", m.IncidentEscalate, "Escalate"),
    _incident_action("notes", m.IncidentNote, "Add a note"),
    _api(
        "GET",
        "/api/v1/notifications",
        "Notifications",
        "incidents",
        query=(
            _q("incident", "an incident id"),
            _q(
                "status",
                "the notifications in this state",
                type="string",
                enum=list(NOTIFICATION_STATUSES),
            ),
            _q("limit", "1 to 1000, default 200", type="integer", minimum=1, maximum=1000),
        ),
    ),
    _api("GET", "/api/v1/notifications/{nid}", "One notification", "incidents"),
    # ------------------------------------------------------------ analytics (docs/analytics.md)
    _api(
        "GET",
        "/api/v1/analytics",
        "MTTA, MTTR, noise, delivery and people over a range",
        "analytics",
        auth=("bearer", "session"),
        query=_ANALYTICS_QUERY,
        errors=(400, 401, 403),
    ),
    _api(
        "GET",
        "/api/v1/analytics/incidents.csv",
        "One row per incident (CSV)",
        "analytics",
        auth=("bearer", "session"),
        query=_ANALYTICS_QUERY,
        media=CSV,
        errors=(400, 401, 403),
    ),
    _api(
        "GET",
        "/api/v1/analytics/people.csv",
        "One row per person (CSV)",
        "analytics",
        auth=("bearer", "session"),
        query=_ANALYTICS_QUERY,
        media=CSV,
        errors=(400, 401, 403),
    ),
    _api(
        "GET",
        "/api/v1/bundles/{bundle_id}",
        "One bundle: the pages one message carried",
        "incidents",
    ),
    # ------------------------------------------------------------ people and schedules
    _api("GET", "/api/v1/users", "Users (no contact addresses)", "directory"),
    _api("GET", "/api/v1/services", "Services (no integration keys)", "directory"),
    _api("GET", "/api/v1/escalation_policies", "Escalation policies", "directory"),
    _api(
        "GET",
        "/api/v1/oncall",
        "Who is on call",
        "schedules",
        query=(
            _q("schedule", "a schedule id"),
            _q("at", "ISO 8601 instant; default now", **INSTANT),
        ),
    ),
    _api("GET", "/api/v1/schedules", "Schedules", "schedules"),
    _api(
        "GET",
        "/api/v1/schedules/{sid}/shifts",
        "Final shifts",
        "schedules",
        query=(
            _q("from", "ISO 8601 instant; default now", **INSTANT),
            _q("to", "ISO 8601 instant; default 7 days on, at most 366", **INSTANT),
        ),
    ),
    _api("GET", "/api/v1/schedules/{sid}/overrides", "Overrides", "schedules"),
    _api(
        "POST",
        "/api/v1/schedules/{sid}/overrides",
        "Add an override",
        "schedules",
        body=m.OverrideCreate,
        body_required=True,
        ok=(201,),
        errors=(*API_ERRORS, 415, 503),
    ),
    _api(
        "DELETE",
        "/api/v1/schedules/{sid}/overrides/{oid}",
        "Remove an override",
        "schedules",
        errors=(*API_ERRORS, 503),
    ),
    _api(
        "GET",
        "/api/v1/schedules/{sid}/calendar",
        "The schedule's calendar feed URL",
        "schedules",
        errors=(*API_ERRORS, 409),
        extra={"description": "For admins and the people on the schedule (a token's `user`)."},
    ),
    _api(
        "POST",
        "/api/v1/schedules/{sid}/calendar/revoke",
        "A new calendar feed URL; the old one stops working",
        "schedules",
        errors=(*API_ERRORS, 409, 503),
    ),
    _api(
        "GET",
        "/api/v1/users/{uid}/calendar",
        "A person's calendar feed URL",
        "schedules",
        errors=(*API_ERRORS, 409),
        extra={"description": "For admins and the person (a token whose `user` it is)."},
    ),
    _api(
        "POST",
        "/api/v1/users/{uid}/calendar/revoke",
        "A new calendar feed URL; the old one stops working",
        "schedules",
        errors=(*API_ERRORS, 409, 503),
    ),
    Op(
        "GET",
        "/ical/{kind}/{ident}/{token}.ics",
        "A calendar feed (iCalendar)",
        "schedules",
        auth=(),
        media="text/calendar",
        errors=(404,),
        extra={
            "description": "The token in the path is the credential: the URL comes from "
            "the calendar endpoints of the API. Every refusal is the unknown path's 404."
        },
    ),
    # ------------------------------------------------------------ maintenance, heartbeats
    _api("GET", "/api/v1/maintenance", "Maintenance windows", "maintenance"),
    _api(
        "POST",
        "/api/v1/services/{service_id}/maintenance",
        "Start a window",
        "maintenance",
        body=m.MaintenanceCreate,
        body_required=True,
        ok=(201,),
        errors=(*API_ERRORS, 415, 503),
    ),
    _api(
        "DELETE",
        "/api/v1/maintenance/{window_id}",
        "End a window",
        "maintenance",
        errors=(*API_ERRORS, 503),
    ),
    _api("GET", "/api/v1/heartbeats", "Heartbeats", "heartbeats"),
    _api(
        "POST",
        "/api/v1/heartbeats",
        "Create a heartbeat",
        "heartbeats",
        body=m.HeartbeatCreate,
        body_required=True,
        ok=(201,),
        errors=(*API_ERRORS, 409, 415, 503),
    ),
    _api("GET", "/api/v1/heartbeats/{name}", "One heartbeat", "heartbeats"),
    _api(
        "DELETE",
        "/api/v1/heartbeats/{name}",
        "Delete a heartbeat",
        "heartbeats",
        errors=(*API_ERRORS, 409, 503),
    ),
    _api("POST", "/api/v1/heartbeats/{name}/ping", "Ping", "heartbeats", errors=(*API_ERRORS, 503)),
    _api(
        "POST",
        "/api/v1/heartbeats/{name}/fail",
        "Report a failure",
        "heartbeats",
        errors=(*API_ERRORS, 503),
    ),
    # ------------------------------------------------------------ configuration
    _api(
        "POST",
        "/api/v1/route-test",
        "Dry run of an alert",
        "configuration",
        body=m.RouteTest,
        body_required=True,
        errors=(*API_ERRORS, 415),
    ),
    _api("GET", "/api/v1/config", "The configuration in force", "configuration"),
    _api(
        "POST",
        "/api/v1/config/reload",
        "Reload the configuration file",
        "configuration",
        errors=(*API_ERRORS, 409, 503),
    ),
    _api("GET", "/api/v1/openapi.json", "This document", "operations", errors=(401, 403)),
    _api(
        "GET",
        "/api/v1/stream",
        "Every event as it is journaled (websocket)",
        "operations",
        query=(
            _q("since", "sequence number to start from (inclusive)", type="integer", minimum=0),
        ),
        ok=(101,),
        errors=(400, 401, 403),
        extra={
            "x-websocket": True,
            "description": "A websocket: one JSON text message per journaled event. "
            "A plain GET (no Upgrade) is answered 400.",
        },
    ),
    # ------------------------------------------------------------ operations
    Op("GET", "/healthz", "The process answers", "operations", auth=(), error_schema=None),
    Op(
        "GET",
        "/readyz",
        "Replay done and the log writable",
        "operations",
        auth=(),
        errors=(503,),
        error_schema=None,
        extra={
            "description": "With the PostgreSQL store: 503 `standby` on a pager that does "
            "not hold the lease; both answers carry role, node, epoch, leader, lease_age and "
            "replication_lag (docs/high-availability.md)."
        },
    ),
    Op(
        "GET",
        "/metrics",
        "Prometheus metrics",
        "operations",
        auth=(),
        media=PROMETHEUS,
        errors=(401, 403),
        extra={"description": "With `server.metrics_auth` it asks for an API token (bearer)."},
    ),
    # ------------------------------------------------------------ dashboard (docs/dashboard.md)
    _page("GET", "/login", "The sign-in form", auth=(), errors=(303,), query=_NEXT),
    _page(
        "POST",
        "/login",
        "Sign in",
        auth=(),
        body=m.DashboardLogin,
        ok=(303,),
        errors=(401, 403, 429),
    ),
    _page("POST", "/logout", "Sign out", errors=(400, 403)),
    _page("GET", "/", "Incidents", query=_INCIDENT_FILTERS),
    _page(
        "GET",
        "/incidents/rows",
        "The incidents table's rows (a fragment)",
        query=_INCIDENT_FILTERS,
        errors=(303, 400, 401, 403),
    ),
    _page("GET", "/incidents/{incident_id}", "One incident"),
    _page("POST", "/incidents/{incident_id}/acknowledge", "Acknowledge", query=_NEXT),
    _page("POST", "/incidents/{incident_id}/resolve", "Resolve", query=_NEXT),
    _page("POST", "/incidents/{incident_id}/snooze", "Snooze", body=m.DashboardSnooze, query=_NEXT),
    _page(
        "POST",
        "/incidents/{incident_id}/escalate",
        "Escalate",
        body=m.DashboardEscalate,
        query=_NEXT,
    ),
    _page(
        "POST", "/incidents/{incident_id}/notes", "Add a note", body=m.DashboardNote, query=_NEXT
    ),
    _page("GET", "/oncall", "Who is on call"),
    _page("GET", "/schedules", "The first schedule (On call now without any)"),
    _page("GET", "/schedules/{sid}", "A schedule's next 14 days"),
    _page(
        "GET",
        "/notifications",
        "The notification log",
        query=(
            _q("user", "a user id"),
            _q("method", "a contact method", enum=["", *CONTACT_METHODS]),
            _q("status", "a notification status", enum=["", *NOTIFICATION_STATUSES]),
        ),
    ),
    _page("GET", "/services", "Services, integration keys and maintenance"),
    _page(
        "GET",
        "/analytics",
        "Analytics: figures, charts, tables, CSV links",
        query=(
            _q(
                "from",
                "first day, YYYY-MM-DD (UTC); default 6 days before `to`",
                type="string",
                format="date",
            ),
            _q(
                "to",
                "last day, YYYY-MM-DD (UTC), included; default today",
                type="string",
                format="date",
            ),
            _q("service", "a service id"),
            _q("group_by", "the charts' periods (empty: day)", enum=["", "day", "week"]),
        ),
    ),
    _page(
        "POST",
        "/services/{service_id}/maintenance",
        "Start a maintenance window",
        body=m.DashboardMaintenance,
    ),
    _page("POST", "/maintenance/{window_id}/end", "End a maintenance window"),
    Op(
        "GET",
        "/static/{filename}",
        "The dashboard's CSS, JavaScript and vendored htmx",
        "dashboard",
        auth=(),
        media="*/*",
        errors=(404,),
    ),
    # ------------------------------------------------------------ provider hooks
    Op(
        "POST",
        "/hooks/slack/interactions",
        "A button pressed in a Slack message",
        "hooks",
        auth=("slackSignature",),
        body=m.SlackInteraction,
        form=True,
        body_required=True,
        media=TEXT,
        errors=(400, 401, 404, 503),
        error_schema=None,
        error_media=TEXT,
        query=(
            Param(
                "X-Slack-Request-Timestamp",
                {"type": "string"},
                "Unix time of the request (signed)",
                True,
                "header",
            ),
        ),
    ),
    Op(
        "POST",
        "/hooks/twilio/sms",
        "A text to pager's number",
        "hooks",
        auth=TWILIO,
        body=m.TwilioSms,
        form=True,
        media=TWIML,
        errors=(400, 403),
        error_schema=None,
        error_media=TEXT,
    ),
    Op(
        "POST",
        "/hooks/twilio/voice/{notification_id}",
        "TwiML for a paging call",
        "hooks",
        auth=TWILIO,
        body=m.TwilioVoice,
        form=True,
        media=TWIML,
        errors=(400, 403),
        error_schema=None,
        error_media=TEXT,
    ),
    Op(
        "POST",
        "/hooks/twilio/voice/{notification_id}/gather",
        "The key pressed",
        "hooks",
        auth=TWILIO,
        body=m.TwilioGather,
        form=True,
        media=TWIML,
        errors=(400, 403),
        error_schema=None,
        error_media=TEXT,
    ),
    Op(
        "POST",
        "/hooks/twilio/status",
        "Delivery receipts",
        "hooks",
        auth=TWILIO,
        body=m.TwilioStatus,
        form=True,
        ok=(204,),
        media=TEXT,
        errors=(400, 403),
        error_schema=None,
        error_media=TEXT,
    ),
    Op(
        "GET",
        "/a/{token}",
        "An action link: the confirmation page",
        "hooks",
        auth=(),
        media=HTML,
        errors=(403, 404),
        error_schema=None,
        error_media=HTML,
    ),
    Op(
        "POST",
        "/a/{token}",
        "An action link: perform it",
        "hooks",
        auth=(),
        media=HTML,
        errors=(403, 404, 409, 503),
        error_schema=None,
        error_media=HTML,
    ),
)
