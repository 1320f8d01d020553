"""Inputs at the edges of what pager can represent get a 4xx, never a 5xx and never a dead
process: deeply nested JSON, durations of millions of days, instants at year 1 or 9999,
wrongly typed fields."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from ..harness import auth, make_config, pd_trigger, running_pager, until


def nested(depth: int) -> dict[str, object]:
    root: dict[str, object] = {}
    cur = root
    for _ in range(depth):
        nxt: dict[str, object] = {}
        cur["x"] = nxt
        cur = nxt
    return root


async def test_edges_get_a_4xx_and_pager_keeps_running(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base, ingest = run.urls[0], run.ingest_url
            assert ingest is not None
            for url in (base, ingest):
                r = await client.post(
                    f"{url}/integrations/generic/gen-checkout",
                    json={"title": "t", "details": nested(260)},
                )
                assert r.status_code == 400 and "nested deeper" in r.text
            r = await client.post(
                f"{base}/integrations/generic/gen-checkout", json={"title": "t", "dedup_key": "k"}
            )
            assert r.status_code == 202
            r = await client.post(
                f"{base}/api/v1/incidents/inc-1/snooze", json={"for": "999999999d"}, headers=auth()
            )
            assert r.status_code == 400 and "3650d" in r.text
            r = await client.post(
                f"{base}/api/v1/services/checkout/maintenance",
                json={"for": "1000000000d"},
                headers=auth(),
            )
            assert r.status_code == 400
            for q in ("at=0001-01-01T00:00:00Z", "at=9999-12-31T23:59:59Z"):
                r = await client.get(f"{base}/api/v1/oncall?{q}", headers=auth())
                assert r.status_code == 400, q
            r = await client.get(
                f"{base}/api/v1/schedules/primary/shifts",
                params={"from": "9999-12-30T00:00:00Z"},
                headers=auth(),
            )
            assert r.status_code == 400
            r = await client.post(
                f"{base}/api/v1/route-test",
                json={"payload": {"title": "t"}, "key": ["x"]},
                headers=auth(),
            )
            assert r.status_code == 400 and "key" in r.text
            # and it still works
            r = await client.post(
                f"{base}/api/v1/incidents/inc-1/snooze", json={"for": "1h"}, headers=auth()
            )
            assert r.status_code == 200
            assert (await client.get(f"{base}/readyz")).status_code == 200


FAR = "9999-12-31T23:59:59-23:59"  # a valid ISO 8601 string whose UTC instant is year 10000


async def test_an_instant_past_year_9999_in_utc_is_a_400_naming_the_field_but_not_in_an_alert(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            r = await client.post(
                f"{base}/api/v1/route-test",
                json={"payload": {"title": "t"}, "key": "gen-checkout", "at": FAR},
                headers=auth(),
            )
            assert r.status_code == 400, r.text
            assert r.json()["message"].startswith("at: ")
            checks = {
                "since": ("GET", "/api/v1/incidents", {"since": FAR}),
                "at": ("GET", "/api/v1/oncall", {"at": FAR}),
                "from": ("GET", "/api/v1/schedules/primary/shifts", {"from": FAR}),
            }
            for field, (method, path, params) in checks.items():
                r = await client.request(method, f"{base}{path}", params=params, headers=auth())
                assert r.status_code == 400 and field in r.text, (path, r.text)
            r = await client.post(
                f"{base}/api/v1/services/checkout/maintenance", json={"end": FAR}, headers=auth()
            )
            assert r.status_code == 400 and "end" in r.text, r.text
            r = await client.post(
                f"{base}/v2/enqueue",
                json=pd_trigger("far")
                | {
                    "payload": {
                        "summary": "s",
                        "source": "db",
                        "severity": "info",
                        "timestamp": FAR,
                    }
                },
            )
            # an alert's own timestamp is not refused for it (the schema calls it a
            # date-time): it is the last instant there is, as one before year 1 the first
            assert r.status_code == 202, r.text
            early = pd_trigger("early") | {
                "payload": {"summary": "s", "source": "db", "severity": "info",
                            "timestamp": "0001-01-01T01:00:00+01:02"}
            }  # fmt: skip
            r = await client.post(f"{base}/v2/enqueue", json=early)
            assert r.status_code == 202, r.text
            am = {"version": "4", "status": "firing", "groupKey": "g", "alerts": [
                {"labels": {"alertname": "A"}, "startsAt": "0001-01-01T00:30:00+00:31"}]}  # fmt: skip
            r = await client.post(f"{base}/integrations/alertmanager/am-checkout", json=am)
            assert r.status_code == 200, r.text
            change = {"routing_key": "R0UT1NGKEYCHECKOUT00000000000000",
                      "payload": {"summary": "deploy", "timestamp": FAR}}  # fmt: skip
            r = await client.post(f"{base}/v2/change/enqueue", json=change)
            assert r.status_code == 202, r.text
            await until(run, lambda s: len(s.incidents) >= 3)
            occurred = [
                r.data["occurred_at"]
                for r in run.system.log.read_from(1)
                if r.data.get("occurred_at") is not None
            ]
            assert occurred == ["9999-12-31T23:59:59.999999Z"], occurred
            assert (await client.get(f"{base}/readyz")).status_code == 200
