"""Maintenance windows through the API: who opened one is a configured user (`by`) or the
token's name, never an arbitrary string; the window counts at once and can be ended."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from ..harness import auth, make_config, running_pager


async def test_window_by_a_user_or_the_token_and_ended(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            url = f"{run.urls[0]}/api/v1/services/checkout/maintenance"
            r = await client.post(url, json={"for": "1h", "by": "mallory"}, headers=auth())
            assert r.status_code == 400 and "by: unknown user 'mallory'" in r.text
            r = await client.post(url, json={"for": "1h", "by": 7}, headers=auth())
            assert r.status_code == 400 and "by: must be a user id" in r.text
            assert run.system.state.maintenance == {}  # nothing journaled
            r = await client.post(
                url, json={"for": "1h", "by": "alice", "reason": "deploy"}, headers=auth()
            )
            assert r.status_code == 201, r.text
            first = r.json()["id"]
            r = await client.post(url, json={"for": "2h"}, headers=auth())
            assert r.status_code == 201
            windows = run.system.state.maintenance
            assert sorted(w.by or "" for w in windows.values()) == ["alice", "ops"]
            r = await client.delete(f"{run.urls[0]}/api/v1/maintenance/{first}", headers=auth())
            assert r.status_code == 200
            assert first not in run.system.state.maintenance
