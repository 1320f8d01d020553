"""`pager route-test` and `POST /api/v1/route-test`: for a sample alert, the service it
would reach, the escalation policy, and the timeline of who would be notified by which
method when — now or at another instant. The payload is parsed by the same parsers as real
ingest and routed by the same rules; the timeline comes from the core's dry run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pager.core.commands import NewIncident, Open, TriggerAlert, UpsertGroup
from pager.core.dryrun import simulate
from pager.core.redaction import shown_address
from pager.core.rules import Context, RulesBook
from pager.core.state import SystemState, maintenance_reason
from pager.errors import BadRequest, InvalidEvent

from .alertmanager import parse_webhook
from .generic import parse_generic
from .opsgenie import parse_create
from .pagerduty import parse_alert_event

__all__ = ["detect_integration", "route_test"]

INTEGRATIONS = ("pagerduty", "alertmanager", "generic", "opsgenie")


def detect_integration(payload: Any) -> str:
    if isinstance(payload, dict):
        if "event_action" in payload or "routing_key" in payload:
            return "pagerduty"
        if "groupKey" in payload or "alerts" in payload:
            return "alertmanager"
        if "title" in payload:
            return "generic"
    raise BadRequest(
        "cannot tell the payload's kind: give integration (pagerduty, alertmanager, generic, "
        "opsgenie)"
    )


def _only_key(rules: RulesBook, integration: str) -> str:
    """The one key of this integration type, when the test did not name one."""
    keys = [k for (t, k) in rules.integrations if t == integration]
    if not keys:
        raise BadRequest(
            f"key: no {integration} integration is configured, so this {integration} payload "
            "reaches no service (set integration if the payload is of another kind)"
        )
    if len(keys) > 1:
        raise BadRequest(
            f"key: required: {len(keys)} {integration} integration keys are configured; "
            "name the one the alert is sent to"
        )
    return keys[0]


def route_test(
    rules: RulesBook,
    payload: Any,
    at: datetime,
    *,
    integration: str | None = None,
    key: str | None = None,
    state: SystemState | None = None,
) -> dict[str, Any]:
    integration = integration or detect_integration(payload)
    if integration not in INTEGRATIONS:
        raise BadRequest(f"integration: must be one of {', '.join(INTEGRATIONS)}")
    if integration == "pagerduty":
        parsed = parse_alert_event(payload)
    else:
        key = key or _only_key(rules, integration)
        if integration == "alertmanager":
            parsed = parse_webhook(payload, key)
        elif integration == "opsgenie":
            parsed = parse_create(payload, key)
        else:
            parsed = parse_generic(payload, key)
    route = rules.integrations.get((integration, parsed.key))
    if route is None:
        field = "routing_key" if integration == "pagerduty" else "key"
        raise InvalidEvent([f"{field}: unknown integration key"])
    service_id = route.route(parsed.view)
    out: dict[str, Any] = {"integration": integration, "dedup_key": parsed.dedup_key, "at": at}
    if service_id is None:
        out.update(service=None, note="no routing rule of this key matches the alert")
        return out
    svc = rules.service(service_id)
    out["service"] = {"id": svc.id, "name": svc.name or svc.id}
    out["policy"] = svc.policy.id if svc.policy else None
    if not isinstance(parsed.command, TriggerAlert | UpsertGroup):
        out["note"] = f"a {type(parsed.command).__name__} acts on an open incident; it opens none"
        out["timeline"] = []
        return out
    new = NewIncident(incident_id="dry-run", number=0, service_id=service_id, dedup_key=parsed.dedup_key,
                      integration=integration)  # fmt: skip

    def context_at(t: datetime) -> Context:
        reason = maintenance_reason(svc, t, state)
        return Context(
            service=svc, now=t, maintenance=reason, oncall=rules.oncall, users=rules.users
        )

    run = simulate(Open(new=new, first=parsed.command), context_at, at)
    inc = run.incident
    if inc is not None:
        out["incident"] = {"title": inc.title, "severity": inc.severity, "urgency": inc.urgency}
    out["timeline"] = [
        {k: v for k, v in _step_json(s, at).items() if v is not None} for s in run.steps
    ]
    if run.note:
        out["note"] = run.note
    return out


def _step_json(s: Any, start: datetime) -> Mapping[str, Any]:
    return {
        "at": s.at,
        "after": _fmt_delta((s.at - start).total_seconds()),
        "kind": s.kind,
        "level": s.level,
        "round": s.round,
        "user": s.user_id,
        "method": s.method,
        "address": shown_address(s.address),
        "text": s.text,
    }


def _fmt_delta(seconds: float) -> str:
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"+{h}h{m:02d}m{sec:02d}s" if h else f"+{m}m{sec:02d}s"


def render_text(result: Mapping[str, Any]) -> str:
    lines = [f"integration: {result['integration']}  dedup key: {result['dedup_key']}"]
    svc = result.get("service")
    lines.append(f"service: {svc['id']} ({svc['name']})" if svc else "service: none")
    if svc:
        lines.append(f"escalation policy: {result.get('policy') or 'none'}")
    inc = result.get("incident")
    if inc:
        lines.append(f"incident: {inc['title']} ({inc['severity']}, {inc['urgency']} urgency)")
    for step in result.get("timeline", []):
        lines.append(f"  {step['after']:>10}  {step['at'].isoformat()}  {step['text']}")
    if result.get("note"):
        lines.append(f"note: {result['note']}")
    return "\n".join(lines)
