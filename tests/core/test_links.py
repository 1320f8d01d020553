"""Signed action links: a token verifies only with its secret, unaltered and unexpired; any
other string is refused (never an error of another kind); pages by email and Teams carry
links, nothing else does; and a command through a link journals `link.used` with it, which
the read model remembers (through a snapshot too) until the link expires."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pager.core.commands import Acknowledge, Resolve, UseLink
from pager.core.events import IncidentAcknowledged, LinkUsed, decode, encode
from pager.core.links import LINK_LIFETIME, LinkClaims, page_links, sign_link, verify_link
from pager.core.notifications import Notification
from pager.core.state import SystemState
from pager.errors import LinkRefused, TransitionRefused
from pager.store.snapshots import json_default

from .test_incident import opened

SECRET = "s3cret-for-links"
T0 = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
CLAIMS = LinkClaims("alice", "inc-1", "acknowledge", "inc-1-n1", T0 + LINK_LIFETIME)


def refused(token: str, secret: str = SECRET, at: datetime = T0) -> str:
    with pytest.raises(LinkRefused) as e:
        verify_link(secret, token, at)
    assert e.value.status_code == 403
    assert len(token) < 8 or token not in e.value.message
    return e.value.reason


def test_a_token_verifies_with_its_secret_until_it_expires() -> None:
    token = sign_link(SECRET, CLAIMS)
    assert verify_link(SECRET, token, T0) == CLAIMS
    assert verify_link(SECRET, token, T0 + LINK_LIFETIME - timedelta(seconds=1)) == CLAIMS
    assert refused(token, at=T0 + LINK_LIFETIME) == "expired"
    assert CLAIMS.link_id == "inc-1-n1:acknowledge"


def test_a_wrong_secret_or_any_change_is_refused() -> None:
    token = sign_link(SECRET, CLAIMS)
    payload, _, signature = token.partition(".")
    assert refused(token, secret="another-secret") == "invalid"
    # the payload rewritten to another user, action or expiry, with the old signature
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for change in ({"u": "mallory"}, {"a": "resolve"}, {"e": body["e"] + 86400}):
        forged = base64.urlsafe_b64encode(json.dumps({**body, **change}).encode())
        assert refused(forged.decode().rstrip("=") + "." + signature) == "invalid"
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (payload + "." + flipped, payload, payload + ".", "." + signature, token + "x"):
        assert refused(bad) == "invalid"
    # a signature of the right secret over another payload (another link) does not carry over
    other = sign_link(
        SECRET, LinkClaims("alice", "inc-2", "resolve", "inc-2-n1", T0 + LINK_LIFETIME)
    )
    assert refused(payload + "." + other.partition(".")[2]) == "invalid"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_string_is_refused_and_nothing_else_is_raised(token: str) -> None:
    assert refused(token) in ("invalid", "expired")


@settings(max_examples=100, deadline=None)
@given(
    st.text(min_size=1, max_size=40),
    st.text(min_size=1, max_size=40),
    st.sampled_from(["acknowledge", "resolve", "escalate"]),
)
def test_every_claim_round_trips(user: str, incident: str, action: str) -> None:
    claims = LinkClaims(user, incident, action, "n", T0 + LINK_LIFETIME)
    assert verify_link(SECRET, sign_link(SECRET, claims), T0) == claims


def notification(method: str, kind: str = "page", user: str | None = "alice") -> Notification:
    return Notification("inc-1-n1", "inc-1", kind, method, "x", user, None, 0, None, T0)


def test_pages_by_email_and_teams_carry_links_when_there_is_a_secret() -> None:
    links = page_links(SECRET, "https://pager.example.test", notification("email"))
    assert list(links) == ["acknowledge", "resolve", "escalate"]
    for action, url in links.items():
        assert url.startswith("https://pager.example.test/a/")
        claims = verify_link(SECRET, url.rsplit("/", 1)[1], T0)
        assert claims == LinkClaims("alice", "inc-1", action, "inc-1-n1", T0 + LINK_LIFETIME)
    # the same notification always gets the same links (retries carry the same ones)
    assert page_links(SECRET, "https://pager.example.test", notification("teams")) == links
    for n in (notification("slack"), notification("sms"), notification("email", kind="status")):
        assert page_links(SECRET, "https://p", n) == {}
    assert page_links(None, "https://p", notification("email")) == {}


def test_a_command_through_a_link_journals_link_used_with_it() -> None:
    box = opened()
    expires = T0 + LINK_LIFETIME
    events = box.run(
        UseLink(
            link_id="inc-1-n1:acknowledge",
            expires_at=expires,
            command=Acknowledge(by="alice", via="email"),
        )
    )
    assert isinstance(events[0], IncidentAcknowledged) and events[0].via == "email"
    assert events[-1] == LinkUsed(
        incident_id="inc-1",
        link_id="inc-1-n1:acknowledge",
        user_id="alice",
        action="acknowledge",
        expires_at=expires,
    )
    assert box.inc is not None and box.inc.timeline[-1].text == "Acknowledged by alice via email"
    # refused by the incident's state: nothing at all, so the link is not spent either
    box.run(Resolve(by="bob"))
    with pytest.raises(TransitionRefused):
        box.run(
            UseLink(link_id="inc-1-n1:resolve", expires_at=expires, command=Resolve(by="alice"))
        )


class Rec:
    def __init__(self, seq: int, event: object) -> None:
        self.seq, self.ts, self.event = seq, T0, event
        self.type = event.TYPE  # type: ignore[attr-defined]
        self.data = encode(event)  # type: ignore[arg-type]


def test_the_read_model_remembers_used_links_through_a_snapshot_until_they_expire() -> None:
    box = opened()
    box.run(UseLink(link_id="l1", expires_at=T0 + LINK_LIFETIME, command=Acknowledge(by="alice")))
    state = SystemState()
    for i, ev in enumerate(box.log, 1):
        state.apply(Rec(i, decode(ev.TYPE, orjson.loads(orjson.dumps(encode(ev))))))
    assert state.link_used("l1") and not state.link_used("l2")
    assert state.by_code[box.inc.short_code] == "inc-1"  # type: ignore[union-attr]
    raw = orjson.dumps(state.to_snapshot(), option=orjson.OPT_UTC_Z, default=json_default)
    again = SystemState.from_snapshot(orjson.loads(raw))
    assert again.link_used("l1") and again.by_code == state.by_code
    # once expired, it no longer needs remembering (it is refused as expired)
    state.compact(T0 + LINK_LIFETIME + timedelta(seconds=1))
    assert not state.link_used("l1")
