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


async def test_free_text_is_bounded_and_cleaned_and_a_refusal_names_field_and_limit(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            url = f"{base}/api/v1/services/checkout/maintenance"
            r = await client.post(url, json={"for": "1h", "reason": "x" * 100_000}, headers=auth())
            assert r.status_code == 400
            assert r.json()["message"] == "reason: at most 1000 characters, not 100000"
            assert run.system.state.maintenance == {}  # nothing journaled
            r = await client.post(url, json={"for": "1h", "reason": 5}, headers=auth())
            assert r.status_code == 400 and "reason: must be a string" in r.text
            r = await client.post(
                url, json={"for": "1h", "reason": "x" * 1000 + ""}, headers=auth()
            )
            assert r.status_code == 201, r.text
            r = await client.post(
                url, json={"for": "1h", "reason": "deploy\x1b[2J\nnow\x00"}, headers=auth()
            )
            assert r.status_code == 201 and r.json()["reason"] == "deploy[2J now"

            r = await client.post(
                f"{base}/integrations/generic/gen-checkout", json={"title": "t", "dedup_key": "k"}
            )
            assert r.status_code == 202
            notes = f"{base}/api/v1/incidents/inc-1/notes"
            r = await client.post(notes, json={"text": "n" * 10_001}, headers=auth())
            assert r.status_code == 400
            assert r.json()["message"] == "text: at most 10000 characters, not 10001"
            r = await client.post(notes, json={"text": "line 1\nline\x07 2"}, headers=auth())
            assert r.status_code == 200
            texts = [e.get("text") for e in r.json()["timeline"]]
            assert any(t and "line 1\nline 2" in t for t in texts), texts
