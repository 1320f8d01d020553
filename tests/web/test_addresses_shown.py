"""Contact addresses and webhook secrets, end to end: a person reached by a legacy Teams
connector (secret in the URL's path) that answers 404 quoting the URL, and by SMS with an
error that quotes the phone number. Nowhere pager shows or logs (the journaled error, the
log, the REST API, the stream, the dashboard, the dry run) does the path secret appear; below
admin, neither does the address, in any of its spellings."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import httpx
import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from pager.config import load_config_text
from pager.core.notifications import Attempt

from ..harness import TOKEN, pd_trigger, running_pager, until
from ..standins.asgi import Fault
from ..standins.serve import served
from ..standins.teams import TeamsStandIn
from .dashboard_helpers import RESPONDER_TOKEN, VIEWER_TOKEN, dashboard_text, sign_in

SECRET = "0123456789abcdef0123456789abcdef"
PATH = (
    "/webhookb2/11111111-2222-3333-4444-555555555555@66666666-7777-8888-9999-000000000000"
    f"/IncomingWebhook/{SECRET}/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)
PHONE = "+15555550100"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def config_text(data: Path, hook: str) -> str:
    """The dashboard's scene, where alice and bob (whoever is on call) are reached by Teams."""
    text = dashboard_text(data)
    alice = (
        '    contacts: {email: alice@example.com, sms: "+15555550100"}\n'
        "    notification_rules: [{after: 0m, via: console}]\n  - id: bob\n"
    )
    assert alice in text
    reached = (
        f"    contacts: {{teams: '{hook}'}}\n    notification_rules: [{{after: 0m, via: teams}}]\n"
    )
    text = text.replace(alice, reached + "  - id: bob\n", 1)
    bob = "    notification_rules: [{after: 0m, via: console}]\n  - id: carol\n"
    assert bob in text
    text = text.replace(bob, reached + "  - id: carol\n", 1)
    return text.replace("channels:\n  console: {}\n", "channels:\n  console: {}\n  teams: {}\n", 1)


@pytest.mark.parametrize("who", ["admin", "viewer", "responder"])
async def test_a_webhook_secret_and_an_address_are_shown_to_whom_they_may_be(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, who: str
) -> None:
    caplog.set_level(logging.INFO)
    token = {"admin": TOKEN, "viewer": VIEWER_TOKEN, "responder": RESPONDER_TOKEN}[who]
    person = {"admin": "carol", "viewer": "bob", "responder": "alice"}[who]
    standin = TeamsStandIn()
    with trio.fail_after(30):
        async with served(standin) as hooks:
            hook = hooks + PATH
            standin.fail_always(Fault(status=404, body=f"no connector at {hook}"))
            text = config_text(tmp_path / "data", hook)
            config = load_config_text(text, source="test_addresses_shown")
            assert {u.contacts.teams for u in config.users if u.id in ("alice", "bob")} == {hook}
            async with running_pager(config) as run, httpx.AsyncClient() as client:
                base = run.urls[0]
                r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("secret-path-1"))
                assert r.status_code == 202
                book = run.system.state.notifications

                def failed() -> bool:
                    return any(n.last_error for n in book.by_id.values() if n.method == "teams")

                await until(run, lambda s: failed())
                inc = next(iter(run.system.state.incidents))
                teams = next(n for n in book.by_id.values() if n.last_error)
                # what the journal holds: the provider's words, less the secret
                assert "no connector at" in teams.last_error and SECRET not in teams.last_error
                # an SMS whose error quotes the number (as Twilio's do), as if journaled
                sms = dataclasses.replace(
                    teams, id=f"{inc}-sms", method="sms", address=PHONE,
                    last_error=f"The 'To' number {PHONE} is not a valid phone number",
                    history=(Attempt(teams.requested_at, "failed", 1, f"bad number {PHONE[1:]}"),),
                )  # fmt: skip
                book.by_id[sms.id] = sms
                book.by_incident.setdefault(inc, []).append(sms.id)

                shown = []
                for path in (f"/api/v1/incidents/{inc}", f"/api/v1/notifications?incident={inc}",
                             f"/api/v1/notifications/{teams.id}"):  # fmt: skip
                    r = await client.get(base + path, headers=bearer(token))
                    assert r.status_code == 200, r.text
                    shown.append(r.text)
                r = await client.post(
                    f"{base}/api/v1/route-test", headers=bearer(token),
                    json={"integration": "pagerduty", "payload": pd_trigger("dry-1")},
                )  # fmt: skip
                assert r.status_code == (403 if who == "viewer" else 200), r.text
                shown.append(r.text)
                await sign_in(client, base, person)
                r = await client.get(f"{base}/incidents/{inc}")
                assert r.status_code == 200
                shown.append(r.text)
                r = await client.get(f"{base}/notifications")
                shown.append(r.text)
                ws = base.replace("http://", "ws://") + "/api/v1/stream?since=1"
                last = run.system.state.last_seq
                async with open_websocket_url(ws, extra_headers=list(bearer(token).items())) as s:
                    while True:
                        line = await s.get_message()
                        shown.append(line)
                        if orjson.loads(line)["seq"] >= last:
                            break

    # pager's own log (httpx's lines quote every request's URL: pager keeps that logger at
    # warnings, `pager.cli`)
    logs = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "tests"))]
    everything = "\n".join([*shown, *logs])
    assert "no connector at" in everything  # the provider's words are shown ...
    assert SECRET not in everything  # ... never the secret in the URL's path
    assert "aaaaaaaa-bbbb" not in everything
    if who == "admin":  # an admin sees the address (a URL without its secrets)
        assert "/IncomingWebhook/…/…" in shown[0] and PHONE in shown[0]
    else:  # below admin, not at all: not the host, the path, the number
        api = "\n".join(shown)
        for part in (hooks.split("//")[1], "IncomingWebhook", "webhookb2", PHONE[1:], "5550100"):
            assert part not in api, part
        assert "The 'To' number … is not a valid phone number" in shown[0]
