"""Analytics survive `kill -9`: a real `pager serve` process journals incidents (acknowledged
through the API, resolved by a person and by their source, one left open), a maintenance
window, notifications; it is killed with SIGKILL (no last snapshot) and started again on the
same folder, and `GET /api/v1/analytics`, the incidents CSV and the analytics metrics answer
exactly as before. Snapshots are taken every few records, so the restart loads one that holds
the analytics ledger and folds the records after it."""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import trio

from pager.store.snapshots import list_snapshots, read_snapshot

from ..harness import TOKEN, auth, config_text, pd_trigger
from .service import PagerProcess

METRICS = (
    "pager_time_to_",
    "pager_service_incidents",
    "pager_notification_outcomes_total",
    "pager_user_",
)


def write_config(tmp_path: Path) -> Path:
    text = config_text(tmp_path / "data")
    old = "journal:\n  fsync: true\n"
    assert old in text
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(text.replace(old, old + "  snapshot_every: 5\n"))
    return cfg


async def settled(client: httpx.AsyncClient, base: str) -> None:
    """Until no notification is still to be sent (the console sends at once)."""
    while True:
        r = await client.get(f"{base}/api/v1/notifications?status=pending", headers=auth())
        left = r.json()["notifications"]
        r = await client.get(f"{base}/api/v1/notifications?status=retrying", headers=auth())
        if not left and not r.json()["notifications"]:
            return
        await trio.sleep(0.05)  # another process: nothing to wait on but its answers


async def answers(client: httpx.AsyncClient, base: str, query: dict[str, str]) -> dict[str, Any]:
    r = await client.get(f"{base}/api/v1/analytics", params=query, headers=auth())
    assert r.status_code == 200, r.text
    csv = await client.get(f"{base}/api/v1/analytics/incidents.csv", params=query, headers=auth())
    metrics = await client.get(f"{base}/metrics")
    lines = sorted(line for line in metrics.text.splitlines() if line.startswith(METRICS))
    return {"report": r.json(), "csv": csv.content, "metrics": lines}


async def test_analytics_answer_the_same_after_kill_9_and_restart(tmp_path: Path) -> None:
    pager = PagerProcess(write_config(tmp_path), tmp_path / "pager.log")
    with trio.fail_after(120):
        await pager.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                base = pager.url
                for i in range(6):
                    r = await client.post(
                        f"{base}/v2/enqueue", json=pd_trigger(f"k{i}", summary=f"alert {i}")
                    )
                    assert r.status_code == 202
                r = await client.get(f"{base}/api/v1/incidents?status=open", headers=auth())
                incidents = sorted(r.json()["incidents"], key=lambda i: i["number"])
                assert len(incidents) == 6
                for inc in incidents[:4]:
                    r = await client.post(
                        f"{base}/api/v1/incidents/{inc['id']}/acknowledge",
                        headers=auth(),
                        json={"by": "alice"},
                    )
                    assert r.status_code == 200
                for inc in incidents[:2]:
                    r = await client.post(
                        f"{base}/api/v1/incidents/{inc['id']}/resolve",
                        headers=auth(),
                        json={"by": "bob"},
                    )
                    assert r.status_code == 200
                resolve = pd_trigger("k4")
                resolve["event_action"] = "resolve"
                r = await client.post(f"{base}/v2/enqueue", json=resolve)  # by its source
                assert r.status_code == 202
                r = await client.post(
                    f"{base}/api/v1/services/payments/maintenance",
                    headers=auth(),
                    json={"for": "2h", "reason": "upgrade"},
                )
                assert r.status_code == 201
                await settled(client, base)
                today = datetime.now(UTC).replace(microsecond=0)
                now = {
                    "from": (today - timedelta(days=1)).isoformat(),
                    "to": (today + timedelta(days=1)).isoformat(),
                }
                before = await answers(client, base, now)
                before_day = await answers(client, base, {**now, "group_by": "week"})
        finally:
            pager.kill9()
            await pager.stop(signal.SIGKILL)

        report = before["report"]
        assert report["incidents"]["opened"] == 6
        assert report["incidents"]["acknowledged"] == 4
        assert report["incidents"]["resolved"] == 3
        assert report["incidents"]["auto_resolved"] == 1
        assert report["mtta_seconds"]["count"] == 4
        assert report["maintenance_seconds"] > 0
        assert any(line.startswith("pager_time_to_acknowledge_seconds_count") for line in
                   before["metrics"])  # fmt: skip
        snaps = list_snapshots(tmp_path / "data" / "snapshots")
        assert snaps, "no snapshot was written before the kill"
        assert "analytics" in read_snapshot(snaps[0].path).state

        await pager.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                after = await answers(client, pager.url, now)
                after_day = await answers(client, pager.url, {**now, "group_by": "week"})
                # `pager report` asking the running pager, and reading its folder meanwhile
                asked = await report_json(tmp_path, now, "--url", pager.url)
                read = await report_json(tmp_path, now, "--data-dir", str(tmp_path / "data"),
                                         "--config", str(tmp_path / "pager.yaml"))  # fmt: skip
        finally:
            assert await pager.stop() == 0
    assert orjson.dumps(after["report"]) == orjson.dumps(before["report"])
    assert after == before
    assert after_day == before_day
    assert asked == after["report"]
    assert read == after["report"]
    # every snapshot holds the ledger a replay of the log up to it makes
    done = await trio.run_process(
        [sys.executable, "-m", "pager", "replay", "--data-dir", str(tmp_path / "data"), "--verify"],
        capture_stdout=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.decode().strip().endswith("clean"), done.stdout


async def report_json(tmp_path: Path, query: dict[str, str], *where: str) -> Any:
    argv = [sys.executable, "-m", "pager", "report", "--json", "--from", query["from"],
            "--to", query["to"], *where]  # fmt: skip
    env = {**os.environ, "PAGER_TOKEN": TOKEN}
    done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, env=env)
    return orjson.loads(done.stdout)
