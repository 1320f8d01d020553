"""The signature checks of the hooks, against the providers' own signing code: slack_sdk's
`SignatureVerifier.generate_signature` and twilio's `RequestValidator.compute_signature`
produce signatures that verify; any change to body, timestamp, URL or secret does not; and
no input, however malformed, raises."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from pager.web.signatures import form_fields, slack_verified, twilio_verified

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documentation example
NOW = 1_767_225_600
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def slack_sign(body: bytes, ts: int, secret: str = SECRET) -> str:
    return SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body)


def test_slack_signatures_verify_within_five_minutes_only() -> None:
    sig = slack_sign(BODY, NOW)
    assert slack_verified(SECRET, BODY, str(NOW), sig, NOW)
    assert slack_verified(SECRET, BODY, str(NOW), sig, NOW + 300)
    assert not slack_verified(SECRET, BODY, str(NOW), sig, NOW + 301)  # stale
    assert not slack_verified(SECRET, BODY, str(NOW), sig, NOW - 301)  # from the future
    assert not slack_verified(SECRET, BODY + b"x", str(NOW), sig, NOW)  # tampered
    assert not slack_verified(SECRET, BODY, str(NOW + 1), sig, NOW)  # another timestamp
    assert not slack_verified("another-secret", BODY, str(NOW), sig, NOW)
    assert not slack_verified(SECRET, BODY, str(NOW), sig.upper(), NOW)
    for ts, s in (
        (None, sig),
        (str(NOW), None),
        ("", sig),
        ("1e9", sig),
        (str(NOW), "v1=" + sig[3:]),
    ):
        assert not slack_verified(SECRET, BODY, ts, s, NOW)


def test_twilio_signatures_verify_over_the_public_url_and_the_fields() -> None:
    token = "twilio-auth-token"
    url = "https://pager.example.test/hooks/twilio/sms"
    form = {"From": "+15555550100", "Body": "4 K7Q", "MessageSid": "SM1"}
    body = urlencode(form).encode()
    fields = form_fields(body)
    assert fields is not None and fields.to_dict() == form
    sig = RequestValidator(token).compute_signature(url, form)
    assert twilio_verified(token, url, fields, sig)
    # Twilio may sign the URL with its default port spelled out
    with_port = RequestValidator(token).compute_signature(
        "https://pager.example.test:443/hooks/twilio/sms", form
    )
    assert twilio_verified(token, url, fields, with_port)
    assert not twilio_verified("other-token", url, fields, sig)
    assert not twilio_verified(token, "http://10.0.0.7:8080/hooks/twilio/sms", fields, sig)
    assert not twilio_verified(token, url + "?x=1", fields, sig)
    tampered = form_fields(urlencode({**form, "Body": "6 K7Q"}).encode())
    assert tampered is not None and not twilio_verified(token, url, tampered, sig)
    extra = form_fields(body + b"&Extra=1")
    assert extra is not None and not twilio_verified(token, url, extra, sig)
    for bad in ("", "é" * 10, sig + "=", sig[:-1]):
        assert not twilio_verified(token, url, fields, bad)


def test_form_bodies_are_ascii() -> None:
    assert form_fields("Body=caf\u00e9".encode()) is None
    assert form_fields(b"Body=caf%C3%A9").to_dict() == {"Body": "café"}  # type: ignore[union-attr]
    assert form_fields(b"Body=%FF") is None  # not UTF-8 once decoded


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.text(max_size=20), st.text(max_size=80))
def test_slack_check_never_raises(body: bytes, ts: str, sig: str) -> None:
    # arbitrary input neither raises nor verifies
    assert slack_verified(SECRET, body, ts, sig, NOW) is False


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.text(max_size=80))
def test_twilio_check_never_raises(body: bytes, sig: str) -> None:
    fields = form_fields(body)
    assert fields is None or isinstance(fields, MultiDict)
    if fields is not None:
        assert twilio_verified("t", "https://p.test/hooks/twilio/sms", fields, sig) is False
