"""Bearer-token authentication for the REST API and the stream: 401 without credentials,
403 with a token that is not one of `auth.api_tokens` (compared in constant time)."""

from __future__ import annotations

from typing import Protocol

from pager.actors.system import System
from pager.errors import Forbidden, Unauthorized

__all__ = ["authenticate"]


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
