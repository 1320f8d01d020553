"""What of a URL, or of a contact address, pager may show: credentials and addresses taken
out of what is printed, logged, journaled or answered.

A URL that reaches a person or a channel is often its own credential, in several places:
the password before its host (`https://hook:PASSWORD@...`), the values of its query (a
Teams workflow's `sig=`, a receiver's `?token=`) and its path (a Slack incoming webhook's
`/services/T.../B.../SECRET`, a legacy Teams webhook's `/IncomingWebhook/SECRET/...`).
`shown_url` is such a URL as pager shows it (`check-config`, the API's `address`), and
`without_secrets` takes the same parts out of a text that may quote it (a provider's error,
which is journaled, logged and shown).

Which path segments are secret cannot be known, so a rule says which may be: one of 17
characters or more (a Slack webhook's 24, a hex key's 32, a GUID's 36), or of 8 or more
with a digit in it (`T0123ABCD`, `B0123ABCD`). A short word (`services`, `IncomingWebhook`,
`alice`, `v2`) stays, so the shown URL still says where it points. A short secret of
letters only cannot be told from a word: it belongs in the query, whose values of 4
characters or more are always hidden.

Below the admin role, a contact address is not shown at all (phone numbers, mail addresses
and URLs are personal or credentials): `without_address` takes it out of a text that may
quote it (Twilio's "The 'To' number +1555... is not a valid phone number", an SMTP
server's "<alice@example.com>: Recipient address rejected"), each spelling of it, and
anything else in the text that looks like an address (a mail address, a phone number, a
URL), since the text may quote one pager does not know of.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

__all__ = [
    "HIDDEN",
    "MIN_SECRET",
    "is_url",
    "shown_address",
    "shown_url",
    "url_secrets",
    "without_address",
    "without_secrets",
]

HIDDEN = "…"
MIN_SECRET = 4  # shorter query values (`v=1`) are not credentials, and are everywhere
LONG_SEGMENT = 17  # a path segment this long may be a credential, whatever it holds
MIXED_SEGMENT = 8  # ... and one this long with a digit in it

_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?::[0-9]+)?", re.IGNORECASE)
_ADDRESS_LIKE = re.compile(
    r"""[a-z][a-z0-9+.-]*://[^\s<>"'`]+"""  # a URL
    r"""|[^\s@<>()"'`,;:\[\]]+@[^\s@<>()"'`,;:\[\]]+\.[a-z0-9-]+"""  # a mail address
    r"""|(?<![\w.+-])(?!\d{4}-\d\d-\d\d)\+?\d(?:[ ()-]?\d){6,14}(?![\w.])""",  # a phone
    # number, not a date (`2026-12-08 01:23:45` in a provider's error stays)
    re.IGNORECASE,
)


def is_url(value: str | None) -> bool:
    """Whether `value` is an http(s) URL (a Teams or webhook address), not a phone number,
    a mail address or a Slack id."""
    return value is not None and value[:8].lower().startswith(("http://", "https://"))


def _secret_segment(segment: str) -> bool:
    text = urllib.parse.unquote(segment)
    if len(text) >= LONG_SEGMENT:
        return True
    return len(text) >= MIXED_SEGMENT and any(c.isdigit() for c in text)


def shown_url(value: str) -> str:
    """`value` as pager shows it: where it points, without the password before its host,
    the values of its query and its fragment, and the segments of its path that may be
    credentials, each replaced by `…`."""
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        return HIDDEN
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        name, colon, _ = user.partition(":")
        netloc = f"{name}{':' + HIDDEN if colon else ''}@{host}"
    segments = parts.path.split("/")
    # no scheme (`hooks.example.com/alice`, refused as such): the first segment is the host
    kept = 1 if not netloc and _HOST.fullmatch(segments[0]) else 0
    path = "/".join(
        s if i < kept or not _secret_segment(s) else HIDDEN for i, s in enumerate(segments)
    )
    fields = (field.partition("=") for field in parts.query.split("&")) if parts.query else ()
    query = "&".join(f"{name}={HIDDEN}" if eq else name for name, eq, _ in fields)
    fragment = HIDDEN if parts.fragment else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, fragment))


def shown_address(address: str | None) -> str | None:
    """A contact address as an admin sees it: a URL as `shown_url` shows it, anything else
    (a phone number, a mail address, a Slack id) as it is."""
    return shown_url(address) if address is not None and is_url(address) else address


def url_secrets(value: str) -> list[str]:
    """What of the URL `value` may be a credential (its password, its query's values of
    `MIN_SECRET` characters or more, its fragment, the path segments `shown_url` hides),
    longest first, each as written and decoded."""
    try:
        parts = urllib.parse.urlsplit(value)
        password = parts.password
    except ValueError:
        return [value] if len(value) >= MIN_SECRET else []
    found = {s for s in parts.path.split("/") if _secret_segment(s)}
    found.update(v for _, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if v)
    found.update(
        v for field in parts.query.split("&") if (v := field.partition("=")[2])
    )  # as written (percent-encoded)
    if password:
        found.add(password)
    if parts.fragment:
        found.add(parts.fragment)
    spelled = set()
    for secret in found:
        if len(secret) < MIN_SECRET:
            continue
        spelled.add(secret)
        decoded = urllib.parse.unquote(secret)
        spelled.update(
            {
                decoded,
                urllib.parse.quote(decoded, safe=""),
                urllib.parse.quote(decoded, safe="/"),
            }
        )
    return sorted(spelled, key=len, reverse=True)


def without_secrets(text: str, url: str | None) -> str:
    """`text` without what of the URL `url` may be a credential (`url_secrets`), each
    replaced by `…`; as it is when `url` is not an http(s) URL."""
    if not text or not is_url(url):
        return text
    assert url is not None
    for secret in url_secrets(url):
        text = text.replace(secret, HIDDEN)
    return text


def _spellings(address: str) -> set[str]:
    """The ways a text may quote `address`: as it is, a phone number without its `+` or
    percent-encoded, a URL decoded or as pager shows it, or its host or its path alone."""
    out = {address, urllib.parse.quote(address, safe=""), urllib.parse.unquote(address)}
    if address.startswith("+"):
        out.add(address[1:])
    if is_url(address):
        out.add(shown_url(address))
        out.add(address.rstrip("/"))
        parts = urllib.parse.urlsplit(address)
        out.update({parts.netloc, parts.path, urllib.parse.urlsplit(shown_url(address)).path})
    return {s for s in out if len(s) >= MIN_SECRET}


def without_address(text: str, addresses: Iterable[str | None] = ()) -> str:
    """`text` as someone who may not see contact addresses reads it: each of `addresses`,
    in any spelling (case aside), the secrets of those that are URLs, and whatever else
    looks like a URL, a mail address or a phone number, replaced by `…`."""
    if not text:
        return text
    known = [a for a in addresses if a]
    for address in known:
        text = without_secrets(text, address)
        for spelling in sorted(_spellings(address), key=len, reverse=True):
            text = re.sub(re.escape(spelling), HIDDEN, text, flags=re.IGNORECASE)
    return _ADDRESS_LIKE.sub(HIDDEN, text)
