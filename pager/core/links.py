"""Signed action links: the Acknowledge / Resolve / Escalate buttons of an email or a Teams
card, which open `{public_url}/a/{token}` in a browser.

A token names who may act (the person paged), on what (the incident), how (the action),
from which message (the notification), and until when (24 hours after the page). It is
signed with `auth.link_secret` (HMAC-SHA256), so none of that can be changed or made up:

    token   = payload "." signature
    payload = base64url(JSON {"v": 1, "u": user, "i": incident, "a": action,
                              "n": notification, "e": expiry in Unix seconds})
    signature = base64url(HMAC-SHA256(link_secret, "pager-link:" + payload))

(base64url without padding.) A bundle's link (storm mode: one message about several
incidents) has the action `acknowledge_all`, and the bundle's id as incident and notification.
The signature is checked, in constant time, before the payload is even decoded. A link acts once: the action it performs is journaled together with a
`link.used` event (`link_id`: notification and action), which the read model remembers until
the link expires, so a second use is refused even after a restart.

Pure: the instant to check expiry against is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pager.errors import LinkRefused

from .notifications import Notification
from .vocabulary import NotificationKind

__all__ = [
    "BUNDLE_ACTION",
    "LINK_ACTIONS",
    "LINK_LIFETIME",
    "LINK_METHODS",
    "LinkClaims",
    "bundle_links",
    "page_links",
    "sign_link",
    "verify_link",
]

LINK_ACTIONS = ("acknowledge", "resolve", "escalate")
BUNDLE_ACTION = "acknowledge_all"  # a bundle's link: every incident of it
_ACTIONS = (*LINK_ACTIONS, BUNDLE_ACTION)
LINK_LIFETIME = timedelta(hours=24)
LINK_METHODS = frozenset({"email", "teams"})
"""The contact methods whose pages carry links (Slack has buttons; SMS and calls take
answers of their own; the console would print tokens into logs)."""

MAX_TOKEN = 1024
_PART = re.compile(r"[A-Za-z0-9_-]+")
_CONTEXT = b"pager-link:"


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a token says: `user_id` may perform `action` on `incident_id` until
    `expires_at`; it came with notification `notification_id`."""

    user_id: str
    incident_id: str
    action: str
    notification_id: str
    expires_at: datetime

    @property
    def link_id(self) -> str:
        """What makes the link single-use: one message, one action."""
        return f"{self.notification_id}:{self.action}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT + payload.encode("ascii"), hashlib.sha256).digest()


def sign_link(secret: str, claims: LinkClaims) -> str:
    """The token for `claims`."""
    if claims.action not in _ACTIONS:
        raise ValueError(f"action: must be one of {', '.join(_ACTIONS)}")
    body = {
        "v": 1,
        "u": claims.user_id,
        "i": claims.incident_id,
        "a": claims.action,
        "n": claims.notification_id,
        "e": int(claims.expires_at.timestamp()),
    }
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify_link(secret: str, token: str, now: datetime) -> LinkClaims:
    """The claims of a token signed with `secret` that has not expired at `now`. Raises
    LinkRefused ("invalid" or "expired"). Whether it was used already is the read model's
    to say (`SystemState.link_used`)."""
    invalid = LinkRefused("invalid", "This link is not valid: it may be cut short or altered.")
    payload, dot, signature = token.partition(".")
    if (
        len(token) > MAX_TOKEN
        or not dot
        or not _PART.fullmatch(payload)
        or not _PART.fullmatch(signature)
    ):
        raise invalid
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise invalid
    # signed by us: from here on the payload is ours, but still read it carefully
    try:
        body = json.loads(_unb64(payload))
        claims = LinkClaims(
            user_id=body["u"],
            incident_id=body["i"],
            action=body["a"],
            notification_id=body["n"],
            expires_at=datetime.fromtimestamp(body["e"], UTC),
        )
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError, OSError):
        raise invalid from None
    if body.get("v") != 1 or claims.action not in _ACTIONS:
        raise invalid
    if not all(isinstance(v, str) and v for v in (claims.user_id, claims.incident_id)):
        raise invalid
    if now >= claims.expires_at:
        raise LinkRefused("expired", "This link has expired: links work for 24 hours.")
    return claims


def page_links(secret: str | None, public_url: str, n: Notification) -> dict[str, str]:
    """The action links for notification `n` (action -> URL): for pages by email or Teams,
    when a `link_secret` is configured; none otherwise. They expire `LINK_LIFETIME` after the
    page was requested, so every attempt to send it carries the same links."""
    if (
        not secret
        or n.kind != NotificationKind.PAGE
        or n.user_id is None
        or n.method not in LINK_METHODS
    ):
        return {}
    expires = n.requested_at + LINK_LIFETIME
    out = {}
    for action in LINK_ACTIONS:
        claims = LinkClaims(n.user_id, n.incident_id, action, n.id, expires)
        out[action] = f"{public_url}/a/{sign_link(secret, claims)}"
    return out


def bundle_links(
    secret: str | None,
    public_url: str,
    user_id: str,
    bundle_id: str,
    method: str,
    requested_at: datetime,
) -> dict[str, str]:
    """The link that acknowledges every incident of a bundle (`acknowledge_all`), for bundles
    by email or Teams with a `link_secret`; it expires `LINK_LIFETIME` after the bundle."""
    if not secret or method not in LINK_METHODS:
        return {}
    claims = LinkClaims(user_id, bundle_id, BUNDLE_ACTION, bundle_id, requested_at + LINK_LIFETIME)
    return {BUNDLE_ACTION: f"{public_url}/a/{sign_link(secret, claims)}"}
