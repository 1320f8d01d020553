"""The event codec writes what the log has always held: every line of the golden replay
fixture (written before the events became a package and `by`/`via`/`token_name` one
attribution value) decodes and encodes back to the same bytes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import orjson

from pager.core.events import (
    EVENT_TYPES,
    NOBODY,
    Attribution,
    IncidentAcknowledged,
    IncidentEdited,
    MaintenanceEnded,
    decode,
    encode,
)
from pager.core.events._base import _ENCODERS, _encode_fields

from ..fixtures.replay.make import DATA

LINE = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS  # as the store writes a record's data
# optional fields that decode fills in for lines written before them (see delivery.py)
UPGRADED = {"notification.sent": "editable", "notification.delivered": "failed"}


def test_every_line_of_the_fixture_encodes_back_to_its_bytes() -> None:
    seen = set()
    for path in sorted((DATA / "events").glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            rec = orjson.loads(line)
            again = encode(decode(rec["type"], rec["data"]))
            added = UPGRADED.get(rec["type"])
            if added is not None and added not in rec["data"]:
                again.pop(added, None)
            assert orjson.dumps(again, option=LINE) == orjson.dumps(rec["data"], option=LINE)
            seen.add(rec["type"])
    assert {"incident.acknowledged", "incident.resolved", "incident.note_added"} <= seen


def test_an_attribution_is_written_as_by_via_token_name_in_place() -> None:
    at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    ack = IncidentAcknowledged(
        incident_id="inc-1", attribution=Attribution("alice", "api", "ci"), ack_timeout_at=at
    )
    assert orjson.dumps(encode(ack), option=LINE) == (
        b'{"incident_id":"inc-1","by":"alice","via":"api","token_name":"ci",'
        b'"ack_timeout_at":"2026-03-02T03:00:00Z"}'
    )
    assert ack.by == "alice" and ack.via == "api" and ack.token_name == "ci"
    assert decode(ack.TYPE, orjson.loads(orjson.dumps(encode(ack)))) == ack
    edited = IncidentEdited(incident_id="inc-1", title="t", attribution=Attribution(via="slack"))
    assert encode(edited) == {"incident_id": "inc-1", "title": "t", "via": "slack"}
    ended = MaintenanceEnded(window_id="mw-1", service_id="checkout")
    assert encode(ended) == {"window_id": "mw-1", "service_id": "checkout"}
    assert ended.attribution is NOBODY and ended.by is None
    assert decode(ended.TYPE, encode(ended)) == ended


def test_the_generated_encoders_write_what_walking_the_fields_writes() -> None:
    """`encode` runs a straight-line encoder generated per class: the same keys, in the
    same order, as walking the fields; for every line of the fixture (every kind of event
    it holds) and an attribution that is None."""
    assert set(_ENCODERS) == set(EVENT_TYPES.values())
    kinds = set()
    for path in sorted((DATA / "events").glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            rec = orjson.loads(line)
            ev = decode(rec["type"], rec["data"])
            assert list(encode(ev).items()) == list(_encode_fields(ev).items())
            kinds.add(rec["type"])
    assert len(kinds) >= 10
    for cls in EVENT_TYPES.values():  # every class: its fields all set, and only the required
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        value = {f.name: Attribution("a", "b", "c") if f.name == "attribution" else f"<{f.name}>"
                 for f in fields}  # fmt: skip
        required = {
            f.name: value[f.name]
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        for ev in (cls(**value), cls(**required)):
            assert list(encode(ev).items()) == list(_encode_fields(ev).items())
    ack = IncidentAcknowledged(incident_id="inc-1", attribution=None)  # type: ignore[arg-type]
    assert encode(ack) == _encode_fields(ack) == {"incident_id": "inc-1"}
