"""Heartbeats over real HTTP: Opsgenie's ping answered as Opsgenie answers (GenieKey in the
header or `?apiKey=`, field by field), pager's bearer-token ping and fail, and heartbeats
created, listed and deleted through the API, journaled, with a 400 naming the field and
nothing journaled for a refused request."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from ..harness import auth, make_config, running_pager

EXTRA = """
heartbeats:
  - {name: nightly, service: checkout, interval: 10m, grace: 2m}
"""


async def test_opsgenie_ping_and_pager_api(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data", extra=EXTRA)) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            url = f"{base}/v2/heartbeats/nightly/ping"
            for r in (
                await client.get(url, headers={"Authorization": "GenieKey gen-checkout"}),
                await client.post(url, params={"apiKey": "am-checkout"}),
            ):
                assert r.status_code == 202, r.text
                body = r.json()
                assert set(body) == {"result", "took", "requestId"}
                assert body["result"] == "PONG - Heartbeat received"
                assert isinstance(body["took"], float) and len(body["requestId"]) == 36
            seq = run.system.state.last_seq
            r = await client.get(url)
            assert r.status_code == 401 and r.json()["message"] == "Could not authenticate"
            # a key of another service: as if the heartbeat did not exist
            r = await client.get(url, headers={"Authorization": "GenieKey gen-payments"})
            assert r.status_code == 404
            assert r.json()["message"] == "Heartbeat with name [nightly] does not exist."
            r = await client.get(
                f"{base}/v2/heartbeats/nope/ping", params={"apiKey": "gen-checkout"}
            )
            assert r.status_code == 404
            assert run.system.state.last_seq == seq  # refused: nothing journaled

            r = await client.post(f"{base}/api/v1/heartbeats/nightly/ping")
            assert r.status_code == 401
            r = await client.post(f"{base}/api/v1/heartbeats/nightly/ping", headers=auth())
            assert r.json() == {"name": "nightly", "status": "up"}

            bad = [
                ({"service": "checkout", "interval": "5m"}, "name:"),
                ({"name": "db", "service": "nope", "interval": "5m"}, "service:"),
                ({"name": "db", "service": "checkout"}, "interval:"),
                ({"name": "db", "service": "checkout", "interval": "0s"}, "interval:"),
                ({"name": "db", "service": "checkout", "interval": "5m", "grace": "x"}, "grace:"),
                ({"name": "nightly", "service": "checkout", "interval": "5m"}, "name:"),
            ]
            seq = run.system.state.last_seq
            for body, field in bad:
                r = await client.post(f"{base}/api/v1/heartbeats", json=body, headers=auth())
                assert r.status_code in (400, 409) and field in r.json()["message"], (body, r.text)
            assert run.system.state.last_seq == seq
            r = await client.post(
                f"{base}/api/v1/heartbeats",
                json={"name": "backup", "service": "payments", "interval": "1h", "grace": "5m"},
                headers=auth(),
            )
            assert r.status_code == 201 and r.json()["status"] == "new"
            r = await client.get(f"{base}/api/v1/heartbeats", headers=auth())
            rows = {h["name"]: h for h in r.json()["heartbeats"]}
            assert rows["nightly"]["status"] == "up" and rows["nightly"]["source"] == "config"
            assert rows["backup"] == {
                "name": "backup",
                "service": "payments",
                "interval": 3600.0,
                "grace": 300.0,
                "source": "api",
                "status": "new",
                "last_ping": None,
                "late_at": None,
                "down_at": None,
            }
            r = await client.post(f"{base}/api/v1/heartbeats/backup/fail", headers=auth())
            assert r.json()["status"] == "down"
            titles = [i.title for i in run.system.state.open_incidents()]
            assert titles == ["Heartbeat backup reported a failure"]
            r = await client.delete(f"{base}/api/v1/heartbeats/nightly", headers=auth())
            assert r.status_code == 409
            r = await client.delete(f"{base}/api/v1/heartbeats/backup", headers=auth())
            assert r.status_code == 200
        # kept across a restart: the API heartbeat is gone, the configured one still pinged
        async with running_pager(make_config(tmp_path / "data", extra=EXTRA)) as run:
            hb = run.actors.heartbeats
            assert hb is not None
            assert sorted(hb.specs()) == ["nightly"] and hb.status("nightly") == "up"
