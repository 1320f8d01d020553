"""What of a notification, and of the lines of a timeline about it, a principal is shown:
the REST API, the stream and the dashboard all go through here.

- An admin sees a notification's contact address; a URL (a Teams or webhook address)
  without the parts that may be credentials (`pager.core.redaction.shown_url`).
- Below admin, the address is not shown (`null` in JSON), and neither is it in what a
  provider said about the notification: an error text that quotes the phone number, the
  mail address or the URL it was sent to (Twilio's "The 'To' number +1555... is not a valid
  phone number") is shown with the address replaced by `…`, as is anything else in it that
  looks like an address.
- Every role: an error text never shows the secrets of the URL it was about (a journal
  written before pager took them out at the source may still hold them).

The journal keeps every error as the provider said it, less those URL secrets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from pager.core.notifications import Notification
from pager.core.redaction import shown_address, without_address, without_secrets
from pager.core.views import TimelineLine

__all__ = [
    "NOTIFICATION_LINES",
    "error_shown",
    "lines_shown",
    "notification_shown",
    "timeline_json_shown",
]

NOTIFICATION_LINES = frozenset(
    {"notification.failed", "notification.delivered", "notification.cancelled"}
)
"""The kinds of timeline line that may quote what a provider said about a notification."""


def error_shown(text: str | None, addresses: Iterable[str | None], *, admin: bool) -> str | None:
    """An error text (or the words of a timeline line) about notifications to `addresses`,
    as an admin, or someone below, is shown it."""
    if not text:
        return text
    if admin:
        for address in addresses:
            text = without_secrets(text, address)
        return text
    return without_address(text, addresses)


def notification_shown(n: Notification, *, admin: bool) -> Notification:
    """`n` as the principal is shown it: its address and the texts of its attempts."""
    address = shown_address(n.address) if admin else None
    last = error_shown(n.last_error, (n.address,), admin=admin)
    history = tuple(
        dataclasses.replace(a, detail=error_shown(a.detail, (n.address,), admin=admin))
        if a.detail
        else a
        for a in n.history
    )
    if (address, last, history) == (n.address, n.last_error, n.history):
        return n
    return dataclasses.replace(n, address=address, last_error=last, history=history)


def lines_shown(
    lines: list[TimelineLine], notes: Iterable[Notification], *, admin: bool
) -> list[TimelineLine]:
    """An incident's timeline (`pager.core.views.timeline_lines`) as the principal is shown
    it: the lines about its notifications (`notes`) without what they may not see."""
    addresses = {n.address for n in notes if n.address}
    out = []
    for line in lines:
        entry = line.entry
        if entry.kind in NOTIFICATION_LINES:
            text = error_shown(entry.text, addresses, admin=admin) or entry.text
            if text != entry.text:
                line = line._replace(entry=entry._replace(text=text))
        out.append(line)
    return out


def timeline_json_shown(
    timeline: list[Mapping[str, Any]], notes: Iterable[Notification], *, admin: bool
) -> list[dict[str, Any]]:
    """The `timeline` of an incident's JSON (`pager.core.views.incident_json`) as the
    principal is shown it, like `lines_shown`."""
    addresses = {n.address for n in notes if n.address}
    return [
        {**t, "text": error_shown(t["text"], addresses, admin=admin)}
        if t.get("kind") in NOTIFICATION_LINES
        else dict(t)
        for t in timeline
    ]
