"""Roles on the REST API: a viewer token reads but cannot act (403), a responder acts on
incidents but not on maintenance, and `by` names another user only with the admin role.
A token with a `user` acts as that user."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import trio

from ..harness import auth, pd_trigger, running_pager, until
from .dashboard_helpers import RESPONDER_TOKEN, VIEWER_TOKEN, dashboard_config


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
