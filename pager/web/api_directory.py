"""REST: read the configuration's people, services and escalation policies without the
YAML file: `GET /api/v1/users`, `/services`, `/escalation_policies`.

Nothing secret is in them, by construction: each answer is built from an allow-list of
fields, never by dumping the model. Integration keys are credentials (anyone who holds one
can page the service), so a service lists its integrations' types only. A person lists the
contact methods they have, not the addresses: Teams and webhook addresses are URLs that
carry their own credentials, and phone numbers are personal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.core.heartbeat import HeartbeatSpec

from .auth import authenticate
from .responses import jsonify

__all__ = ["register"]


def _seconds(d: Any) -> float | None:
    return None if d is None else d.total_seconds()


def user_json(u: Any) -> dict[str, Any]:
    contacts = u.contacts.model_dump(exclude_none=True)
    return {
        "id": u.id,
        "name": u.name,
        "timezone": u.timezone,
        "contact_methods": sorted(contacts),
        "notification_rules": [
            {"after": _seconds(r.after), "via": r.via, "urgency": r.urgency}
            for r in u.notification_rules
        ],
    }


def service_json(s: Any, heartbeats: list[str]) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "escalation_policy": s.escalation_policy,
        "ack_timeout": _seconds(s.ack_timeout),
        "auto_resolve_after": _seconds(s.auto_resolve_after),
        "integrations": [{"type": i.type} for i in s.integrations],
        "heartbeats": heartbeats,
    }


def policy_json(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "repeat": p.repeat,
        "levels": [
            {
                "targets": [
                    {"user": t.user} if t.user is not None else {"schedule": t.schedule}
                    for t in level.targets
                ],
                "escalate_after": _seconds(level.escalate_after),
            }
            for level in p.levels
        ],
    }


def register(
    app: QuartTrio, system: System, heartbeat_specs: Callable[[], Mapping[str, HeartbeatSpec]]
) -> None:
    @app.get("/api/v1/users")
    async def users() -> Response:
        authenticate(system, request.headers)
        return jsonify({"users": [user_json(u) for u in system.config.users]})

    @app.get("/api/v1/services")
    async def services() -> Response:
        authenticate(system, request.headers)
        beats: dict[str, list[str]] = {}
        for spec in heartbeat_specs().values():
            beats.setdefault(spec.service_id, []).append(spec.name)
        return jsonify(
            {"services": [service_json(s, beats.get(s.id, [])) for s in system.config.services]}
        )

    @app.get("/api/v1/escalation_policies")
    async def policies() -> Response:
        authenticate(system, request.headers)
        return jsonify(
            {"escalation_policies": [policy_json(p) for p in system.config.escalation_policies]}
        )
