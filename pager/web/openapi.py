"""The OpenAPI 3.1 document of pager's HTTP interface, built from the route table
(pager.web.openapi_routes) and the body models' `model_json_schema()`
(pager.web.openapi_models), and served at `GET /api/v1/openapi.json` with an API token.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.system import System

from .auth import authenticate
from .openapi_routes import JSON, OPS, Op
from .responses import jsonify

__all__ = ["document", "register"]

REF = "#/components/schemas/{model}"
REASONS = {
    101: "Switching to the websocket",
    200: "OK",
    303: "See other: a redirect (to /login without a session)",
    201: "Created",
    202: "Accepted: durable",
    204: "No content",
    400: "Bad request: names the field",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    410: "Gone: journal.retention deleted its history",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Unprocessable: names the field",
    429: "Over the rate limit (Retry-After)",
    503: "Cannot be made durable now (Retry-After)",
}
SECURITY = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "a token of auth.api_tokens"},
    "genieKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`GenieKey KEY`, KEY a service's opsgenie integration key",
    },
    "genieKeyQuery": {"type": "apiKey", "in": "query", "name": "apiKey"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "pager_session",
        "description": "a dashboard session (POST /login); forms also carry its CSRF token",
    },
    "twilioSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Twilio-Signature",
        "description": "Twilio's signature of server.public_url + path and the form fields",
    },
    "slackSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Slack-Signature",
        "description": "v0= HMAC-SHA256 of v0:{timestamp}:{body} with the signing secret",
    },
}


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for op in OPS:
        for model in (op.body, op.ok_schema, op.error_schema):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def _content(media: str, model: type[BaseModel] | None) -> dict[str, Any]:
    if model is not None:
        return {media: {"schema": {"$ref": REF.format(model=model.__name__)}}}
    if media == JSON:
        return {media: {"schema": {"type": "object"}}}
    return {media: {"schema": {"type": "string"}}}


def _operation(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": _operation_id(op),
        "summary": op.summary,
        "tags": [op.tag],
        "security": [{name: []} for name in op.auth],
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", op.path)
    ]
    params += [
        {"name": p.name, "in": p.where, "required": p.required, "schema": p.schema}
        | ({"description": p.description} if p.description else {})
        for p in op.query
    ]
    if params:
        out["parameters"] = params
    if op.body is not None:
        media = "application/x-www-form-urlencoded" if op.form else JSON
        out["requestBody"] = {"required": op.body_required, "content": _content(media, op.body)}
    responses: dict[str, Any] = {}
    for status in op.ok:
        answer: dict[str, Any] = {"description": REASONS[status]}
        if status not in (101, 204):
            answer["content"] = _content(op.media, op.ok_schema)
        responses[str(status)] = answer
    for status in op.errors:
        responses[str(status)] = {
            "description": REASONS[status],
            "content": _content(op.error_media, op.error_schema),
        }
    out["responses"] = responses
    out.update(op.extra)
    return out


def _operation_id(op: Op) -> str:
    words = re.sub(r"[{}]", "", op.path).strip("/").replace(".", "_").replace("-", "_")
    return f"{op.method.lower()}_{re.sub(r'[/]+', '_', words)}"


@cache
def document() -> dict[str, Any]:
    """The whole document (built once: it depends on the code, not on the configuration)."""
    _, top = models_json_schema([(model, "validation") for model in _models()], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pager",
            "version": _version(),
            "description": "pager's HTTP interface: ingest, REST API, provider hooks, "
            "action links and operations. See docs/http.md.",
        },
        "paths": paths,
        "components": {"schemas": top.get("$defs", {}), "securitySchemes": SECURITY},
    }


def _version() -> str:
    try:
        return metadata.version("pager")
    except metadata.PackageNotFoundError:
        return "0"


def register(app: QuartTrio, system: System) -> None:
    @app.get("/api/v1/openapi.json")
    async def openapi() -> Response:
        authenticate(system, request.headers)
        return jsonify(document())
