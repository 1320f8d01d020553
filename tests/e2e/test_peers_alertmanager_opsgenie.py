"""The real Alertmanager's `opsgenie_configs` (with `api_url` pointed at pager) and its
`pagerduty_configs` with a v1 `service_key`, sending to pager.

Alertmanager sends v1 events to https://events.pagerduty.com whatever `url` says, so that
test gives it a `proxy_url` (tests/standins/tls_proxy.py) that ends TLS with a certificate
for that name, which Alertmanager trusts through its `tls_config.ca_file`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from ..harness import make_config, running_pager
from ..standins.smtp import self_signed
from ..standins.tls_proxy import serve_tls_proxy
from .peers import FAST_ROUTE, PagerAPI, alertmanager, am_alert, poll, post_alerts

pytestmark = pytest.mark.peers

DEADLINE = 30
LABELS = {"alertname": "CheckoutLatency", "instance": "web-1", "severity": "critical"}


def receiver(name: str, **configs: Any) -> dict[str, Any]:
    return {
        "route": {"receiver": name, "group_by": ["alertname"], **FAST_ROUTE},
        "receivers": [{"name": name, **configs}],
    }


async def run_am(tmp_path: Path, config_for: Any, title_check: Any = None) -> dict[str, Any]:
    async with (
        running_pager(make_config(tmp_path / "data", fsync=False)) as run,
        httpx.AsyncClient(timeout=5) as client,
        trio.open_nursery() as nursery,
    ):
        api = PagerAPI(client, run.urls[0])
        cert, key = self_signed(tmp_path, dns="events.pagerduty.com")
        port = int(run.urls[0].rsplit(":", 1)[1])
        proxy = await nursery.start(serve_tls_proxy, cert, key, port)

        am_dir = tmp_path / "am"
        logs = [am_dir / "alertmanager.log"]
        async with alertmanager(
            am_dir, config_for(run.urls[0], f"http://127.0.0.1:{proxy}", str(cert))
        ) as am:
            t0 = datetime.now(UTC) - timedelta(seconds=5)
            await post_alerts(am, [am_alert(LABELS, starts=t0, annotations={"summary": "v1"})])
            [inc] = await poll(api.incidents, lambda f: len(f) == 1, "an incident", logs=logs)
            assert inc["service"] == "checkout" and inc["status"] == "triggered"
            assert "CheckoutLatency" in inc["title"]
            if title_check is not None:
                await title_check(am, api, t0, logs)
            await post_alerts(am, [am_alert(LABELS, starts=t0, resolved=True)])
            done = await poll(
                lambda: api.incident("inc-1"),
                lambda i: i["status"] == "resolved",
                "the incident closed by Alertmanager",
                logs=logs,
            )
            assert len(await api.incidents()) == 1
            nursery.cancel_scope.cancel()
            return done


async def test_opsgenie_configs_open_update_and_close(tmp_path: Path) -> None:
    def config(base: str, proxy: str, ca: str) -> dict[str, Any]:
        return receiver(
            "og",
            opsgenie_configs=[
                {
                    "api_url": f"{base}/",
                    "api_key": "og-checkout",
                    "message": "{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}",
                    "priority": "P2",
                    "update_alerts": True,
                    "send_resolved": True,
                }
            ],
        )

    async def retitle(am: str, api: PagerAPI, t0: datetime, logs: list[Path]) -> None:
        # same group, a new summary: Alertmanager PUTs the new message (update_alerts)
        new = am_alert(LABELS, starts=t0, annotations={"summary": "v2"})
        await post_alerts(am, [new])
        await poll(
            lambda: api.incident("inc-1"),
            lambda i: i["title"] == "CheckoutLatency: v2",
            "the title changed by update_alerts",
            logs=logs,
        )

    with trio.fail_after(DEADLINE):
        inc = await run_am(tmp_path, config, retitle)
        assert inc["integration"] == "opsgenie" and inc["urgency"] == "high"


async def test_pagerduty_configs_service_key_is_events_v1(tmp_path: Path) -> None:
    def config(base: str, proxy: str, ca: str) -> dict[str, Any]:
        return receiver(
            "pd1",
            pagerduty_configs=[
                {
                    "service_key": "R0UT1NGKEYCHECKOUT00000000000000",
                    "send_resolved": True,
                    "http_config": {"proxy_url": proxy, "tls_config": {"ca_file": ca}},
                }
            ],
        )

    with trio.fail_after(DEADLINE):
        inc = await run_am(tmp_path, config)
        assert inc["integration"] == "pagerduty"
