"""The real Alertmanager (Debian's `prometheus-alertmanager`) sending to pager.

Alerts are posted to Alertmanager's own API; Alertmanager groups them and notifies pager
through its webhook (`/integrations/alertmanager/{key}`) or its PagerDuty integration
(`/v2/enqueue`), and the tests watch pager's REST API. See `peers.py` for how the processes
run and why these tests poll.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from ..harness import make_config, running_pager
from .peers import (
    DELIVERY_OUTCOMES,
    FAST_ROUTE,
    PagerAPI,
    alertmanager,
    alerts_by_instance,
    am_alert,
    poll,
    post_alerts,
    webhook_route,
)

pytestmark = pytest.mark.peers

DEADLINE = 30


def disk_alerts(starts: datetime, *, resolved: Collection[str] = ()) -> list[dict[str, Any]]:
    return [
        am_alert(
            {"alertname": "DiskFull", "instance": inst, "severity": "warning"},
            starts=starts,
            resolved=inst in resolved,
            annotations={"summary": f"Disk almost full on {inst}"},
        )
        for inst in ("db-1", "db-2")
    ]


async def next_notification(api: PagerAPI, seen: int, logs: list[Path]) -> None:
    """Until pager has accepted a notification beyond the first `seen`."""
    await poll(api.accepted, lambda n: n > seen, "a repeated notification", logs=logs)


async def test_group_opens_one_incident_absorbs_repeats_resolves_and_reopens(
    tmp_path: Path,
) -> None:
    with trio.fail_after(DEADLINE):
        async with (
            running_pager(make_config(tmp_path / "data", fsync=False)) as run,
            httpx.AsyncClient(timeout=5) as client,
        ):
            api = PagerAPI(client, run.urls[0])
            hook = f"{run.urls[0]}/integrations/alertmanager/am-checkout"
            am_dir = tmp_path / "am"
            logs = [am_dir / "alertmanager.log"]
            async with alertmanager(am_dir, webhook_route(hook)) as am:
                t0 = datetime.now(UTC) - timedelta(seconds=5)

                # a firing group of two alerts: one incident, two firing alerts
                await post_alerts(am, disk_alerts(t0))
                [inc] = await poll(
                    lambda: api.incidents(),
                    lambda found: len(found) == 1 and found[0]["alert_counts"]["firing"] == 2,
                    "one incident with two firing alerts",
                    logs=logs,
                )
                assert inc["id"] == "inc-1" and inc["service"] == "checkout"
                assert inc["status"] == "triggered" and inc["integration"] == "alertmanager"
                assert inc["alert_counts"] == {"firing": 2, "total": 2}
                before = await api.incident("inc-1")
                assert alerts_by_instance(before) == {"db-1": "firing", "db-2": "firing"}
                assert {a["summary"] for a in before["alerts"]} == {
                    "Disk almost full on db-1",
                    "Disk almost full on db-2",
                }

                # Alertmanager repeats the unchanged group (repeat_interval): pager takes each
                # repeat (200) and records nothing. The first repeat may overlap the delivery
                # of the page the incident sent when it opened; the next one overlaps nothing,
                # so across it the incident must stay exactly as it was, last_seq and all
                first = await poll(api.accepted, lambda n: n >= 1, "the first notification")
                await next_notification(api, first, logs)
                after = await api.incident("inc-1")
                assert after["alerts"] == before["alerts"]
                added = [t["kind"] for t in after["timeline"] if t["seq"] > before["last_seq"]]
                assert set(added) <= DELIVERY_OUTCOMES, added
                await next_notification(api, await api.accepted(), logs)
                assert await api.incident("inc-1") == after
                assert len(await api.incidents()) == 1

                # one alert resolved: that alert resolves, the incident stays open
                await post_alerts(am, disk_alerts(t0, resolved={"db-1"})[:1])
                inc1 = await poll(
                    lambda: api.incident("inc-1"),
                    lambda i: alerts_by_instance(i)["db-1"] == "resolved",
                    "db-1 resolved",
                    logs=logs,
                )
                assert alerts_by_instance(inc1) == {"db-1": "resolved", "db-2": "firing"}
                assert inc1["status"] == "triggered"
                assert inc1["last_seq"] > before["last_seq"]

                # all resolved: the incident resolves
                await post_alerts(am, disk_alerts(t0, resolved={"db-1", "db-2"}))
                inc1 = await poll(
                    lambda: api.incident("inc-1"),
                    lambda i: i["status"] == "resolved",
                    "inc-1 resolved",
                    logs=logs,
                )
                assert alerts_by_instance(inc1) == {"db-1": "resolved", "db-2": "resolved"}

                # the same group firing again after its resolution: a NEW incident
                await post_alerts(am, disk_alerts(datetime.now(UTC))[1:])
                found = await poll(
                    lambda: api.incidents(),
                    lambda f: len(f) == 2,
                    "a second incident",
                    logs=logs,
                )
                assert [i["id"] for i in found] == ["inc-1", "inc-2"]
                assert found[0]["status"] == "resolved"
                assert found[1]["status"] == "triggered"
                assert found[1]["dedup_key"] == found[0]["dedup_key"]
                assert alerts_by_instance(await api.incident("inc-2")) == {"db-2": "firing"}


async def test_pagerduty_integration_triggers_and_resolves(tmp_path: Path) -> None:
    """Alertmanager's own `pagerduty_configs`, with its `url` pointed at pager."""
    with trio.fail_after(DEADLINE):
        async with (
            running_pager(make_config(tmp_path / "data", fsync=False)) as run,
            httpx.AsyncClient(timeout=5) as client,
        ):
            api = PagerAPI(client, run.urls[0])
            config = {
                "route": {"receiver": "pd", "group_by": ["alertname"], **FAST_ROUTE},
                "receivers": [
                    {
                        "name": "pd",
                        "pagerduty_configs": [
                            {
                                "url": f"{run.urls[0]}/v2/enqueue",
                                "routing_key": "R0UT1NGKEYCHECKOUT00000000000000",
                                "send_resolved": True,
                            }
                        ],
                    }
                ],
            }
            am_dir = tmp_path / "am"
            logs = [am_dir / "alertmanager.log"]
            async with alertmanager(am_dir, config) as am:
                t0 = datetime.now(UTC) - timedelta(seconds=5)
                labels = {
                    "alertname": "CheckoutLatency",
                    "instance": "web-1",
                    "severity": "critical",
                }
                await post_alerts(am, [am_alert(labels, starts=t0)])
                [inc] = await poll(
                    lambda: api.incidents(),
                    lambda f: len(f) == 1,
                    "an incident from Alertmanager's PagerDuty integration",
                    logs=logs,
                )
                assert inc["service"] == "checkout" and inc["integration"] == "pagerduty"
                assert inc["status"] == "triggered"
                assert "CheckoutLatency" in inc["title"]

                await post_alerts(am, [am_alert(labels, starts=t0, resolved=True)])
                inc = await poll(
                    lambda: api.incident("inc-1"),
                    lambda i: i["status"] == "resolved",
                    "the incident resolved by Alertmanager's PagerDuty integration",
                    logs=logs,
                )
                assert [a["status"] for a in inc["alerts"]] == ["resolved"]
                assert len(await api.incidents()) == 1


