"""REST: the configuration in force — reload it from its file (as SIGHUP does), and the dry
run of routing and escalation for a sample alert."""

from __future__ import annotations

import logging

import trio
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System
from pager.config import ConfigError, Problem, load_demo_config
from pager.config.check_secrets import as_logged
from pager.config.load import load_config_warned
from pager.core.redaction import without_address
from pager.errors import BadRequest
from pager.ingest.route_test import route_test
from pager.ingest.validate import parse_instant

from .auth import authenticate
from .responses import json_body, jsonify

__all__ = ["register", "reload_from_file"]

log = logging.getLogger("pager.config")


async def reload_from_file(system: System) -> dict[str, object]:
    """Load, validate and swap the configuration from the file pager was started with (the
    demo reloads its embedded file, keeping the running server and data_dir). Raises
    ConfigError (the old configuration stays in force)."""
    path = system.config_path
    found: list[Problem] = []
    if path:
        config, found = await trio.to_thread.run_sync(load_config_warned, path)
    else:
        running = system.config
        config = load_demo_config(data_dir=running.data_dir).model_copy(
            update={"server": running.server}
        )
    pending = await system.reload(config, path or "demo")
    log.info("configuration reloaded from %s (%s)", path or "the demo", system.rules.digest)
    for p in pending:
        log.warning("reload: %s", p)
    warnings = [str(p) for p in found]  # (the answer, to an admin, says why)
    for problem in found:
        log.warning("reload: configuration %s", as_logged(problem))
    return {
        "status": "reloaded",
        "digest": system.rules.digest,
        "pending": pending,
        "warnings": warnings,
    }


def register(app: QuartTrio, system: System) -> None:
    @app.post("/api/v1/config/reload")
    async def reload() -> Response:
        authenticate(system, request.headers, need="admin")
        try:
            return jsonify(await reload_from_file(system))
        except ConfigError as e:
            log.error("reload refused; the configuration in force is unchanged:\n%s", e)
            return jsonify(
                {
                    "status": "invalid",
                    "message": "the new configuration is not valid; the one in force is unchanged",
                    "problems": [str(p) for p in e.problems],
                },
                400,
            )

    @app.get("/api/v1/config")
    async def current() -> Response:
        authenticate(system, request.headers)
        return jsonify({"digest": system.rules.digest, "source": system.config_path or "demo"})

    @app.post("/api/v1/route-test")
    async def dry_run() -> Response:
        who = authenticate(system, request.headers, need="responder")
        body = await json_body(required=True)
        payload = body.get("payload")
        if payload is None:
            raise BadRequest("payload: required, the alert as its tool would send it")
        at = system.clock.now()
        if body.get("at"):
            at = parse_instant("at", body["at"])

        for field in ("integration", "key"):
            if body.get(field) is not None and not isinstance(body[field], str):
                raise BadRequest(f"{field}: must be a string")
        result = route_test(
            system.rules,
            payload,
            at,
            integration=body.get("integration"),
            key=body.get("key"),
            state=system.state,
        )
        if not who.may("admin"):  # contact addresses are the admins' to see
            result["timeline"] = [
                {k: v for k, v in step.items() if k != "address"}
                | {"text": without_address(step["text"], [step.get("address")])}
                for step in result.get("timeline", ())
            ]
        return jsonify(result)
