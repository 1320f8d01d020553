"""The dashboard's smallest HTML pieces, made in Python: an instant (`when`), a status badge
(`status`), a row's action button (`action`) and an alert's detail value (`detail`), called
from the templates as functions.

They were Jinja macros. The incidents page draws 100 rows with four of these each, and a
macro call costs about ten times a Python call (a new frame, a context, a caller object),
which made two thirds of the page's CPU time. The HTML stays short enough to read here;
every value that is not made here goes through `escape`, as autoescape would
(`Markup.format` would do it too, but its pure-Python formatter costs as much as a macro).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

__all__ = ["action", "ago", "detail", "duration", "links", "status", "when_at"]

LINK_SCHEMES = ("http", "https", "mailto")

UTC_FORMAT = "%Y-%m-%d %H:%M UTC"


def duration(d: timedelta) -> str:
    """`1h 30m`, `5m`, `45s`: a timedelta as people write it."""
    s = int(d.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return " ".join(parts) or "0m"


def ago(at: datetime | None, now: datetime) -> str:
    """`5 min ago`, `in 2 h`: how far `at` is from `now`."""
    if at is None:
        return ""
    s = int((now - at).total_seconds())
    future = s < 0
    s = abs(s)
    if s < 60:
        text = f"{s} s"
    elif s < 3600:
        text = f"{s // 60} min"
    elif s < 86400:
        text = f"{s // 3600} h"
    else:
        text = f"{s // 86400} d"
    return f"in {text}" if future else f"{text} ago"


def when_at(now: datetime) -> Callable[[datetime | None], Markup]:
    """`when(t)` for one page drawn at `now`: the instant in UTC inside a <time> element
    (pager.js shows it in the viewer's time zone) and how long ago it was."""

    def when(t: datetime | None) -> Markup:
        if t is None:
            return Markup("")
        iso = t.isoformat()  # digits, '-', ':', '+', 'T', '.': nothing to escape
        return Markup(  # noqa: S704 -- made here from an instant: nothing to escape
            f'<span class="when"><time datetime="{iso}" title="{iso}">'
            f'{t.strftime(UTC_FORMAT)}</time> <span class="ago" data-ago="{iso}">'
            f"{ago(t, now)}</span></span>"
        )

    return when


def status(s: str) -> Markup:
    s = escape(s)
    return Markup(f'<span class="badge st-{s}">{s}</span>')  # noqa: S704 -- escaped above


@lru_cache(maxsize=256)
def _next_query(back: str) -> str:
    return f"?next={quote(back, safe='')}" if back else ""


def action(
    csrf: str, inc_id: str, verb: str, label: str, what: str = "", back: str = "", cls: str = ""
) -> Markup:
    """A one-button form posting `verb` on the incident. `what` names the incident for a
    screen reader where the label alone is ambiguous (a list has many "Acknowledge"
    buttons); `back` is where pager sends the browser afterwards."""
    nxt = _next_query(back)
    sr = f'<span class="sr-only"> {escape(what)}</span>' if what else ""
    return Markup(  # noqa: S704 -- every value escaped here (Markup % costs 2.5x)
        f'<form method="post" action="/incidents/{escape(inc_id)}/{escape(verb)}{nxt}"'
        f' class="inline"><input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<button type="submit" class="btn {escape(cls)}" data-action="{escape(verb)}">'
        f"{escape(label)}{sr}</button></form>"
    )


def links(raw: object) -> list[tuple[str | None, str]]:
    """An alert's links as (href, text): a link is a string or a mapping with `href` and
    an optional `text`. Only http, https and mailto addresses become links; anything else
    (`javascript:`, `data:`) is shown as text, never followed."""
    out: list[tuple[str | None, str]] = []
    for item in raw if isinstance(raw, list | tuple) else ():
        href = item.get("href") if isinstance(item, Mapping) else item
        text = item.get("text") if isinstance(item, Mapping) else None
        if not isinstance(href, str):
            continue
        scheme = urlsplit(href.strip()).scheme.lower()
        ok = scheme in LINK_SCHEMES and href == href.strip()
        out.append((href if ok else None, str(text) if text else href))
    return out


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _value(value: object) -> str:
    """A detail's value as escaped HTML: an http(s) address (a `runbook_url` annotation) as
    a link, as `links` allows them; anything else as text."""
    text = _as_text(value)
    plain = isinstance(value, str) and value == value.strip() and " " not in value
    if plain and urlsplit(text).scheme.lower() in ("http", "https"):
        return f'<a href="{escape(text)}" rel="noopener noreferrer">{escape(text)}</a>'
    return str(escape(text))


def detail(value: object) -> Markup:
    """One value of an alert's details as people read it: a string as it is (an http(s)
    address as a link); a mapping (Alertmanager's `annotations`, a PagerDuty
    `custom_details` object) as a list of its keys and values; anything else as JSON
    (`[1, 2]`, `true`, `null`), never Python's repr (`{'summary': ...}`)."""
    if isinstance(value, Mapping) and value:
        rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{_value(v)}</dd>" for k, v in value.items())
        return Markup(f'<dl class="facts">{rows}</dl>')  # noqa: S704 -- each part escaped
    return Markup(_value(value))  # noqa: S704 -- escaped in _value