async def test_shared_key_routes_each_group_by_its_team_label(tmp_path: Path) -> None:
    with trio.fail_after(DEADLINE):
        async with (
            running_pager(make_config(tmp_path / "data", fsync=False)) as run,
            httpx.AsyncClient(timeout=5) as client,
        ):
            api = PagerAPI(client, run.urls[0])
            hook = f"{run.urls[0]}/integrations/alertmanager/shared-am"
            am_dir = tmp_path / "am"
            logs = [am_dir / "alertmanager.log"]
            route = webhook_route(hook, group_by=["alertname", "team"])
            async with alertmanager(am_dir, route) as am:
                t0 = datetime.now(UTC) - timedelta(seconds=5)
                await post_alerts(
                    am,
                    [
                        am_alert(
                            {"alertname": "ErrorRate", "team": team, "instance": f"{team}-1"},
                            starts=t0,
                        )
                        for team in ("payments", "web")
                    ],
                )
                found = await poll(
                    lambda: api.incidents(),
                    lambda f: len(f) == 2,
                    "one incident per team",
                    logs=logs,
                )
                assert all(i["status"] == "triggered" for i in found)
                [pay] = await api.incidents(service="payments")
                [web] = await api.incidents(service="checkout")
                assert alerts_by_instance(await api.incident(pay["id"])) == {"payments-1": "firing"}
                assert alerts_by_instance(await api.incident(web["id"])) == {"web-1": "firing"}
                assert 'team="payments"' in pay["dedup_key"]
                assert 'team="web"' in web["dedup_key"]
