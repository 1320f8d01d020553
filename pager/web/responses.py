"""JSON responses for the Quart app (orjson: datetimes as RFC 3339 UTC), and reading a JSON
request body with a clear 4xx when it is not one."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Response, request

from pager.core.text import clean_line, clean_text
from pager.errors import BadRequest, UnsupportedMediaType
from pager.ingest.validate import check_depth

__all__ = ["MAX_NOTE", "MAX_REASON", "free_text", "json_body", "jsonify"]

MAX_NOTE = 10_000  # characters of a note (`/notes {"text"}`)
MAX_REASON = 1_000  # characters of a maintenance window's reason

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def jsonify(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(obj, option=OPTIONS), status, headers, content_type="application/json"
    )


async def json_body(*, required: bool = False, any_type: bool = False) -> dict[str, Any]:
    """The request's JSON object body; {} for an empty body unless `required`. With
    `any_type` the body is read as JSON whatever its Content-Type says (curl's `-d` labels it
    application/x-www-form-urlencoded), for the incident actions."""
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    if not raw.strip():
        if required:
            raise BadRequest("body: a JSON object is required")
        return {}
    ct = (request.content_type or "").split(";", 1)[0].strip().lower()
    if ct and ct != "application/json" and not any_type:
        raise UnsupportedMediaType(f"Content-Type must be application/json, not {ct}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"body: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise BadRequest("body: must be a JSON object")
    check_depth(obj)
    return obj


def free_text(
    body: dict[str, Any], field: str, limit: int, *, multiline: bool = False, required: bool = False
) -> str | None:
    """A free-text field of a REST body (a note, a reason): a string of at most `limit`
    characters, cleaned of control characters as ingest cleans an alert's (`multiline`
    keeps tab and newline). A BadRequest naming the field and the limit otherwise; None
    when it is absent and not `required`."""
    raw = body.get(field)
    if raw is None and not required:
        return None
    if required and (not isinstance(raw, str) or not raw.strip()):
        raise BadRequest(f"{field}: required, a non-empty string")
    if not isinstance(raw, str):
        raise BadRequest(f"{field}: must be a string")
    if len(raw) > limit:
        raise BadRequest(f"{field}: at most {limit} characters, not {len(raw)}")
    return clean_text(raw) if multiline else clean_line(raw)
