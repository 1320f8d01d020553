"""Fuzzing the hook endpoints (`/hooks/slack/interactions`, `/hooks/twilio/sms`,
`/hooks/twilio/voice/...`, `/hooks/twilio/status`, `/a/{token}`): arbitrary bodies and
headers, unsigned and — to get past the signature checks into the parsing behind them —
signed correctly (Slack's v0 signature at the current time, Twilio's over the public URL, a
link token with the right secret over arbitrary claims). No input may produce a 5xx.

pager runs once, on the real clock, with the stand-in providers in-process; hypothesis runs
in a worker thread and sends each request into trio's loop with `trio.from_thread.run`, so
hundreds of examples cost a second or two instead of a pager start each.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from pager.actors.messages import Ingest
from pager.clock import SystemClock
from pager.core.commands import TriggerAlert
from pager.core.links import LinkClaims, sign_link
from pager.store.memory import MemoryLog
from pager.transports.registry import build_transports
from pager.web.app import create_app

from ..standins.scene import (
    ALICE_PHONE,
    LINK_SECRET,
    PUBLIC_URL,
    SLACK_SIGNING_SECRET,
    TWILIO_TOKEN,
    Providers,
    delivery_config,
    running,
)

EXAMPLES = 400
SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
FIELDS = ["From", "Body", "Digits", "CallSid", "MessageSid", "AnsweredBy", "MessageStatus",
          "CallStatus", "ErrorCode", "To"]  # fmt: skip
VALUES = [ALICE_PHONE, "4", "6", "5", "*", "", "STOP", "START", "ack", "4 K7Q", "resolve",
          "machine_start", "delivered", "failed", "no-answer", "inc-1-n1"]  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


SHORT_TEXT = st.text(max_size=30)


def known_or(
    options: list[str], other: st.SearchStrategy[Any] = SHORT_TEXT
) -> st.SearchStrategy[Any]:
    return st.sampled_from(options) | other


slack_payloads = st.fixed_dictionaries(
    {
        "type": known_or(["block_actions", "view_submission"], JSON),
        "user": st.fixed_dictionaries({"id": known_or(["U0ALICE", "U0BOB", "U0NOBODY"], JSON)})
        | JSON,
        "actions": st.lists(
            st.fixed_dictionaries(
                {
                    "action_id": known_or(["ack", "resolve", "snooze", "escalate"], JSON),
                    "value": known_or(["inc-1", "inc-2", "inc-1|1h"], JSON),
                },
                optional={
                    "selected_option": st.fixed_dictionaries(
                        {"value": known_or(["inc-1|15m", "inc-1|4h", "inc-1|9y", "|"], JSON)}
                    )
                    | JSON
                },
            )
            | JSON,
            max_size=2,
        )
        | JSON,
    },
    optional={
        "response_url": known_or(
            [
                "http://slack.test/actions/T/1/x",
                "https://hooks.slack.com/actions/T/1/x",
                "https://evil.test/steal",
                "file:///etc/passwd",
            ],
            JSON,
        )
    },
)
forms = st.dictionaries(
    known_or(FIELDS, st.text(max_size=10)), known_or(VALUES, st.text(max_size=40)), max_size=6
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    kind = draw(st.sampled_from(["slack", "sms", "voice", "gather", "status", "link"]))
    sign = draw(st.booleans())
    headers = draw(
        st.dictionaries(
            st.sampled_from(["Content-Type", "X-Slack-Signature", "X-Slack-Request-Timestamp",
                             "X-Twilio-Signature", "X-Forwarded-Host", "X-Custom"]),
            HEADER_TEXT,
            max_size=3,
        )
    )  # fmt: skip
    if kind == "slack":
        raw = draw(
            st.binary(max_size=200)
            | slack_payloads.map(lambda p: urlencode({"payload": json.dumps(p)}).encode())
            | JSON.map(lambda p: urlencode({"payload": json.dumps(p)}).encode())
        )
        if sign:
            ts = str(int(datetime.now(UTC).timestamp()))
            headers["X-Slack-Request-Timestamp"] = ts
            headers["X-Slack-Signature"] = SignatureVerifier(
                SLACK_SIGNING_SECRET
            ).generate_signature(timestamp=ts, body=raw.decode("utf-8", "replace"))
        return "POST", "/hooks/slack/interactions", raw, headers
    if kind == "link":
        if sign and draw(st.booleans()):  # a good link (each one new: links act once)
            expires = datetime.now(UTC) + timedelta(hours=1)
            notification = draw(st.text(SAFE, min_size=1, max_size=12))
            action = draw(st.sampled_from(["acknowledge", "resolve", "escalate"]))
            claims = LinkClaims("alice", "inc-1", action, notification, expires)
        elif sign:
            expires = datetime.now(UTC) + timedelta(hours=draw(st.sampled_from([-25, 1, 23])))
            claims = LinkClaims(
                draw(st.sampled_from(["alice", "mallory"]) | st.text(max_size=20)),
                draw(st.sampled_from(["inc-1", "inc-999"]) | st.text(max_size=20)),
                draw(st.sampled_from(["acknowledge", "resolve", "escalate"])),
                draw(st.sampled_from(["inc-1-n1"]) | st.text(max_size=20)),
                expires,
            )
        if sign:
            token = sign_link(LINK_SECRET, claims)
        else:
            token = draw(st.text(SAFE, min_size=1, max_size=200))
        return (
            draw(st.sampled_from(["GET", "POST"])),
            f"/a/{token}",
            draw(st.binary(max_size=50)),
            headers,
        )
    nid = draw(known_or(["inc-1-n1", "inc-1-n2", "nope"], st.text(SAFE, min_size=1, max_size=20)))
    path = {
        "sms": "/hooks/twilio/sms",
        "voice": f"/hooks/twilio/voice/{nid}",
        "gather": f"/hooks/twilio/voice/{nid}/gather",
        "status": "/hooks/twilio/status",
    }[kind]
    form = draw(forms)
    raw = draw(st.binary(max_size=200)) if draw(st.booleans()) else urlencode(form).encode()
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(
            PUBLIC_URL + path, form
        )
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return "POST", path, raw, headers


async def test_no_input_to_a_hook_gets_a_5xx() -> None:
    providers = Providers()
    config = delivery_config(rules="[{after: 0m, via: slack}, {after: 0m, via: voice}]")
    transports = build_transports(config, http=providers.http)
    seen: dict[str, set[int]] = {}
    with trio.fail_after(120):
        async with running(
            config,
            event_log=MemoryLog(),
            clock=SystemClock(),
            transports=transports,
            http=providers.http,
        ) as run:
            await run.system.submit(
                Ingest(
                    "checkout",
                    "disk",
                    "pagerduty",
                    TriggerAlert(key="disk", summary="x", severity="critical"),
                )
            )
            app = httpx.ASGITransport(app=create_app(run.system, run.actors))
            async with httpx.AsyncClient(transport=app, base_url="http://10.0.0.7:8080") as client:

                async def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
                    r = await client.request(method, path, content=body, headers=headers)
                    return r.status_code

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                )
                @given(requests())
                def no_5xx(req: tuple[str, str, bytes, dict[str, str]]) -> None:
                    status = trio.from_thread.run(send, *req)
                    assert status < 500, req
                    seen.setdefault(
                        req[1].split("/")[2] if req[1].startswith("/hooks") else "a", set()
                    ).add(status)

                await trio.to_thread.run_sync(no_5xx)
    # the fuzzing got past the signatures into the handlers
    assert {200} <= seen["slack"] and {401} <= seen["slack"]
    assert {200, 403} <= seen["twilio"]
    assert {200, 403} <= seen["a"]
