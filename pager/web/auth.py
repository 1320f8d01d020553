"""Who is asking, and what they may do.

The REST API and the stream take a bearer token (401 without credentials, 403 with a token
that is not one of `auth.api_tokens`, compared in constant time); the dashboard and the
stream also take a session cookie (pager.web.sessions). Either way the request becomes a
`Principal` with a role: viewer < responder < admin. `authenticate(..., need=...)` refuses
(403) a principal whose role is below what the endpoint needs, and `acting_user` refuses a
`by` naming someone else unless the principal is an admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pager.actors.system import System
from pager.errors import BadRequest, Forbidden, Unauthorized

__all__ = ["RANK", "Principal", "acting_user", "authenticate", "check_role", "token_principal"]

RANK = {"viewer": 0, "responder": 1, "admin": 2}


class HeaderLookup(Protocol):
    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """A token or a signed-in person. `name` is what actions are journaled as by default
    (the user's id, else the token's name); `user` is the configured user, if any."""

    name: str
    role: str
    user: str | None = None
    via: str = "api"
    #: the API token's name (journaled beside `by`, never its secret); None for a session
    token_name: str | None = None

    def may(self, need: str) -> bool:
        return RANK[self.role] >= RANK[need]


def token_principal(system: System, token: str) -> Principal | None:
    found = system.api_token(token)
    if found is None:
        return None
    return Principal(
        name=found.user or found.name,
        role=found.effective_role,
        user=found.user,
        via="api",
        token_name=found.name,
    )


def check_role(who: Principal, need: str) -> Principal:
    if not who.may(need):
        raise Forbidden(f"this needs the {need} role; {who.name} is a {who.role}")
    return who


def authenticate(system: System, headers: HeaderLookup, need: str = "viewer") -> Principal:
    """The principal of the request's bearer token; raises Unauthorized or Forbidden (also
    when its role is below `need`)."""
    value = headers.get("authorization")
    if not value:
        raise Unauthorized("missing Authorization: Bearer <token>")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be: Bearer <token>")
    who = token_principal(system, token.strip())
    if who is None:
        raise Forbidden("this token is not allowed")
    return check_role(who, need)


def acting_user(system: System, body: dict[str, Any], who: Principal) -> str:
    """Who an action is journaled as: the body's `by` (a configured user's id), else the
    principal's own name. Naming anyone but oneself needs the admin role (403); any other
    `by` is a BadRequest."""
    by = body.get("by")
    if by is None:
        return who.name
    if not isinstance(by, str) or not by:
        raise BadRequest("by: must be a user id")
    if by not in system.current_rules().users:
        raise BadRequest(f"by: unknown user {by!r}")
    if by != who.user and not who.may("admin"):
        raise Forbidden(f"by: only an admin may act as another user ({who.name} is a {who.role})")
    return by
