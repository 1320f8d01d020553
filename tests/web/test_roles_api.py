"""Roles on the REST API: a viewer token reads but cannot act (403), a responder acts on
incidents but not on maintenance, and `by` names another user only with the admin role.
A token with a `user` acts as that user."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import orjson
import trio
from trio_websocket import open_websocket_url

from pager.config import load_config_text

from ..harness import TOKEN, auth, pd_trigger, running_pager, until
from .dashboard_helpers import (
    RESPONDER_TOKEN,
    VIEWER_TOKEN,
    dashboard_config,
    dashboard_text,
    sign_in,
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_roles_of_api_tokens(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("roles-1"))
            assert r.status_code == 202
            await until(run, lambda s: len(s.incidents) == 1)
            inc = next(iter(run.system.state.incidents))
            api = f"{base}/api/v1/incidents/{inc}"

            r = await client.get(api, headers=bearer(VIEWER_TOKEN))
            assert r.status_code == 200
            r = await client.post(f"{api}/acknowledge", headers=bearer(VIEWER_TOKEN), json={})
            assert r.status_code == 403 and "responder role" in r.text
            r = await client.post(
                f"{base}/api/v1/services/checkout/maintenance",
                headers=bearer(RESPONDER_TOKEN),
                json={"for": "1h"},
            )
            assert r.status_code == 403 and "admin role" in r.text
            # a responder may not act as someone else ...
            r = await client.post(
                f"{api}/acknowledge", headers=bearer(RESPONDER_TOKEN), json={"by": "carol"}
            )
            assert r.status_code == 403 and "only an admin may act as another user" in r.text
            assert run.system.state.incidents[inc].status.value == "triggered"
            # ... but as itself, the user the token names
            r = await client.post(f"{api}/acknowledge", headers=bearer(RESPONDER_TOKEN), json={})
            assert r.status_code == 200, r.text
            assert r.json()["acknowledged_by"] == "alice"
            # the admin token may name anyone
            r = await client.post(f"{api}/resolve", headers=auth(), json={"by": "bob"})
            assert r.status_code == 200 and r.json()["resolved_by"] == "bob"
            r = await client.post(f"{base}/api/v1/config/reload", headers=bearer(RESPONDER_TOKEN))
            assert r.status_code == 403


async def test_contact_addresses_are_shown_to_admins_only(tmp_path: Path) -> None:
    """A notification's address (a phone number, mail address or webhook URL) is personal or a
    credential: an admin token sees it, viewer and responder tokens get null."""
    with trio.fail_after(30):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("addr-1"))
            assert r.status_code == 202
            await until(run, lambda s: len(s.notifications.by_id) >= 1)
            inc = next(iter(run.system.state.incidents))
            book = run.system.state.notifications
            nid = next(iter(book.by_id))
            # the test configuration pages by console, which has no address: give it one
            book.by_id[nid] = dataclasses.replace(book.by_id[nid], address="+15555550100")
            paths = [f"/api/v1/notifications?incident={inc}", f"/api/v1/notifications/{nid}",
                     f"/api/v1/incidents/{inc}"]  # fmt: skip

            def addresses(body: dict[str, object]) -> list[object]:
                found = body.get("notifications", [body])
                assert isinstance(found, list) and found
                return [n["address"] for n in found]

            for path in paths:
                admin = addresses((await client.get(base + path, headers=auth())).json())
                assert "+15555550100" in admin, (path, admin)
                for token in (VIEWER_TOKEN, RESPONDER_TOKEN):
                    r = await client.get(base + path, headers=bearer(token))
                    assert r.status_code == 200
                    assert addresses(r.json()) == [None] * len(admin), path


async def test_the_stream_shows_addresses_to_admins_only(tmp_path: Path) -> None:
    """The stream carries the log's records, and a page's record names its address: here a
    webhook URL with a password and a token in it. A viewer's or responder's stream (token or
    dashboard session) gets the record with `address` null, as the REST API answers them; an
    admin's gets where it points, without the password and the token."""
    secret_url = "http://hook:PASSWORD-1@127.0.0.1:9/alice?token=QUERY-SECRET-2"
    text = dashboard_text(tmp_path / "data")
    text = text.replace(
        'contacts: {email: alice@example.com, sms: "+15555550100"}\n'
        "    notification_rules: [{after: 0m, via: console}]",
        f'contacts: {{email: alice@example.com, webhook: "{secret_url}"}}\n'
        "    notification_rules: [{after: 0m, via: webhook}]",
        1,
    )
    text = text.replace(
        "channels:\n  console: {}\n",
        "channels:\n  console: {}\n  webhook: {secret: wh-5f0c2a9e41b7}\n",
        1,
    )
    assert secret_url in text
    config = load_config_text(text, source="test_the_stream_shows_addresses_to_admins_only")
    with trio.fail_after(30):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("stream-addr-1"))
            assert r.status_code == 202
            await until(run, lambda s: any(n.address for n in s.notifications.by_id.values()))
            ws = base.replace("http://", "ws://") + "/api/v1/stream?since=1"
            await sign_in(client, base, "bob")
            session = [("Cookie", f"pager_session={client.cookies['pager_session']}")]

            async def requested(headers: list[tuple[str, str]]) -> list[dict[str, object]]:
                """The `notification.requested` records of the stream, up to the last seq."""
                last = run.system.state.last_seq
                found = []
                async with open_websocket_url(ws, extra_headers=headers) as sock:
                    while True:
                        line = await sock.get_message()
                        rec = orjson.loads(line)
                        if rec["type"] == "notification.requested":
                            found.append(rec["data"])
                        else:
                            assert "PASSWORD-1" not in line, line
                        if rec["seq"] >= last:
                            return found

            admin = [("Authorization", f"Bearer {TOKEN}")]
            shown = await requested(admin)
            assert [d["address"] for d in shown if d["method"] == "webhook"] == [
                "http://hook:…@127.0.0.1:9/alice?token=…"
            ]
            for headers in (
                [("Authorization", f"Bearer {VIEWER_TOKEN}")],
                [("Authorization", f"Bearer {RESPONDER_TOKEN}")],
                [*session, ("Origin", base)],
            ):
                hidden = await requested(headers)
                assert len(hidden) == len(shown), headers
                assert [d["address"] for d in hidden] == [None] * len(shown), headers
                # nothing else of the record is hidden
                assert [{**d, "address": None} for d in shown] == hidden
