"""SMS replies as people type them, and the opt-outs they journal."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pager.core.events import ContactOptedIn, ContactOptedOut, encode
from pager.core.replies import SmsReply, parse_reply
from pager.core.state import SystemState


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("4 K7Q", SmsReply("action", "acknowledge", "K7Q")),
        ("ack k7q", SmsReply("action", "acknowledge", "K7Q")),
        ("  Acknowledge   K7Q. ", SmsReply("action", "acknowledge", "K7Q")),
        ("4K7Q", SmsReply("action", "acknowledge", "K7Q")),
        ("ack #K7Q", SmsReply("action", "acknowledge", "K7Q")),
        ("6 K7Q", SmsReply("action", "resolve", "K7Q")),
        ("Resolve k7q!", SmsReply("action", "resolve", "K7Q")),
        ("5 K7Q", SmsReply("action", "escalate", "K7Q")),
        ("ack", SmsReply("action", "acknowledge", None)),
        ("4", SmsReply("action", "acknowledge", None)),
        ("RESOLVE", SmsReply("action", "resolve", None)),
        ("6", SmsReply("action", "resolve", None)),
        ("STOP", SmsReply("opt_out")),
        ("stop", SmsReply("opt_out")),
        ("Unsubscribe", SmsReply("opt_out")),
        ("stop all", SmsReply("opt_out")),
        ("quit", SmsReply("opt_out")),
        ("START", SmsReply("opt_in")),
        ("unstop", SmsReply("opt_in")),
        ("help", SmsReply("help")),
    ],
)
def test_replies(body: str, expected: SmsReply) -> None:
    assert parse_reply(body) == expected


@pytest.mark.parametrize("body", ["", "hello", "4 K7", "4 K7QQ", "ack K7Q now", "7 K7Q", "4 O1I"])
def test_what_is_not_understood_says_so(body: str) -> None:
    reply = parse_reply(body)
    assert reply.kind == "unknown" and reply.problem


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_to_something(body: str) -> None:
    reply = parse_reply(body)
    assert reply.kind in ("action", "opt_out", "opt_in", "help", "unknown")
    if reply.code is not None:
        assert len(reply.code) == 3


class Rec:
    def __init__(self, seq: int, event: object) -> None:
        self.seq, self.ts, self.event = seq, datetime(2026, 3, 8, tzinfo=UTC), event
        self.type = event.TYPE  # type: ignore[attr-defined]
        self.data = encode(event)  # type: ignore[arg-type]


def test_opt_outs_fold_and_survive_a_snapshot() -> None:
    state = SystemState()
    state.apply(Rec(1, ContactOptedOut(user_id="alice", method="sms", address="+15555550100")))
    assert state.is_opted_out("sms", "+15555550100")
    assert not state.is_opted_out("voice", "+15555550100")
    again = SystemState.from_snapshot(orjson.loads(orjson.dumps(state.to_snapshot())))
    assert again.is_opted_out("sms", "+15555550100")
    state.apply(Rec(2, ContactOptedIn(user_id="alice", method="sms", address="+15555550100")))
    assert not state.is_opted_out("sms", "+15555550100")
