"""The base of the event vocabulary: `Event`, the registry that maps a log line's `type` tag
back to its class, `encode`/`decode`, and `Attribution` (who acted, and how).

Events are frozen dataclasses. `TYPE` is the tag written in the log; the registry built by
`@event` is the log's vocabulary, so an unknown tag in a log is damage, not something to skip.
Renaming a tag or a field is a schema change: bump `SCHEMA_VERSION` and teach `decode` the old
form (`@upgrade` completes lines written before an optional field existed). `encode`/`decode`
convert to and from plain JSON-able data; they are on the replay hot path (hundreds of
thousands of lines a second), so they do no validation beyond construction.

Who acted is one value, `Attribution`: `by` is the person (a user id, or the API token's name
when the request named nobody), `via` the channel (`api`, `slack`, `sms`...), and
`token_name` the name of the API token (`auth.api_tokens[].name`, never its secret) whose
request it was. In the log it is written as it always was: `by`, `via` and `token_name`
beside the event's other fields, each left out when None (`token_name` came later: older
lines have none).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, NamedTuple, TypeVar

__all__ = [
    "EVENT_TYPES",
    "NOBODY",
    "SCHEMA_VERSION",
    "Attributed",
    "Attribution",
    "Event",
    "IncidentEvent",
    "decode",
    "encode",
    "event",
    "upgrade",
]

SCHEMA_VERSION = 1


class Attribution(NamedTuple):
    """Who acted (`by`), through what (`via`), with which API token (`token_name`)."""

    by: str | None = None
    via: str | None = None
    token_name: str | None = None


NOBODY = Attribution()


class Event:
    """Base of every event. Subclasses are frozen slotted dataclasses registered by @event."""

    __slots__ = ()
    TYPE: ClassVar[str]
    _datetimes: ClassVar[tuple[str, ...]]
    _tuples: ClassVar[tuple[str, ...]]
    _fields: ClassVar[tuple[str, ...]]
    _attributed: ClassVar[bool]
    _enums: ClassVar[tuple[tuple[str, Mapping[str, Any]], ...]]

    @property
    def subject(self) -> str:
        raise NotImplementedError


class Attributed(Event):
    """An event that records who acted: its `attribution` field, read as `by`, `via` and
    `token_name`."""

    __slots__ = ()
    attribution: Attribution

    @property
    def by(self) -> str | None:
        return self.attribution.by

    @property
    def via(self) -> str | None:
        return self.attribution.via

    @property
    def token_name(self) -> str | None:
        return self.attribution.token_name


class IncidentEvent(Event):
    __slots__ = ()
    incident_id: str

    @property
    def subject(self) -> str:
        return self.incident_id


EVENT_TYPES: dict[str, type[Event]] = {}
E = TypeVar("E", bound=type[Event])
Upgrade = Callable[[dict[str, Any]], None]
_UPGRADES: dict[str, Upgrade] = {}


def event(tag: str) -> Callable[[E], E]:
    def register(cls: E) -> E:
        if tag in EVENT_TYPES:
            raise ValueError(f"event tag {tag!r} registered twice")
        cls.TYPE = tag
        hints = typing.get_type_hints(cls)
        dts, tups, enums = [], [], []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            hint = hints[f.name]
            if isinstance(hint, type) and issubclass(hint, Enum):
                enums.append((f.name, hint._value2member_map_))
            h = str(hint)
            if "datetime" in h:
                dts.append(f.name)
            elif "tuple" in h:
                tups.append(f.name)
        cls._datetimes = tuple(dts)
        cls._tuples = tuple(tups)
        cls._enums = tuple(enums)
        cls._fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        cls._attributed = "attribution" in cls._fields
        EVENT_TYPES[tag] = cls
        return cls

    return register


def upgrade(cls: type[Event]) -> Callable[[Upgrade], Upgrade]:
    """Register how `decode` completes a line of `cls` written before a field was added
    (the function fills the field in, in place)."""

    def register(fn: Upgrade) -> Upgrade:
        _UPGRADES[cls.TYPE] = fn
        return fn

    return register


def encode(ev: Event) -> dict[str, Any]:
    """The event's data for the log: its fields, None values left out (an attribution
    written as its `by`, `via` and `token_name`)."""
    out: dict[str, Any] = {}
    for name in ev._fields:
        v = getattr(ev, name)
        if v is None:
            continue
        if name == "attribution":
            by, via, token = v
            if by is not None:
                out["by"] = by
            if via is not None:
                out["via"] = via
            if token is not None:
                out["token_name"] = token
        else:
            out[name] = v
    return out


def decode(tag: str, data: Mapping[str, Any]) -> Event:
    """Rebuild an event from a log line's `type` and `data`. Raises KeyError for an unknown
    tag and TypeError/ValueError for data that does not fit the class."""
    cls = EVENT_TYPES[tag]
    kwargs = dict(data)
    up = _UPGRADES.get(tag)
    if up is not None:
        up(kwargs)
    for name in cls._datetimes:
        v = kwargs.get(name)
        if v is not None:
            kwargs[name] = datetime.fromisoformat(v)
    for name in cls._tuples:
        v = kwargs.get(name)
        if v is not None:
            kwargs[name] = tuple(v)
    for name, members in cls._enums:
        v = kwargs.get(name)
        if v is not None:
            kwargs[name] = members[v]
    if cls._attributed:
        pop = kwargs.pop
        by, via, token = pop("by", None), pop("via", None), pop("token_name", None)
        if by is not None or via is not None or token is not None:
            kwargs["attribution"] = Attribution(by, via, token)
    return cls(**kwargs)
