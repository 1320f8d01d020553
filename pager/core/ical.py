"""iCalendar (RFC 5545) text for the calendar feeds: a VCALENDAR of VEVENTs, written by hand.

The feeds need a small, fixed subset of the format, so pager writes it itself rather than
carrying a library at run time (the tests parse every feed with the `icalendar` library,
an independent reader). What the subset takes care of:

- Every instant is written in UTC (`DTSTART:20261025T070000Z`): exact whatever the zone and
  its daylight saving rules, so no VTIMEZONE is needed; calendar apps show it in local time.
- TEXT values escape backslash, semicolon, comma and newline (RFC 5545 3.3.11); other
  control characters are dropped.
- Content lines longer than 75 octets are folded (CRLF and one space), never inside a UTF-8
  character (3.1); every line ends in CRLF.

Pure: the caller passes the instant for DTSTAMP.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["CalendarEvent", "escape_text", "fold", "render_calendar", "utc_stamp"]

_LINE_OCTETS = 75
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One VEVENT: [start, end) with a UID that stays the same from one fetch to the next."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""


def utc_stamp(t: datetime) -> str:
    """`t` (aware) as an RFC 5545 UTC DATE-TIME: 20261025T070000Z."""
    if t.tzinfo is None:
        raise ValueError(f"{t.isoformat()} is naive: calendar instants must be aware")
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """A TEXT property value: `\\`, `;`, `,` and newlines escaped, other controls dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROLS.sub("", value.replace("\t", " "))
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line, folded at 75 octets (not inside a UTF-8 character), with CRLF."""
    data = line.encode()
    if len(data) <= _LINE_OCTETS:
        return line + "\r\n"
    parts: list[str] = []
    start, limit = 0, _LINE_OCTETS  # continuation lines lose one octet to the leading space
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a character
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, _LINE_OCTETS - 1
    return "\r\n ".join(parts) + "\r\n"


def render_calendar(
    name: str,
    events: Iterable[CalendarEvent],
    stamp: datetime,
    *,
    product: str = "-//pager//on-call schedules//EN",
    refresh: str = "PT1H",
) -> str:
    """The whole VCALENDAR text: `name` for the calendar app, one VEVENT per event.
    `refresh` (an RFC 5545 duration) is how often clients are asked to fetch it again."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{product}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"NAME:{escape_text(name)}",
        f"X-WR-CALNAME:{escape_text(name)}",
        f"REFRESH-INTERVAL;VALUE=DURATION:{refresh}",
        f"X-PUBLISHED-TTL:{refresh}",
    ]
    dtstamp = utc_stamp(stamp)
    for ev in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape_text(ev.uid)}",
            f"DTSTAMP:{dtstamp}",
            f"DTSTART:{utc_stamp(ev.start)}",
            f"DTEND:{utc_stamp(ev.end)}",
            f"SUMMARY:{escape_text(ev.summary)}",
        ]
        if ev.description:
            lines.append(f"DESCRIPTION:{escape_text(ev.description)}")
        lines += ["TRANSP:TRANSPARENT", "STATUS:CONFIRMED", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
