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
from functools import partial
from typing import Any, ClassVar, NamedTuple, TypeVar

from .._fast import twin

__all__ = [
    "DECODERS",
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
    _fields: ClassVar[tuple[str, ...]]
    _attributed: ClassVar[bool]

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
        cls._fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        cls._attributed = "attribution" in cls._fields
        EVENT_TYPES[tag] = cls
        _DECODERS[tag] = _decoder(cls, hints)
        _ENCODERS[cls] = _encoder(cls)
        return cls

    return register


def upgrade(cls: type[Event]) -> Callable[[Upgrade], Upgrade]:
    """Register how `decode` completes a line of `cls` written before a field was added
    (the function fills the field in, in place)."""

    def register(fn: Upgrade) -> Upgrade:
        _UPGRADES[cls.TYPE] = fn
        _DECODERS[cls.TYPE] = _decoder(cls, typing.get_type_hints(cls))
        return fn

    return register


def encode(ev: Event) -> dict[str, Any]:
    """The event's data for the log: its fields, None values left out (an attribution
    written as its `by`, `via` and `token_name`). Each registered class has its encoder
    generated once (`_encoder`): every event an actor journals goes through here."""
    encoder = _ENCODERS.get(type(ev))
    if encoder is not None:
        return encoder(ev)
    return _encode_fields(ev)


def _encode_fields(ev: Event) -> dict[str, Any]:
    """`encode` by walking the fields: what `_encoder` generates, written once for all."""
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
    tag or a missing field, and TypeError/ValueError for data that does not fit the class."""
    return _DECODERS[tag](data)


_DECODERS: dict[str, Callable[[Mapping[str, Any]], Event]] = {}
_ENCODERS: dict[type[Event], Callable[[Event], dict[str, Any]]] = {}
DECODERS: Mapping[str, Callable[[Mapping[str, Any]], Event]] = _DECODERS
"""Each tag's decoder: `DECODERS[tag](data)` is `decode(tag, data)` without the extra call
(the replay fold's hot path)."""


def _decoder(cls: type[Event], hints: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Event]:
    """The decoder of `cls`, generated once as straight-line code (replay runs it for every
    line): each field read from the data and converted (ISO instants, tuples, enum words, an
    attribution from by/via/token_name), missing optional fields given their defaults, a key
    the class does not know refused. The event is filled in as an instance of its twin class
    (pager.core._fast.twin) and then becomes a `cls` (`__class__` assignment), skipping
    the frozen dataclass's `__init__`, which sets each field through `object.__setattr__`:
    tests/core/test_event_codec.py holds the result to `cls(**fields)`."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in fields]
    known = set(names)
    if "attribution" in known:
        known = (known - {"attribution"}) | {"by", "via", "token_name"}
    scope: dict[str, Any] = {
        "_twin": twin(cls),
        "_cls": cls,
        "_known": frozenset(known),
        "_iso": datetime.fromisoformat,
        "_Attribution": partial(tuple.__new__, Attribution),  # without the named tuple's __new__
        "_NOBODY": NOBODY,
        "_upgrade": _UPGRADES.get(cls.TYPE),
    }
    lines = ["def decode(d):"]
    if cls.TYPE in _UPGRADES:  # a line written before a field existed is completed first
        lines += ["    d = dict(d)", "    _upgrade(d)"]
    lines += [
        "    if not _known.issuperset(d):",
        "        raise TypeError(f'{_cls.__name__}: unknown fields {sorted(set(d) - _known)}')",
        "    out = _twin()",
    ]
    for f in fields:
        n = f.name
        if n == "attribution":
            lines += [
                "    by, via, tok = d.get('by'), d.get('via'), d.get('token_name')",
                "    out.attribution = _NOBODY if by is None and via is None and tok is None"
                " else _Attribution((by, via, tok))",
            ]
            continue
        if f.default is not dataclasses.MISSING:
            scope[f"_d_{n}"] = f.default
            read = f"d.get({n!r}, _d_{n})"
        else:
            read = f"d[{n!r}]"
        hint = hints[n]
        text = str(hint)
        if isinstance(hint, type) and issubclass(hint, Enum):
            scope[f"_m_{n}"] = hint._value2member_map_
            convert = f"_m_{n}[v]"
        elif "datetime" in text:
            convert = "_iso(v)"
        elif "tuple" in text:
            convert = "tuple(v)"
        else:
            lines.append(f"    out.{n} = {read}")
            continue
        lines += [f"    v = {read}", f"    out.{n} = None if v is None else {convert}"]
    lines += ["    out.__class__ = _cls", "    return out"]
    exec("\n".join(lines), scope)  # noqa: S102 - code built above from the field names only
    decode: Callable[[Mapping[str, Any]], Event] = scope["decode"]
    return decode


def _encoder(cls: type[Event]) -> Callable[[Event], dict[str, Any]]:
    """The encoder of `cls`, generated once as straight-line code: `_encode_fields` with
    the loop over the fields, the look-up of each by name and the test for `attribution`
    done here instead of for every event. tests/core/test_event_codec.py holds the two to
    the same output, key order included."""
    lines = ["def encode(ev):", "    out = {}"]
    for name in cls._fields:
        if name == "attribution":
            lines += ["    v = ev.attribution", "    if v is not None:", "        by, via, tok = v"]
            lines += [
                f"        if {var} is not None: out[{key!r}] = {var}"
                for var, key in (("by", "by"), ("via", "via"), ("tok", "token_name"))
            ]
        else:
            lines += [f"    v = ev.{name}", f"    if v is not None: out[{name!r}] = v"]
    lines += ["    return out"]
    scope: dict[str, Any] = {}
    exec("\n".join(lines), scope)  # noqa: S102 - code built above from the field names only
    encode: Callable[[Event], dict[str, Any]] = scope["encode"]
    return encode
