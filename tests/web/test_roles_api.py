"""Roles on the REST API: a viewer token reads but cannot act (403), a responder acts on
incidents but not on maintenance, and `by` names another user only with the admin role.
A token with a `user` acts as that user."""

from __future__ import annotations

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
