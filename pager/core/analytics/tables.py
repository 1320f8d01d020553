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
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .ledger import Ledger
from .query import Query
from .report import selected
from .vocabulary import HOW

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


def incidents_csv(led: Ledger, q: Query) -> str:
    """The incidents opened in the range as CSV: the cells `cell` makes of `incident_rows`,
    made straight from the ledger's columns (a year's 100,000 rows in well under a
    second): each name is made safe once, instants are formatted by `_Stamps`."""
    safe = [*map(_text, led.names.strings), None]  # by code; code -1 (none) reads None
    how_text = [*map(_text, HOW), None]
    stamp = _Stamps().of
    ids = led.incident_ids

    def duration(since: float, t: float) -> str | None:
        return None if t != t else _number(round(t - since, 3))

    rows = selected(led, q)
    columns = led.incidents.pick(
        rows, "number", "service", "title", "opened", "acked", "resolved", "ack_by", "ack_via",
        "esc_timeout", "esc_manual", "res_by", "how",
    )  # fmt: skip
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(INCIDENT_HEADER)
    for row, values in zip(rows, columns, strict=True):
        (number, service, title, opened, acked, resolved, ack_by, ack_via, esc_timeout,
         esc_manual, res_by, how) = values  # fmt: skip
        w.writerow((
            _text(ids[row]), number, safe[service], safe[title], stamp(opened), stamp(acked),
            stamp(resolved), duration(opened, acked), duration(opened, resolved), safe[ack_by],
            safe[ack_via], esc_timeout + esc_manual, safe[res_by], how_text[how],
        ))  # fmt: skip
    return BOM + out.getvalue()


class _Stamps:
    """Instants (float seconds, NaN for none) as `_instant` writes them, "YYYY-MM-DD
    HH:MM:SS" in UTC, the seconds cut off: the date part made once per day."""

    __slots__ = ("_days",)

    _CLOCK = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]  # by minute of day
    _SECONDS = [f"{s:02d}" for s in range(60)]

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def of(self, t: float) -> str | None:
        if t != t:
            return None
        # whole seconds as datetime.fromtimestamp sees them (rounded to the microsecond)
        day, s = divmod(round(t * 1_000_000) // 1_000_000, 86400)
        found = self._days.get(day)
        if found is None:
            found = self._days[day] = f"{_EPOCH + timedelta(days=day):%Y-%m-%d} "
        return found + self._CLOCK[s // 60] + self._SECONDS[s % 60]


_EPOCH = date(1970, 1, 1)


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
