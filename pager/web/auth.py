"""Bearer-token authentication for the REST API and the stream: 401 without credentials,
403 with a token that is not one of `auth.api_tokens` (compared in constant time)."""

from __future__ import annotations

from typing import Any, Protocol

from pager.actors.system import System
from pager.errors import BadRequest, Forbidden, Unauthorized

__all__ = ["acting_user", "authenticate"]


class HeaderLookup(Protocol):
    def get(self, key: str, /) -> str | None: ...


def authenticate(system: System, headers: HeaderLookup) -> str:
    """The name of the token the request carries; raises Unauthorized or Forbidden."""
    value = headers.get("authorization")
    if not value:
        raise Unauthorized("missing Authorization: Bearer <token>")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be: Bearer <token>")
    name = system.token_name(token.strip())
    if name is None:
        raise Forbidden("this token is not allowed")
    return name


def acting_user(system: System, body: dict[str, Any], token_name: str) -> str:
    """Who an API action is journaled as: the body's `by` (a configured user's id), else the
    name of the token that made the request. Raises BadRequest for any other `by`."""
    by = body.get("by")
    if by is None:
        return token_name
    if not isinstance(by, str) or not by:
        raise BadRequest("by: must be a user id")
    if by not in system.current_rules().users:
        raise BadRequest(f"by: unknown user {by!r}")
    return by
