"""Heartbeats over HTTP: Opsgenie's ping (`GET|POST /v2/heartbeats/{name}/ping`, key
`Authorization: GenieKey <key>` or `?apiKey=`, answered as Opsgenie answers), pager's own
ping and fail (`POST /api/v1/heartbeats/{name}/ping|fail`, bearer token), and creating,
listing and deleting heartbeats through the API (journaled).

The GenieKey is an integration key of the heartbeat's service (an `opsgenie` one once that
type exists; until then any of the service's keys), compared in constant time. A key that
is not one of the service's answers as an unknown heartbeat would, so a caller learns
nothing about heartbeats it may not ping.
"""

from __future__ import annotations

import hmac
import math
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import trio
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.heartbeats import Heartbeats, heartbeat_specs
from pager.actors.system import System
from pager.config.durations import parse_duration
from pager.core.heartbeat import HeartbeatSpec, status_of
from pager.errors import BadRequest, NotFound, PagerError, Unavailable

from .auth import acting_user, authenticate
from .responses import json_body, jsonify

__all__ = ["register"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _opsgenie(status: int, body: dict[str, Any], started: float) -> Response:
    body["took"] = round(time.perf_counter() - started, 3)
    body["requestId"] = str(uuid.uuid4())
    return jsonify(body, status)


def _genie_key() -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, key = value.partition(" ")
    if scheme.lower() == "geniekey" and key.strip():
        return key.strip()
    return request.args.get("apiKey") or None


def _service_has_key(system: System, service_id: str, key: str) -> bool:
    svc = system.config.service(service_id)
    found = False
    for integration in svc.integrations if svc is not None else ():
        if hmac.compare_digest(str(integration.key).encode(), key.encode()):
            found = True
    return found


def heartbeat_json(system: System, spec: HeartbeatSpec) -> dict[str, Any]:
    beat = system.state.beats.get(spec.name)
    return {
        "name": spec.name,
        "service": spec.service_id,
        "interval": spec.interval.total_seconds(),
        "grace": spec.grace.total_seconds(),
        "source": spec.source,
        "status": str(status_of(beat, system.clock.now())),
        "last_ping": beat.pinged_at if beat is not None and not beat.failed else None,
        "late_at": beat.late_at if beat is not None and not beat.down else None,
        "down_at": beat.down_at if beat is not None and not beat.down else None,
    }


def _duration(body: dict[str, Any], field: str, *, positive: bool, default: str | None) -> Any:
    raw = body.get(field, default)
    if not isinstance(raw, str):
        raise BadRequest(f'{field}: required, a duration such as "5m"')
    try:
        d = parse_duration(raw)
    except ValueError as e:
        raise BadRequest(f"{field}: {e}") from None
    if positive and d.total_seconds() <= 0:
        raise BadRequest(f"{field}: must be longer than 0s")
    return d


def _always() -> None:
    return None


def _none() -> Heartbeats | None:
    return None


def register(
    app: QuartTrio,
    system: System,
    actor: Callable[[], Heartbeats | None] = _none,
    refuse_on_standby: Callable[[], None] = _always,
) -> None:
    """The heartbeat routes; `actor` is the heartbeats actor running now (None: none runs),
    `refuse_on_standby` raises 503 on a pager that is not the active one."""

    def heartbeats() -> Heartbeats:
        """The heartbeat actor, to change something: 503 where it does not run."""
        refuse_on_standby()
        running = actor()
        if running is None:
            raise Unavailable("pager is starting or stopping; try again")
        return running

    def find_spec(name: str) -> HeartbeatSpec:
        found = heartbeat_specs(system).get(name)
        if found is None:
            raise NotFound(f"no heartbeat {name}")
        return found

    @app.route("/v2/heartbeats/<name>/ping", methods=["GET", "POST"])
    async def opsgenie_ping(name: str) -> Response:
        started = time.perf_counter()
        now = trio.current_time()
        wait = system.key_misses.blocked(request.remote_addr, now)
        if wait > 0:  # too many wrong keys or names from this address lately
            message = "Too many requests with unknown keys or heartbeats; try again later"
            response = _opsgenie(429, {"message": message}, started)
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        key = _genie_key()
        if key is None:
            return _opsgenie(401, {"message": "Could not authenticate"}, started)
        spec = heartbeats().specs().get(name)
        if spec is None or not _service_has_key(system, spec.service_id, key):
            system.key_misses.missed(request.remote_addr, now)
            message = f"Heartbeat with name [{name}] does not exist."
            return _opsgenie(404, {"message": message}, started)
        try:
            await heartbeats().ping(name, via="opsgenie")
        except PagerError as e:
            return _opsgenie(e.status_code, {"message": e.message}, started)
        return _opsgenie(202, {"result": "PONG - Heartbeat received"}, started)

    @app.post("/api/v1/heartbeats/<name>/ping")
    async def ping(name: str) -> Response:
        authenticate(system, request.headers, need="responder")
        status = await heartbeats().ping(name, via="api")
        return jsonify({"name": name, "status": str(status)})

    @app.post("/api/v1/heartbeats/<name>/fail")
    async def fail(name: str) -> Response:
        authenticate(system, request.headers, need="responder")
        status = await heartbeats().fail(name, via="api")
        return jsonify({"name": name, "status": str(status)})

    @app.get("/api/v1/heartbeats")
    async def list_heartbeats() -> Response:
        authenticate(system, request.headers)
        specs = heartbeat_specs(system).values()
        return jsonify({"heartbeats": [heartbeat_json(system, s) for s in specs]})

    @app.get("/api/v1/heartbeats/<name>")
    async def show(name: str) -> Response:
        authenticate(system, request.headers)
        return jsonify(heartbeat_json(system, find_spec(name)))

    @app.post("/api/v1/heartbeats")
    async def create() -> Response:
        token = authenticate(system, request.headers, need="admin")
        body = await json_body(required=True)
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise BadRequest(
                "name: required; letters, digits, '.', '_' and '-', starting with a letter "
                "or digit (at most 128)"
            )
        service = body.get("service")
        if not isinstance(service, str) or service not in system.current_rules().services:
            raise BadRequest(f"service: unknown service {service!r}")
        interval = _duration(body, "interval", positive=True, default=None)
        grace = _duration(body, "grace", positive=False, default="0s")
        unknown = sorted(set(body) - {"name", "service", "interval", "grace", "by"})
        if unknown:
            raise BadRequest(f"{unknown[0]}: unknown field")
        spec = HeartbeatSpec(name, service, interval, grace, "api")
        hb = heartbeats()
        await hb.create(spec, acting_user(system, body, token), token.token_name)
        return jsonify(heartbeat_json(system, spec), 201)

    @app.delete("/api/v1/heartbeats/<name>")
    async def delete(name: str) -> Response:
        token = authenticate(system, request.headers, need="admin")
        hb = heartbeats()
        if name not in hb.specs():
            raise NotFound(f"no heartbeat {name}")
        await hb.delete(name, token.name, token.token_name)
        return jsonify({"status": "deleted", "name": name})
