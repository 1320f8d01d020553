"""The report's tables as CSV that a spreadsheet opens as it is.

- RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a comma, a quote
  or a line break; a header row.
- UTF-8 with a byte order mark. Excel reads a CSV without one in the machine's legacy code
  page (a name like "Ngā" comes out as "NgÄ\x81"); with it, Excel, LibreOffice, Numbers and
  Google Sheets all read UTF-8. (Python's csv module reads it with encoding="utf-8-sig".)
- Instants as "YYYY-MM-DD HH:MM:SS" in UTC (the columns say _utc): the form spreadsheets
  take for a date and time without being told; durations as plain seconds.
- Formula injection: a text cell that starts with = + - @ (or a tab or carriage return) is
  what a spreadsheet would run as a formula; such a cell gets a leading apostrophe (OWASP's
  advice), so it shows as text. Alert titles and people's names come from outside.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "BOM",
    "INCIDENT_HEADER",
    "PEOPLE_HEADER",
    "cell",
    "incidents_csv",
    "people_csv",
    "to_csv",
]

BOM = "\ufeff"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")

INCIDENT_HEADER = (
    "id", "number", "service", "title", "opened_utc", "acknowledged_utc", "resolved_utc",
    "seconds_to_ack", "seconds_to_resolve", "acknowledged_by", "via", "escalations",
    "resolved_by", "resolution",
)  # fmt: skip
PEOPLE_HEADER = (
    "user", "name", "timezone", "pages", "pages_business", "pages_off_hours", "pages_sleep",
    "interruptions", "interruptions_business", "interruptions_off_hours",
    "interruptions_sleep", "notifications", "acknowledged", "oncall_hours",
)  # fmt: skip


def _text(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _number(value: float) -> str:
    if value.is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _instant(value: datetime) -> str:
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "seconds")[:19]


_FORMAT: dict[type, Any] = {
    str: _text,
    int: str,
    float: _number,
    bool: lambda v: "true" if v else "false",
    datetime: _instant,
    type(None): lambda v: "",
}


def cell(value: Any) -> str:
    """One value as CSV text (before quoting): numbers as numbers, instants as UTC
    date-times, None as empty, text made safe from formula injection."""
    fmt = _FORMAT.get(type(value))
    return fmt(value) if fmt is not None else _text(value)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    for row in rows:
        w.writerow([cell(v) for v in row])
    return BOM + out.getvalue()


def incidents_csv(rows: Iterable[dict[str, Any]]) -> str:
    """`incident_rows` as CSV."""
    keys = (
        "id", "number", "service", "title", "opened", "acknowledged", "resolved",
        "seconds_to_ack", "seconds_to_resolve", "acknowledged_by", "acknowledged_via",
        "escalations", "resolved_by", "resolution",
    )  # fmt: skip
    return to_csv(INCIDENT_HEADER, ([r[k] for k in keys] for r in rows))


def people_csv(people: Iterable[dict[str, Any]]) -> str:
    """The report's `people` rows as CSV."""

    def row(p: dict[str, Any]) -> list[Any]:
        pg, it = p["pages"], p["interruptions"]
        return [
            p["user"], p["name"], p["timezone"], pg["total"], pg["business"], pg["off_hours"],
            pg["sleep"], it["total"], it["business"], it["off_hours"], it["sleep"],
            p["notifications"], p["acknowledged"], p["oncall_hours"],
        ]  # fmt: skip

    return to_csv(PEOPLE_HEADER, (row(p) for p in people))
