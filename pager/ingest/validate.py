"""A small validator that collects every problem of a payload with the path where it is
(`payload.severity: must be one of critical, error, warning, info`), for the ingest parsers.

Hand-written rather than pydantic: these parsers sit on the alert-storm hot path, and their
error messages are part of the wire contract (PagerDuty clients show them to people).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from pager.core.text import clean_json, clean_line, may_hold_controls
from pager.errors import BadRequest, InvalidEvent, UnsupportedMediaType

__all__ = [
    "MAX_DEPTH",
    "Checker",
    "check_depth",
    "parse_instant",
    "parse_json_body",
    "parse_time",
]


def parse_json_body(body: bytes, content_type: str | None) -> Any:
    """The JSON document of an ingest request, every string in it cleaned of control
    characters (tab and newline kept; see pager.core.text)."""
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if ct != "application/json" and not ct.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {content_type or 'missing'}"
        )
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidEvent([f"body: not valid JSON ({e})"]) from None
    # a document with fewer brackets than the limit cannot nest deeper than it (counting
    # bytes is far cheaper than walking the document, and almost every alert is shallow)
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH:
        check_depth(obj)
    return clean_json(obj) if may_hold_controls(body) else obj


MAX_DEPTH = 64


def check_depth(obj: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit`: the journal could not write it back (orjson
    writes far less deep than it reads), and no monitoring tool sends such a thing."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            raise InvalidEvent([f"body: nested deeper than {limit} levels"])
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def parse_time(value: str) -> datetime:
    """ISO 8601 / RFC 3339, including PagerDuty's `+0000` form; naive means UTC. A ValueError
    also for a string whose instant has no UTC form (`9999-12-31T23:59:59-23:59` is in year
    10000 in UTC): every later comparison or sum with it would raise OverflowError."""
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    try:
        t.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is outside the years 1 to 9999 in UTC") from None
    return t


FIRST_YEAR, LAST_YEAR = 1970, 9000


def parse_instant(field: str, raw: object) -> datetime:
    """An instant a person gives pager (an API field, a command's --at): ISO 8601 in the
    years 1970 to 9000, so that pager can add a week of escalation or a year of shifts to
    it. A BadRequest naming `field` otherwise."""
    if not isinstance(raw, str):
        raise BadRequest(f'{field}: must be an ISO 8601 instant such as "2026-12-24T18:00:00Z"')
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{field}: {raw!r} is not an ISO 8601 instant") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        year = at.astimezone(UTC).year
    except OverflowError:  # year 0 or 10000 in UTC
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadRequest(f"{field}: {raw!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    return at


MAX_ERRORS = 20  # problems listed in one answer; the rest are counted


class Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.more = 0

    def fail(self, path: str, message: str) -> None:
        if len(self.errors) >= MAX_ERRORS:
            self.more += 1
            return
        self.errors.append(f"{path}: {message}" if path else message)

    def done(self) -> None:
        if self.errors:
            more = [f"... and {self.more} more problems"] if self.more else []
            raise InvalidEvent(self.errors + more)

    def obj(self, value: Any, path: str, *, required: bool = True) -> Mapping[str, Any] | None:
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        if not isinstance(value, dict):
            self.fail(path, f"must be an object, not {_kind(value)}")
            return None
        return value

    def string(
        self,
        parent: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        max_len: int | None = None,
        choices: tuple[str, ...] | None = None,
        nonempty: bool = True,
        line: bool = False,
    ) -> str | None:
        """`parent[key]` if it is a string that fits (else None, with the problem noted);
        with `line`, a one-line field: tab and newline become spaces (`clean_line`)."""
        value = parent.get(key)
        if value is None:
            if required:
                self.fail(_path(path, key), "is required")
            return None
        if not isinstance(value, str):
            self.fail(_path(path, key), f"must be a string, not {_kind(value)}")
            return None
        if line:
            value = clean_line(value)
        if nonempty and required and not value.strip():
            self.fail(_path(path, key), "must not be empty")
            return None
        if max_len is not None and len(value) > max_len:
            self.fail(_path(path, key), f"must be at most {max_len} characters (got {len(value)})")
            return None
        if choices is not None and value not in choices:
            self.fail(_path(path, key), f"must be one of {', '.join(choices)}")
            return None
        return value

    def time(self, parent: Mapping[str, Any], key: str, path: str) -> datetime | None:
        """An alert's own timestamp (`parse_time`). One that is valid ISO 8601 but falls
        before year 1 or after 9999 in UTC (`0001-01-01T01:00:00+01:02`) is taken as the
        first or last instant there is, not refused: the schema calls it a date-time, and
        the alert matters more than its clock."""
        raw = self.string(parent, key, path)
        if raw is None:
            return None
        try:
            return parse_time(raw)
        except ValueError:
            pass
        try:  # valid, but before year 1 or after 9999 in UTC: the first or last instant
            written = datetime.fromisoformat(raw)
        except ValueError:
            self.fail(f"{path}.{key}" if path else key, f"{raw!r} is not an ISO 8601 timestamp")
            return None
        return (datetime.min if written.year == 1 else datetime.max).replace(tzinfo=UTC)

    def array(self, parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
        full = f"{path}.{key}" if path else key
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(full, f"must be an array, not {_kind(value)}")
            return []
        return value

    def labels(
        self, parent: Mapping[str, Any], key: str, path: str, *, line: bool = True
    ) -> dict[str, str]:
        """A string-to-string object; with `line`, its values are one-line text."""
        full = f"{path}.{key}" if path else key
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(full, f"must be an object, not {_kind(value)}")
            return {}
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(v, str):
                self.fail(f"{full}.{k}", f"must be a string, not {_kind(v)}")
            else:
                out[clean_line(k)] = clean_line(v) if line else v
        return out


def _path(path: str, key: str) -> str:
    """Where a field is, as a problem names it (`payload.severity`): written only for a
    problem, not for every field of every alert read."""
    return f"{path}.{key}" if path else key


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__
