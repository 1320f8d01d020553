"""An integration key cannot be told right from wrong by a request that would change
nothing, and cannot be guessed at speed: a bad body is the same 400 with a right or a wrong
key, and a client address past `server.unknown_key_misses` wrong keys (30 a minute) gets
429 (503 on the Alertmanager path, which retries only 5xx) for every ingest request, its
key not looked at, on both listeners, which count together."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import trio

from ..harness import make_config, pd_trigger, running_pager

GENERIC = "/integrations/generic/"
AM = "/integrations/alertmanager/"


def am_body(**over: Any) -> dict[str, Any]:
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="Disk"}',
        "status": "firing",
        "receiver": "pager",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Disk"},
                "annotations": {},
                "startsAt": "2026-03-02T03:00:00Z",
                "fingerprint": "abc",
            }
        ],
    }
    return body | over


async def test_a_bad_body_is_answered_alike_with_a_right_or_a_wrong_key(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            assert run.ingest_url is not None
            for base in (run.urls[0], run.ingest_url):
                for path, right, bad in (
                    (GENERIC, "gen-checkout", {"title": 5}),
                    (AM, "am-checkout", am_body(alerts="x")),
                ):
                    answers = []
                    for key in (right, "no-such-key"):
                        r = await client.post(f"{base}{path}{key}", json=bad)
                        answers.append((r.status_code, r.json()))
                        r = await client.post(
                            f"{base}{path}{key}",
                            content=b"{nope",
                            headers={"content-type": "application/json"},
                        )
                        answers.append((r.status_code, r.json()))
                    assert answers[:2] == answers[2:], answers
                    assert answers[0][0] == 400
                # a body that would be taken: only then is a wrong key named
                r = await client.post(f"{base}{GENERIC}no-such-key", json={"title": "t"})
                assert r.status_code == 404 and "unknown generic integration key" in r.text
            assert run.system.state.incidents == {}


async def test_a_client_past_its_wrong_keys_is_held_on_both_listeners(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            main, lean = run.urls[0], run.ingest_url
            assert lean is not None
            budget = run.system.config.server.unknown_key_misses
            assert budget == 30  # the documented default
            for i in range(budget):  # half on each listener: they count together
                base = main if i % 2 else lean
                r = await client.post(f"{base}{GENERIC}guess-{i}", json={"title": "t"})
                assert r.status_code == 404, (i, r.text)
            for base in (main, lean):
                r = await client.post(f"{base}{GENERIC}guess-x", json={"title": "t"})
                assert r.status_code == 429, r.text
                wait = int(r.headers["retry-after"])
                assert 1 <= wait <= math.ceil(60 / budget)
                # the right key from the same address waits too: its answer tells nothing
                r = await client.post(f"{base}{GENERIC}gen-checkout", json={"title": "t"})
                assert r.status_code == 429 and "retry-after" in r.headers
                r = await client.post(f"{base}{AM}am-checkout", json=am_body())
                assert r.status_code == 503 and "retry-after" in r.headers  # AM retries it
                r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("k"))
                assert r.status_code == 429 and r.json()["status"] == "throttle event"
                r = await client.post(
                    f"{base}/v2/alerts",
                    json={"message": "m"},
                    headers={"authorization": "GenieKey og-checkout"},
                )
                assert r.status_code == 429 and "retry-after" in r.headers
            r = await client.get(
                f"{main}/v2/heartbeats/nightly/ping",
                headers={"authorization": "GenieKey og-checkout"},
            )
            assert r.status_code == 429 and "retry-after" in r.headers
            assert run.system.state.incidents == {}  # nothing was taken
            # another address is not held (the throttle is per client; here in the table)
            assert run.system.key_misses.blocked("192.0.2.7", trio.current_time()) == 0.0
