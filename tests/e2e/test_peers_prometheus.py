"""The whole monitoring chain, all real: Prometheus evaluates alerting rules, sends to a real
Alertmanager, which sends its webhook to pager.

Two rules: `AlwaysFiring` (`vector(1)`) fires at the first evaluation and carries labels and
annotations that must reach the incident; `SwitchTargetDown` fires while a scrape target is
down and resolves when the test starts that target, which is how a real outage ends (the
test controls when, so it does not wait on Prometheus's resend timers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from ..harness import make_config, running_pager
from .peers import (
    ALERTMANAGER,
    PROMETHEUS,
    PagerAPI,
    alertmanager,
    free_port,
    poll,
    prometheus,
    require,
    webhook_route,
)

pytestmark = pytest.mark.peers

DEADLINE = 30

RULES = {
    "groups": [
        {
            "name": "pager-e2e",
            "interval": "500ms",
            "rules": [
                {
                    "alert": "AlwaysFiring",
                    "expr": "vector(1)",
                    "for": "0s",
                    "labels": {"severity": "warning", "team": "checkout"},
                    "annotations": {
                        "summary": "Always firing, from Prometheus",
                        "runbook": "https://runbooks.example/always",
                    },
                },
                {
                    "alert": "SwitchTargetDown",
                    "expr": 'up{job="switch"} == 0',
                    "for": "0s",
                    "labels": {"severity": "critical"},
                    "annotations": {"summary": "Target {{ $labels.instance }} is down"},
                },
            ],
        }
    ]
}

METRICS = b"switch_up 1\n"


@asynccontextmanager
async def scrape_target(port: int) -> AsyncIterator[None]:
    """A /metrics endpoint on 127.0.0.1:`port` for as long as the context lasts."""

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            request = b""
            while b"\r\n\r\n" not in request:
                data = await stream.receive_some(4096)
                if not data:
                    return
                request += data
            await stream.send_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(METRICS), METRICS)
            )

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(trio.serve_tcp, answer, port, host="127.0.0.1"))
        yield
        nursery.cancel_scope.cancel()


async def test_rule_fires_through_alertmanager_and_resolves(tmp_path: Path) -> None:
    require(PROMETHEUS)
    require(ALERTMANAGER)
    with trio.fail_after(DEADLINE):
        async with (
            running_pager(make_config(tmp_path / "data", fsync=False)) as run,
            httpx.AsyncClient(timeout=5) as client,
        ):
            api = PagerAPI(client, run.urls[0])
            hook = f"{run.urls[0]}/integrations/alertmanager/am-checkout"
            logs = [tmp_path / "am" / "alertmanager.log", tmp_path / "prom" / "prometheus.log"]
            switch_port = free_port()  # nothing listens here yet: the target is down
            async with alertmanager(tmp_path / "am", webhook_route(hook)) as am:
                config = {
                    "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms"},
                    "alerting": {
                        "alertmanagers": [
                            {"static_configs": [{"targets": [am.removeprefix("http://")]}]}
                        ]
                    },
                    "scrape_configs": [
                        {
                            "job_name": "switch",
                            "scrape_timeout": "400ms",
                            "static_configs": [{"targets": [f"127.0.0.1:{switch_port}"]}],
                        }
                    ],
                }
                async with prometheus(tmp_path / "prom", config, RULES):
                    found = await poll(
                        lambda: api.incidents(),
                        lambda f: len(f) == 2,
                        "an incident for each rule",
                        logs=logs,
                    )
                    by_title = {i["title"]: i for i in found}
                    always = by_title["Always firing, from Prometheus"]
                    assert always["status"] == "triggered"
                    assert always["service"] == "checkout"
                    assert always["severity"] == "warning"
                    [alert] = (await api.incident(always["id"]))["alerts"]
                    assert alert["status"] == "firing"
                    assert alert["summary"] == "Always firing, from Prometheus"
                    assert alert["labels"] == {
                        "alertname": "AlwaysFiring",
                        "severity": "warning",
                        "team": "checkout",
                    }
                    assert alert["details"]["annotations"] == {
                        "summary": "Always firing, from Prometheus",
                        "runbook": "https://runbooks.example/always",
                    }
                    assert alert["links"][0]["href"].startswith("http://")  # Prometheus's graph

                    down = by_title[f"Target 127.0.0.1:{switch_port} is down"]
                    assert down["status"] == "triggered" and down["severity"] == "critical"
                    [alert] = (await api.incident(down["id"]))["alerts"]
                    assert alert["labels"]["job"] == "switch"
                    assert alert["source"] == f"127.0.0.1:{switch_port}"

                    # the target comes up: Prometheus resolves the alert, pager the incident
                    async with scrape_target(switch_port):
                        resolved = await poll(
                            lambda: api.incident(down["id"]),
                            lambda i: i["status"] == "resolved",
                            "the target-down incident resolved",
                            logs=logs,
                        )
                    assert [a["status"] for a in resolved["alerts"]] == ["resolved"]
                    assert (await api.incident(always["id"]))["status"] == "triggered"
                    assert len(await api.incidents()) == 2
