"""Overrides and the read APIs over real HTTP: an override made through the API is
journaled, shown by /oncall and the shifts, pages the person it names, survives a reload
and a restart, and is removed by DELETE; bad input gets a 400 naming the field and journals
nothing. Users, services and escalation policies are listed without secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import trio

from ..harness import auth, make_config, pd_trigger, running_pager, until


def iso(t: datetime) -> str:
    return t.isoformat()


async def test_override_through_the_api(tmp_path: Path) -> None:
    config = make_config(tmp_path / "data")
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=5)
    with trio.fail_after(30):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            url = f"{base}/api/v1/schedules/primary/overrides"
            r = await client.get(f"{base}/api/v1/oncall?schedule=primary", headers=auth())
            before = r.json()["oncall"][0]["user"]
            assert before in ("alice", "bob")
            seq = run.system.state.last_seq
            good = {"user": "carol", "start": iso(start), "end": iso(end)}
            for body, field in [
                ({**good, "user": "dave"}, "user:"),
                ({"start": iso(start), "end": iso(end)}, "user:"),
                ({**good, "start": "tomorrow"}, "start:"),
                ({**good, "start": "2026-12-24T18:00:00"}, "start:"),  # no offset
                ({**good, "end": iso(start - timedelta(minutes=1))}, "end:"),
                (
                    {
                        **good,
                        "start": iso(now - timedelta(days=3)),
                        "end": iso(now - timedelta(days=2)),
                    },
                    "end:",
                ),
                ({**good, "end": iso(start + timedelta(days=400))}, "end:"),
                ({**good, "who": "x"}, "who:"),
            ]:
                r = await client.post(url, json=body, headers=auth())
                assert r.status_code == 400 and r.json()["message"].startswith(field), (
                    body,
                    r.text,
                )
            r = await client.post(
                f"{base}/api/v1/schedules/nope/overrides", json=good, headers=auth()
            )
            assert r.status_code == 404
            r = await client.post(url, json=good)
            assert r.status_code == 401
            assert run.system.state.last_seq == seq  # nothing journaled for a refused request

            r = await client.post(url, json={**good, "by": "alice"}, headers=auth())
            assert r.status_code == 201, r.text
            oid = r.json()["id"]
            assert r.json()["by"] == "alice"
            r = await client.get(f"{base}/api/v1/oncall?schedule=primary", headers=auth())
            on = r.json()["oncall"][0]
            assert on["user"] == "carol" and on["shift"]["source"] == "override"
            r = await client.get(
                f"{base}/api/v1/schedules/primary/shifts",
                params={"from": iso(now - timedelta(hours=2)), "to": iso(now + timedelta(hours=8))},
                headers=auth(),
            )
            carol = [s for s in r.json()["shifts"] if s["user"] == "carol"]
            assert len(carol) == 1 and carol[0]["source"] == "override"
            assert datetime.fromisoformat(carol[0]["start"]["utc"]) == start
            assert datetime.fromisoformat(carol[0]["end"]["utc"]) == end
            # paging follows the override: the schedule's level pages carol
            r = await client.post(f"{run.urls[0]}/v2/enqueue", json=pd_trigger("k1"))
            assert r.status_code == 202
            await until(run, lambda s: any("carol" in i.pages for i in s.open_incidents()))
            (inc,) = run.system.state.open_incidents()
            assert set(inc.pages) == {"carol"} and inc.escalation is not None
            assert inc.escalation.level == 0  # the schedule's level, not carol's own
            r = await client.get(url, headers=auth())
            rows = r.json()["overrides"]
            assert [(o["id"], o["user"], o["source"], o["active"]) for o in rows] == [
                (oid, "carol", "api", True)
            ]
            # a reload keeps it
            await run.system.reload(make_config(tmp_path / "data"), "test")
            assert run.system.rules.oncall("primary", now) == "carol"
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            assert run.system.rules.oncall("primary", now) == "carol"  # and a restart
            r = await client.delete(
                f"{base}/api/v1/schedules/primary/overrides/{oid}", headers=auth()
            )
            assert r.status_code == 200
            r = await client.delete(
                f"{base}/api/v1/schedules/primary/overrides/{oid}", headers=auth()
            )
            assert r.status_code == 404
            r = await client.get(f"{base}/api/v1/oncall?schedule=primary", headers=auth())
            assert r.json()["oncall"][0]["user"] == before


async def test_read_apis_carry_no_secrets(tmp_path: Path) -> None:
    extra = "heartbeats:\n  - {name: nightly, service: checkout, interval: 10m}\n"
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data", extra=extra)) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            texts = []
            for path in ("users", "services", "escalation_policies"):
                r = await client.get(f"{base}/api/v1/{path}")
                assert r.status_code == 401
                r = await client.get(f"{base}/api/v1/{path}", headers=auth())
                assert r.status_code == 200
                texts.append(r.text)
            users = {u["id"]: u for u in httpx.Response(200, text=texts[0]).json()["users"]}
            assert users["alice"]["contact_methods"] == ["email", "sms"]
            assert users["alice"]["notification_rules"] == [
                {"after": 0.0, "via": "console", "urgency": None}
            ]
            services = {s["id"]: s for s in httpx.Response(200, text=texts[1]).json()["services"]}
            assert services["checkout"]["integrations"] == [
                {"type": "pagerduty"},
                {"type": "alertmanager"},
                {"type": "generic"},
                {"type": "opsgenie"},
            ]
            assert services["checkout"]["heartbeats"] == ["nightly"]
            assert services["checkout"]["ack_timeout"] == 1800.0
            (policy,) = httpx.Response(200, text=texts[2]).json()["escalation_policies"]
            assert policy["levels"] == [
                {"targets": [{"schedule": "primary"}], "escalate_after": 300.0},
                {"targets": [{"user": "carol"}], "escalate_after": 600.0},
            ]
            everything = "".join(texts)
            for secret in ("R0UT1NGKEY", "am-checkout", "gen-checkout", "gen-payments",
                           "alice@example.com", "+15555550100", "test-token", "link-secret"):  # fmt: skip
                assert secret not in everything, secret
