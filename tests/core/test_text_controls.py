"""`may_hold_controls`, the quick scan that lets a clean ingest body skip `clean_json`: it
says True for every body whose JSON holds a control character (other than tab and newline),
and its shortcut (no backslash, DEL or 0xC2 byte: no control) says what the full pattern says."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from pager.core.text import _BODY_CONTROLS, clean_json, may_hold_controls

CONTROLS = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\t\n"]


def test_every_control_in_a_string_or_a_key_is_seen() -> None:
    for c in CONTROLS:
        for doc in ({"summary": f"disk{c}full"}, {f"la{c}bel": "x"}, [f"{c}"]):
            body = orjson.dumps(doc)
            assert may_hold_controls(body), (c, body)
            assert clean_json(orjson.loads(body)) != orjson.loads(body)


def test_a_clean_body_is_not_scanned_further() -> None:
    body = orjson.dumps({"summary": "Disk usage above 95% on db-3", "details": {"used": 97.3}})
    assert not may_hold_controls(body)
    assert not may_hold_controls(orjson.dumps({"text": "tab\tand\nnewline, é ü"}))


@given(st.binary(max_size=64) | st.text(max_size=32).map(lambda s: orjson.dumps([s])))
def test_the_shortcut_says_what_the_pattern_says(body: bytes) -> None:
    assert may_hold_controls(body) == (_BODY_CONTROLS.search(body) is not None)
