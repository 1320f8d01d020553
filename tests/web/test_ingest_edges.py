"""Hostile input at the ingest endpoints, on the main port and the lean listener alike:
control characters are cleaned out of what is kept (titles become one line; details keep
tab and newline), and an Alertmanager webhook is held to documented bounds — a field longer
than Alertmanager sends is a 400 naming it, a group of more alerts than pager reads is read
in part (firing alerts first) and answered clearly. Real listeners on 127.0.0.1 port 0."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from pager.ingest.alertmanager import MAX_GROUP_ALERTS

from ..harness import auth, make_config, pd_trigger, running_pager

C0 = "".join(chr(i) for i in range(32))
CONTROLS = C0 + "\x7f\x9b"
LISTENERS = ["main", "lean"]
JSON = {"content-type": "application/json"}
AM = "/integrations/alertmanager/am-checkout"
DEADLINE = 30


class Pager:
    def __init__(self, run: Any, client: httpx.AsyncClient, base: str) -> None:
        self.run, self.client, self.base = run, client, base

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(self.base + path, content=json.dumps(body), headers=JSON)

    async def incident(self, incident_id: str) -> dict[str, Any]:
        r = await self.client.get(
            f"{self.run.urls[0]}/api/v1/incidents/{incident_id}", headers=auth()
        )
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found


@asynccontextmanager
async def pager(tmp_path: Path, listener: str) -> AsyncIterator[Pager]:
    async with (
        running_pager(make_config(tmp_path / "data", fsync=False)) as run,
        httpx.AsyncClient(timeout=20) as client,
    ):
        yield Pager(run, client, run.urls[0] if listener == "main" else run.ingest_url)


def group(alerts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="Big"}',
        "status": "firing",
        "receiver": "pager",
        "groupLabels": {"alertname": "Big"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "alerts": alerts,
        **extra,
    }


def has_control(text: str, allowed: str = "") -> bool:
    return any(c in text for c in CONTROLS if c not in allowed)


@pytest.mark.parametrize("listener", LISTENERS)
async def test_control_characters_are_cleaned_at_ingest(tmp_path: Path, listener: str) -> None:
    dirty = f"db-1{CONTROLS}disk full"
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            r = await p.post(
                "/integrations/generic/gen-checkout",
                {"title": dirty, "dedup_key": "g", "details": {"log": f"a\tb\nc{C0}", dirty: 1}},
            )
            assert r.status_code == 202, r.text
            r = await p.post("/v2/enqueue", pd_trigger("p", summary=dirty))
            assert r.status_code == 202, r.text
            labels = {"alertname": dirty, "instance": dirty}
            r = await p.post(
                AM,
                group(
                    [{"labels": labels, "annotations": {"description": f"x\ny{C0}"}}],
                    commonAnnotations={"summary": dirty},
                ),
            )
            assert r.status_code == 200, r.text
            for iid in ("inc-1", "inc-2", "inc-3"):
                inc = await p.incident(iid)
                assert inc["title"].startswith("db-1") and inc["title"].endswith("disk full")
                assert not has_control(inc["title"]), (iid, inc["title"])
                (alert,) = inc["alerts"]
                assert not has_control(alert["summary"]), alert
                for v in (alert.get("labels") or {}).values():
                    assert not has_control(v), v
                assert not has_control(json.dumps(alert["details"], ensure_ascii=False), "\t\n")
            generic = (await p.incident("inc-1"))["alerts"][0]["details"]
            assert generic["log"] == "a\tb\nc\t\n\n"  # tab and newline kept, CR as newline
            am = (await p.incident("inc-3"))["alerts"][0]["details"]
            assert am["annotations"]["description"] == "x\ny\t\n\n"


def alerts(prefix: str, n: int, status: str = "firing") -> list[dict[str, Any]]:
    return [
        {"status": status, "fingerprint": f"{prefix}{i:05d}", "labels": {"alertname": "Big"}}
        for i in range(n)
    ]


BOUNDS = [
    (group(alerts("a", 1), groupKey="k" * 1_000_000), "groupKey: must be at most 4096"),
    (group([{"fingerprint": "f" * 100}]), "alerts[0].fingerprint: must be at most 64"),
    (group([{"labels": {"instance": "i" * 5000}}]), "alerts[0].labels.instance: must be at most"),
    (
        group([{"labels": {f"l{i}": "v" for i in range(200)}}]),
        "alerts[0].labels: must have at most 128",
    ),
    (group([{"labels": {"n" * 300: "v"}}]), "alerts[0].labels: a name must be at most 256"),
    (group(alerts("a", 1), groupLabels={"x": "v" * 5000}), "groupLabels.x: must be at most"),
    (
        group([{"fingerprint": "f", "generatorURL": "http://p/" + "q" * 20_000}]),
        "alerts[0].generatorURL: must be at most",
    ),
]


@pytest.mark.parametrize("listener", LISTENERS)
async def test_alertmanager_fields_past_their_bounds_get_a_400_naming_them(
    tmp_path: Path, listener: str
) -> None:
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            before = p.run.system.log.last_seq
            for body, problem in BOUNDS:
                r = await p.post(AM, body)
                assert r.status_code == 400, (problem, r.text[:300])
                assert any(e.startswith(problem) for e in r.json()["errors"]), (problem, r.text)
            assert p.run.system.log.last_seq == before  # nothing journaled


async def test_a_group_past_the_bound_is_read_in_part_firing_alerts_first(tmp_path: Path) -> None:
    over = MAX_GROUP_ALERTS + 500
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, "main") as p:
            # resolved alerts first in the list: the firing ones are still the ones read
            body = group(alerts("r", 600, "resolved") + alerts("f", over))
            r = await p.post(AM, body)
            assert r.status_code == 200, r.text
            answer = r.json()
            assert answer["status"] == "ok" and "more than 1000 alerts" in answer["message"]
            assert answer["alerts_read"] == MAX_GROUP_ALERTS
            assert answer["alerts_not_read"] == over + 600 - MAX_GROUP_ALERTS
            inc = await p.incident("inc-1")
            assert inc["alert_counts"] == {"firing": MAX_GROUP_ALERTS, "total": MAX_GROUP_ALERTS}
            # the whole group resolves: every alert the incident lists resolves with it
            r = await p.post(AM, group(alerts("f", over, "resolved"), status="resolved"))
            assert r.status_code == 200, r.text
            inc = await p.incident("inc-1")
            assert inc["status"] == "resolved" and inc["alert_counts"]["firing"] == 0


async def test_an_incident_keeps_a_bounded_list_of_resolved_alerts(tmp_path: Path) -> None:
    n = MAX_GROUP_ALERTS
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, "main") as p:
            for prefix in ("a", "b", "c"):  # each group replaces the one before
                r = await p.post(AM, group(alerts(prefix, n)))
                assert r.status_code == 200, r.text
            inc = await p.incident("inc-1")
            assert inc["alert_counts"] == {"firing": n, "total": 3 * n}
            assert inc["alerts_unlisted"] == n  # the "a" alerts, the oldest resolved ones
            listed = {a["key"][0] for a in inc["alerts"]}
            assert listed == {"b", "c"} and len(inc["alerts"]) == 2 * n
            snapshot = json.dumps(p.run.system.state.to_snapshot(), default=str)
            assert len(snapshot) < 2_000_000
