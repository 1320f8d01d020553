"""Answers a user compares with each other: incident actions take curl's `-d` as it is sent,
the notification filter refuses an unknown status as the incident filter does, a reload's
`pending` is measured against what is running, and the demo can be reloaded."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from pager.config import load_config, load_demo_config
from pager.config.models import Server

from ..harness import auth, config_text, running_pager

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # curl -d's label


async def test_actions_read_json_whatever_its_label_and_status_filters_agree(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(config_text(tmp_path / "data"))
    with trio.fail_after(30):
        async with running_pager(load_config(cfg)) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await client.post(f"{base}/integrations/generic/gen-checkout", json={"title": "t"})
            assert r.status_code == 202
            inc = f"{base}/api/v1/incidents/inc-1"
            headers = {**auth(), **FORM}
            r = await client.post(f"{inc}/acknowledge", content=b"{}", headers=headers)
            assert r.status_code == 200, r.text
            r = await client.post(f"{inc}/notes", content=b'{"text": "hi"}', headers=headers)
            assert r.status_code == 200, r.text
            assert any(e.get("text") == "hi" for e in r.json()["timeline"])
            r = await client.post(f"{inc}/notes", content=b"text=hi", headers=headers)
            assert r.status_code == 400 and "not valid JSON" in r.json()["message"]

            for path in ("incidents", "notifications"):
                r = await client.get(
                    f"{base}/api/v1/{path}", params={"status": "bogus"}, headers=auth()
                )
                assert r.status_code == 400 and "'bogus'" in r.json()["message"], path
            r = await client.get(
                f"{base}/api/v1/notifications", params={"status": "sent"}, headers=auth()
            )
            assert r.status_code == 200


async def test_reload_pending_compares_with_what_is_running(tmp_path: Path) -> None:
    cfg = tmp_path / "pager.yaml"
    text = config_text(tmp_path / "data")
    cfg.write_text(text)
    config = load_config(cfg)
    with trio.fail_after(30):
        async with (
            running_pager(config, config_path=str(cfg)) as run,
            httpx.AsyncClient() as client,
        ):
            url = f"{run.urls[0]}/api/v1/config/reload"
            moved = text.replace(f"listen: {config.server.listen}", "listen: 127.0.0.1:1")
            assert moved != text
            cfg.write_text(moved)
            for _ in range(2):  # still pending the second time: nothing restarted
                r = await client.post(url, headers=auth())
                assert r.status_code == 200
                assert [p.split(":")[0] for p in r.json()["pending"]] == ["server"]
            cfg.write_text(text)
            r = await client.post(url, headers=auth())
            assert r.json()["pending"] == []


async def test_the_demo_reloads_its_embedded_file(tmp_path: Path) -> None:
    demo = load_demo_config(tmp_path / "data")
    demo = demo.model_copy(update={"server": Server(listen="127.0.0.1:0")})
    with trio.fail_after(30):
        async with running_pager(demo) as run, httpx.AsyncClient() as client:
            demo_auth = {"Authorization": "Bearer demo-token"}
            r = await client.post(f"{run.urls[0]}/api/v1/config/reload", headers=demo_auth)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "reloaded" and r.json()["pending"] == []


async def test_snooze_of_a_triggered_incident_says_it_acknowledged_and_escalation_waits(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(config_text(tmp_path / "data"))
    with trio.fail_after(30):
        async with running_pager(load_config(cfg)) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            for key in ("a", "b"):
                r = await client.post(
                    f"{base}/integrations/generic/gen-checkout",
                    json={"title": key, "dedup_key": key},
                )
                assert r.status_code == 202
            inc = f"{base}/api/v1/incidents"
            r = await client.get(f"{inc}/inc-1", headers=auth())
            assert r.json()["escalation"]["level"] == 1 and r.json()["escalation"]["round"] == 1
            assert r.json()["escalation"]["next_at"] is not None  # triggered: escalation runs
            r = await client.post(f"{inc}/inc-1/snooze", json={"for": "1h"}, headers=auth())
            assert r.status_code == 200
            assert r.json()["timeline"][-1]["text"].startswith("Acknowledged and snoozed until")
            assert r.json()["escalation"]["next_at"] is None
            r = await client.post(f"{inc}/inc-2/acknowledge", headers=auth())
            assert r.json()["escalation"]["next_at"] is None
            r = await client.post(f"{inc}/inc-2/snooze", json={"for": "1h"}, headers=auth())
            assert r.json()["timeline"][-1]["text"].startswith("Snoozed until")


async def test_a_person_resolving_an_incident_resolves_its_alerts(tmp_path: Path) -> None:
    """As PagerDuty does: an incident resolved by a person (here through the REST API)
    shows its alerts resolved, when it resolved, in the detail, the list and the dashboard's
    count; the same dedup key firing afterwards opens a new incident, and the resolved one's
    alert stays resolved."""
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(config_text(tmp_path / "data"))
    with trio.fail_after(30):
        async with running_pager(load_config(cfg)) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            alert = {"title": "disk", "dedup_key": "db-1/disk"}
            r = await client.post(f"{base}/integrations/generic/gen-checkout", json=alert)
            assert r.status_code == 202
            inc = f"{base}/api/v1/incidents"
            r = await client.get(f"{inc}/inc-1", headers=auth())
            assert [a["status"] for a in r.json()["alerts"]] == ["firing"]
            r = await client.post(f"{inc}/inc-1/resolve", json={"by": "alice"}, headers=auth())
            assert r.status_code == 200, r.text

            r = await client.get(f"{inc}/inc-1", headers=auth())
            body = r.json()
            assert body["status"] == "resolved"
            assert [(a["status"], a["resolved_at"]) for a in body["alerts"]] == [
                ("resolved", body["resolved_at"])
            ]
            assert body["alert_counts"] == {"firing": 0, "total": 1}
            r = await client.get(f"{inc}?status=resolved", headers=auth())
            assert [i["alert_counts"]["firing"] for i in r.json()["incidents"]] == [0]

            r = await client.post(f"{base}/integrations/generic/gen-checkout", json=alert)
            assert r.status_code == 202
            r = await client.get(f"{inc}?status=open", headers=auth())
            assert [i["id"] for i in r.json()["incidents"]] == ["inc-2"]
            r = await client.get(f"{inc}/inc-1", headers=auth())
            assert [a["status"] for a in r.json()["alerts"]] == ["resolved"]


async def test_every_status_filter_of_the_dashboard_is_one_of_the_api(tmp_path: Path) -> None:
    """The words the dashboard's status filter offers are the API's (`pager incidents
    --status` sends them as they are): each picks the same incidents in both, and a word that
    is none of them is refused by both with the list of the words there are."""
    import re

    from pager.web.pages_incidents import STATUS_FILTERS

    from .dashboard_helpers import dashboard_config, sign_in

    assert list(STATUS_FILTERS) == ["open", "triggered", "acknowledged", "resolved", "all"]
    words = "open, triggered, acknowledged, resolved, all"
    with trio.fail_after(30):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as api,
            httpx.AsyncClient() as browser,
        ):
            base = run.urls[0]
            for title in ("one", "two", "three"):
                r = await api.post(
                    f"{base}/integrations/generic/gen-checkout",
                    json={"title": title, "dedup_key": title},
                )
                assert r.status_code == 202
            r = await api.post(f"{base}/api/v1/incidents/inc-1/resolve", headers=auth())
            assert r.status_code == 200, r.text
            r = await api.post(f"{base}/api/v1/incidents/inc-2/acknowledge", headers=auth())
            assert r.status_code == 200, r.text
            await sign_in(browser, base, "carol")
            expected = {
                "open": {"inc-2", "inc-3"},
                "triggered": {"inc-3"},
                "acknowledged": {"inc-2"},
                "resolved": {"inc-1"},
                "all": {"inc-1", "inc-2", "inc-3"},
            }
            for word in STATUS_FILTERS:
                r = await api.get(
                    f"{base}/api/v1/incidents", params={"status": word}, headers=auth()
                )
                assert r.status_code == 200, (word, r.text)
                assert {i["id"] for i in r.json()["incidents"]} == expected[word], word
                page = await browser.get(f"{base}/", params={"status": word})
                assert page.status_code == 200, word
                shown = set(re.findall(r'href="/incidents/(inc-\d+)" class="title"', page.text))
                assert shown == expected[word], word
            r = await api.get(
                f"{base}/api/v1/incidents", params={"status": "open,resolved"}, headers=auth()
            )
            assert {i["id"] for i in r.json()["incidents"]} == expected["all"]
            r = await api.get(
                f"{base}/api/v1/incidents", params={"status": "closed"}, headers=auth()
            )
            assert r.status_code == 400
            assert r.json()["message"] == f"status: 'closed' is not one of {words}"
            page = await browser.get(f"{base}/", params={"status": "closed"})
            assert (
                page.status_code == 400
                and f"status: &#39;closed&#39; is not one of {words}" in page.text
            )
