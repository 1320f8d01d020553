"""Dashboard: services, their integration keys with the URL to paste into the sending tool
(keys for admins only), and maintenance windows, which admins start and stop here
(journaled as they are through the API, by the signed-in admin)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from quart import Response
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.config.durations import parse_duration
from pager.core.events import Attribution, MaintenanceEnded, MaintenanceStarted
from pager.errors import BadRequest, NotFound

from .dashboard import Dashboard, goto

__all__ = ["MAINTENANCE_FOR", "integration_url", "register"]

MAINTENANCE_FOR = ("30m", "1h", "2h", "4h", "8h", "24h")


def integration_url(public_url: str, kind: str, key: str) -> dict[str, str]:
    """Where a tool of `kind` sends its alerts, and how the key travels."""
    base = public_url.rstrip("/")
    if kind == "pagerduty":
        return {"url": f"{base}/v2/enqueue", "how": "Events API v2: routing_key is the key"}
    if kind == "opsgenie":
        return {"url": f"{base}/v2/alerts", "how": "Opsgenie API: Authorization: GenieKey <key>"}
    return {"url": f"{base}/integrations/{kind}/{key}", "how": f"{kind} webhook URL"}


def _integration(public: str, kind: str, key: str, admin: bool) -> dict[str, str | None]:
    """An integration as the page shows it. Its key is a credential (whoever holds it can
    page the service; the REST API never shows one): only an admin sees it, and the URL
    only where the key is not part of it."""
    where = integration_url(public, kind, key)
    if admin:
        return {"type": kind, "key": key, **where}
    url = None if key in where["url"] else where["url"]
    return {"type": kind, "key": None, "url": url, "how": where["how"]}


def _always() -> None:
    return None


def register(
    app: QuartTrio,
    system: System,
    dash: Dashboard,
    refuse_on_standby: Callable[[], None] = _always,
) -> None:
    """The services page; starting or ending maintenance raises 503 (`refuse_on_standby`)
    on a pager that is not the active one."""

    @app.get("/services")
    async def page_services() -> Response:
        who, csrf = dash.principal()
        admin = who.may("admin")
        now = dash.now()
        public = str(system.config.server.public_url)
        rows: list[dict[str, Any]] = []
        for svc in system.config.services:
            rules = system.rules.services.get(svc.id)
            windows = [
                {"id": w.id, "start": w.start, "end": w.end, "reason": w.reason, "source": "config"}
                for w in (rules.maintenance if rules else ())
                if w.end > now
            ]
            windows += [
                {"id": w.id, "start": w.start, "end": w.end, "reason": w.reason, "source": "api",
                 "by": w.by}
                for w in system.state.maintenance.values()
                if w.service_id == svc.id and w.end > now
            ]  # fmt: skip
            rows.append(
                {
                    "id": svc.id,
                    "name": getattr(svc, "name", None) or svc.id,
                    "policy": getattr(svc, "escalation_policy", None),
                    "integrations": [
                        _integration(public, i.type, i.key, admin) for i in svc.integrations
                    ],
                    "windows": windows,
                    "in_maintenance": any(w["start"] <= now for w in windows),  # type: ignore[operator]
                }
            )
        body = dash.render("services.html", who, csrf, rows=rows, durations=MAINTENANCE_FOR)
        return dash.page(body)

    @app.post("/services/<service_id>/maintenance")
    async def page_start_maintenance(service_id: str) -> Response:
        who, csrf = dash.principal("admin")
        form = await dash.form(csrf)
        refuse_on_standby()
        if service_id not in system.rules.services:
            raise NotFound(f"no service {service_id}")
        raw = form.get("for", "")
        if raw not in MAINTENANCE_FOR:
            raise BadRequest(f"for: one of {', '.join(MAINTENANCE_FOR)}")
        now = dash.now()
        reason = form.get("reason", "").strip()[:500] or None
        ev = MaintenanceStarted(
            window_id=f"mw-{uuid.uuid4().hex[:12]}", service_id=service_id, start=now,
            end=now + parse_duration(raw), reason=reason, attribution=Attribution(who.name),
        )  # fmt: skip
        await system.journal.record([ev], now)
        return goto("/services", 303)

    @app.post("/maintenance/<window_id>/end")
    async def page_end_maintenance(window_id: str) -> Response:
        who, csrf = dash.principal("admin")
        await dash.form(csrf)
        refuse_on_standby()
        w = system.state.maintenance.get(window_id)
        if w is None:
            raise NotFound(f"no maintenance window {window_id} started from pager")
        await system.journal.record(
            [
                MaintenanceEnded(
                    window_id=window_id, service_id=w.service_id, attribution=Attribution(who.name)
                )
            ],
            dash.now(),
        )
        return goto("/services", 303)
