"""Framework-free HTTP request and response records.

The ingest handlers take bytes and headers in and give a status and a body out, so the same
code answers on the Quart app (main port) and on the lean h11 listener (`server.ingest_listen`)
that carries alert storms. Nothing here knows about Quart, hypercorn or h11.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import orjson

from pager.core._fast import maker

__all__ = [
    "RawHandler",
    "RawRequest",
    "RawResponse",
    "json_response",
    "new_raw_request",
    "path_for_logs",
]

JSON_HEADERS: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)


@dataclass(frozen=True, slots=True)
class RawRequest:
    """One HTTP request, body fully read. Header names are lower-case; repeated headers are
    joined with ", " as RFC 9110 allows."""

    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: str = ""
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS


RawHandler = Callable[[RawRequest], Awaitable[RawResponse]]

# `RawRequest(...)` and `RawResponse(...)`, the same values, made without a frozen
# dataclass's `object.__setattr__` per field (pager.core._fast): one of each per request of
# the lean listener
new_raw_request: Callable[..., RawRequest] = maker(RawRequest)
_raw_response: Callable[..., RawResponse] = maker(RawResponse)


def path_for_logs(path: str) -> str:
    """The path without the credential it may carry: the integration key of
    `/integrations/generic/KEY`, the token of `/ical/users/alice/TOKEN.ics` and of `/a/TOKEN`
    stay out of logs."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "integrations":
        return "/".join([*parts[:3], "…"])
    if len(parts) > 4 and parts[1] == "ical":
        return "/".join([*parts[:4], "…"])
    if len(parts) > 2 and parts[1] == "a":
        return "/a/…"
    return path


def json_response(
    status: int, obj: object, extra_headers: tuple[tuple[str, str], ...] = ()
) -> RawResponse:
    return _raw_response(status, orjson.dumps(obj), JSON_HEADERS + extra_headers)
