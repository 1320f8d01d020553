"""The spine over real HTTP: hypercorn on a real port, the websocket stream with resume,
authentication, health and readiness. Localhost, port 0, an absolute deadline each."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
import orjson
import trio
import trio.testing
from trio_websocket import open_websocket_url

from ..harness import TOKEN, auth, make_config, running_pager, until

WS_AUTH = [("Authorization", f"Bearer {TOKEN}")]


def ws_url(http_url: str, query: str = "") -> str:
    return http_url.replace("http://", "ws://") + "/api/v1/stream" + query


async def post_generic(
    client: httpx.AsyncClient, base: str, title: str, **extra: object
) -> httpx.Response:
    return await client.post(
        f"{base}/integrations/generic/gen-checkout", json={"title": title, **extra}
    )


async def test_alert_appears_in_the_api_and_on_the_stream_and_resumes(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            async with open_websocket_url(ws_url(base, "?since=1"), extra_headers=WS_AUTH) as ws:
                r = await post_generic(client, base, "Disk full on db-1")
                assert r.status_code == 202, r.text
                dedup = r.json()["dedup_key"]
                seen = []
                while not seen or seen[-1]["type"] != "notification.sent":
                    seen.append(orjson.loads(await ws.get_message()))
            assert [m["seq"] for m in seen] == list(range(1, 6))
            assert [m["type"] for m in seen] == [
                "config.applied",
                "incident.opened",  # with its alert
                "incident.escalated",  # paging whoever is on the primary schedule now
                "notification.requested",  # their rule: console at once
                "notification.sent",
            ]
            assert seen[1]["data"]["dedup_key"] == dedup
            assert seen[1]["data"]["alerts"][0]["summary"] == "Disk full on db-1"
            assert seen[2]["data"]["paged"] in (["alice"], ["bob"])
            r = await client.get(f"{base}/api/v1/incidents", headers=auth())
            (inc,) = r.json()["incidents"]
            assert inc["title"] == "Disk full on db-1" and inc["status"] == "triggered"
            assert inc["last_seq"] == 5
            # resume after the last record seen: only what came later
            r = await client.post(
                f"{base}/api/v1/incidents/{inc['id']}/acknowledge",
                headers=auth(),
                json={"by": "alice"},
            )
            assert r.status_code == 200 and r.json()["status"] == "acknowledged"
            async with open_websocket_url(ws_url(base, "?since=6"), extra_headers=WS_AUTH) as ws:
                m = orjson.loads(await ws.get_message())
                assert m["seq"] == 6 and m["type"] == "incident.acknowledged"
                assert m["data"]["by"] == "alice" and m["data"]["via"] == "api"
            # without since: only new events
            async with open_websocket_url(ws_url(base), extra_headers=WS_AUTH) as ws:
                await client.post(
                    f"{base}/api/v1/incidents/{inc['id']}/notes",
                    headers=auth(),
                    json={"text": "looking"},
                )
                m = orjson.loads(await ws.get_message())
                assert m["seq"] == 7 and m["type"] == "incident.note_added"


async def test_stream_and_api_refuse_without_or_with_a_wrong_token(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            # the websocket handshake, refused with an HTTP answer (trio-websocket leaks its
            # socket on a rejected handshake, so the handshake is sent by hand)
            upgrade = {
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            }
            # (hypercorn closes the connection after refusing a handshake: one client each)
            async with httpx.AsyncClient() as c:
                r = await c.get(f"{base}/api/v1/stream", headers=upgrade)
            assert r.status_code == 401
            async with httpx.AsyncClient() as c:
                r = await c.get(
                    f"{base}/api/v1/stream", headers={**upgrade, "Authorization": "Bearer wrong"}
                )
            assert r.status_code == 403
            r = await client.get(f"{base}/api/v1/incidents")
            assert r.status_code == 401 and "Bearer" in r.json()["message"]
            r = await client.get(
                f"{base}/api/v1/incidents", headers={"Authorization": "Bearer wrong"}
            )
            assert r.status_code == 403
            r = await client.get(f"{base}/api/v1/incidents/inc-1", headers=auth())
            assert r.status_code == 404


async def test_health_readiness_and_metrics(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            assert (await client.get(f"{base}/healthz")).json() == {"status": "ok"}
            r = await client.get(f"{base}/readyz")
            assert r.status_code == 200 and r.json()["status"] == "ready"
            await post_generic(client, base, "x")
            text = (await client.get(f"{base}/metrics")).text
            assert 'pager_open_incidents{status="triggered"} 1.0' in text
            assert 'pager_ingest_requests_total{outcome="accepted"} 1.0' in text


async def test_metrics_carry_the_collectors_pauses_when_pager_manages_it(tmp_path: Path) -> None:
    """`pager serve` manages the garbage collector (`manage_gc`): /metrics then says how long
    it paused, by generation; a pager that does not manage it does not say."""
    from pager.actors.collector import PAUSES

    before = gc.get_threshold()
    if PAUSES in gc.callbacks:  # (left by a test before: this one shows both ways)
        gc.callbacks.remove(PAUSES)
    try:
        with trio.fail_after(30):
            async with running_pager(make_config(tmp_path / "a")) as run, httpx.AsyncClient() as c:
                assert "pager_gc_pause_seconds" not in (await c.get(f"{run.urls[0]}/metrics")).text
            async with (
                running_pager(make_config(tmp_path / "b"), manage_gc=True) as run,
                httpx.AsyncClient() as c,
            ):
                full = PAUSES.buckets[2][-1] + sum(PAUSES.buckets[2][:-1])
                gc.collect()  # a full collection, as the hourly one
                text = (await c.get(f"{run.urls[0]}/metrics")).text
                count = 'pager_gc_pause_seconds_count{generation="2"} '
                assert float(text.split(count, 1)[1].split()[0]) >= full + 1, text
                assert 'pager_gc_pause_seconds_bucket{generation="0",le="0.001"}' in text
                assert 'pager_gc_collected_objects_total{generation="2"}' in text
                # as start-up's freeze left them (the whole state it rebuilt, and the test's)
                frozen = float(text.split("\npager_gc_frozen_objects ", 1)[1].split()[0])
                assert frozen == PAUSES.frozen > 0, text
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
        if PAUSES in gc.callbacks:
            gc.callbacks.remove(PAUSES)


async def test_metrics_ask_for_a_token_when_metrics_auth_is_on(tmp_path: Path) -> None:
    config = make_config(tmp_path / "data")
    server = config.server.model_copy(update={"metrics_auth": True})
    config = config.model_copy(update={"server": server})
    with trio.fail_after(30):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            url = f"{run.urls[0]}/metrics"
            assert (await client.get(url)).status_code == 401
            bad = {"Authorization": "Bearer not-a-token"}
            assert (await client.get(url, headers=bad)).status_code == 403
            r = await client.get(url, headers=auth())
            assert r.status_code == 200 and "pager_open_incidents" in r.text
            assert (await client.get(f"{run.urls[0]}/healthz")).status_code == 200
            # behind the token, each person's pages (an open /metrics leaves them out)
            r = await post_generic(client, run.urls[0], "paged", dedup_key="per-person-1")
            assert r.status_code == 202
            await until(run, lambda s: bool(s.notifications.by_id))
            r = await client.get(url, headers=auth())
            paged = [line for line in r.text.splitlines() if line.startswith("pager_user_pages")]
            assert paged and all('user="' in line for line in paged), paged


async def test_lean_listener_serves_the_same_ingest(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            assert run.ingest_url is not None
            r = await post_generic(client, run.ingest_url, "via lean", dedup_key="lean-1")
            assert r.status_code == 202 and r.json()["dedup_key"] == "lean-1"
            r = await post_generic(client, run.urls[0], "via quart", dedup_key="lean-1")
            assert r.status_code == 202
            r = await client.get(f"{run.urls[0]}/api/v1/incidents/inc-1", headers=auth())
            assert r.json()["alerts"][0]["count"] == 2
            r = await client.get(f"{run.ingest_url}/api/v1/incidents", headers=auth())
            assert r.status_code == 404  # the lean listener carries ingest only


async def test_full_disk_answers_503_loses_nothing_and_recovers(tmp_path: Path) -> None:
    import errno
    import os

    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            assert (await post_generic(client, base, "before", dedup_key="k1")).status_code == 202
            log = run.system.log

            def enospc(fd: int, data: memoryview) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")

            log.write_fn = enospc  # type: ignore[attr-defined]
            r = await post_generic(client, base, "during", dedup_key="k2")
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert "No space left" in r.json()["message"]
            r = await client.get(f"{base}/readyz")
            assert r.status_code == 503 and "event log not writable" in r.json()["problems"]
            log.write_fn = os.write  # type: ignore[attr-defined]
            assert (await post_generic(client, base, "after", dedup_key="k3")).status_code == 202
            r = await client.get(f"{base}/api/v1/incidents", headers=auth())
            keys = sorted(i["dedup_key"] for i in r.json()["incidents"])
            assert keys == ["k1", "k3"]
            assert (await client.get(f"{base}/readyz")).status_code == 200


async def test_notifications_are_listed_with_their_attempts(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            assert (await post_generic(client, base, "n")).status_code == 202
            await until(
                run,
                lambda st: (
                    bool(ns := st.notifications.for_incident("inc-1"))
                    and not any(n.open for n in ns)
                ),
            )
            r = await client.get(
                f"{base}/api/v1/notifications", params={"incident": "inc-1"}, headers=auth()
            )
            (n,) = r.json()["notifications"]
            assert n["method"] == "console" and n["status"] == "sent" and n["attempts"] == 1
            assert [h["outcome"] for h in n["history"]] == ["sent"]
            r = await client.get(f"{base}/api/v1/incidents/inc-1", headers=auth())
            assert [x["id"] for x in r.json()["notifications"]] == [n["id"]]
            r = await client.get(f"{base}/api/v1/notifications/{n['id']}", headers=auth())
            assert r.json()["provider_id"] == f"console-{n['id']}"
            r = await client.get(
                f"{base}/api/v1/notifications", params={"incident": "inc-9"}, headers=auth()
            )
            assert r.status_code == 404
