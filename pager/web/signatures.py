"""Is a hook request from whom it says? Checked on the raw body, before anything acts on it.

- Slack signs `v0:{X-Slack-Request-Timestamp}:{body}` with the app's signing secret
  (HMAC-SHA256, `X-Slack-Signature: v0=<hex>`); a timestamp more than 5 minutes from now is
  refused, so a captured request cannot be replayed later. slack_sdk's `SignatureVerifier`
  does the check, with pager's wall clock.
- Twilio signs the URL it was given (pager's `server.public_url` + path + query, not the
  URL the request reached pager at through a proxy) followed by the form fields, sorted,
  with the account's auth token (HMAC-SHA1, base64, `X-Twilio-Signature`). The fields are
  read from the raw body only to compute that signature; twilio's `RequestValidator`
  computes it, with and without the URL's default port as Twilio does.

Every comparison is constant-time (`hmac.compare_digest`). Malformed headers or bodies are
simply not verified: nothing here raises on what a client sends.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import parse_qsl, urlparse

from slack_sdk.signature import Clock, SignatureVerifier
from twilio.request_validator import RequestValidator, add_port, remove_port
from werkzeug.datastructures import MultiDict

__all__ = ["SLACK_WINDOW", "form_fields", "slack_verified", "twilio_verified"]

SLACK_WINDOW = 5 * 60  # seconds, as slack_sdk checks it
MAX_FIELDS = 200

_SLACK_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class _At(Clock):
    """slack_sdk's clock interface, answering one instant (pager's wall clock, in seconds)."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def slack_verified(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float
) -> bool:
    """Whether Slack signed `body` at `timestamp` with `secret`, within 5 minutes of `now`."""
    if not timestamp or not signature:
        return False
    if not _TIMESTAMP.fullmatch(timestamp) or not _SLACK_SIGNATURE.fullmatch(signature):
        return False
    try:
        body.decode("utf-8")  # slack_sdk decodes it; Slack sends nothing else
    except UnicodeDecodeError:
        return False
    return bool(SignatureVerifier(secret, clock=_At(now)).is_valid(body, timestamp, signature))


def form_fields(body: bytes) -> MultiDict[str, str] | None:
    """The fields of an `application/x-www-form-urlencoded` body, or None when it is not one
    (form bodies are ASCII: everything else is percent-encoded)."""
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return MultiDict(pairs)


def twilio_verified(
    auth_token: str, url: str, fields: MultiDict[str, str], signature: str | None
) -> bool:
    """Whether Twilio signed `url` and `fields` with `auth_token`."""
    if not signature or len(signature) > 256:
        return False
    given = signature.encode("utf-8", "replace")
    validator = RequestValidator(auth_token)
    parsed = urlparse(url)
    ok = False
    for candidate in (remove_port(parsed), add_port(parsed)):
        expected = validator.compute_signature(candidate, fields).encode()
        ok |= hmac.compare_digest(expected, given)
    return ok
