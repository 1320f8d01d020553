"""Running real third-party programs next to pager in a test: Prometheus Alertmanager and
Prometheus as plain processes on 127.0.0.1, and a small client of pager's REST API to watch
what they did.

How these tests run: pager starts with `tests.harness.running_pager` (real hypercorn and
lean listener on port 0); a peer gets a port found by binding port 0 first, a config file and
a storage folder under the test's `tmp_path`, and is SIGKILLed in a `finally` however the test
ends. Its output goes to a log file next to its config, which a failing poll prints. A peer
runs on real time, so tests poll pager's REST API every 0.1 s (`poll`) under the test's own
absolute `trio.fail_after`; the peers' timers are set to fractions of a second to keep this
short. A test skips only when the peer's binary is not installed.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import trio

from pager.store.base import EventLog

from ..harness import auth

__all__ = [
    "ALERTMANAGER",
    "DELIVERY_OUTCOMES",
    "FAST_ROUTE",
    "PROMETHEUS",
    "PagerAPI",
    "alertmanager",
    "alerts_by_instance",
    "am_alert",
    "free_port",
    "journaled_since",
    "peer_process",
    "poll",
    "post_alerts",
    "prometheus",
    "require",
    "rfc3339",
    "webhook_route",
]

ALERTMANAGER = "prometheus-alertmanager"
PROMETHEUS = "prometheus"
T = TypeVar("T")

# What the delivery of a page journals when the channel answers, after the request that paged
# was answered: not something a later request did. Tests that check that a request journaled
# nothing leave these out.
DELIVERY_OUTCOMES = frozenset(
    {"notification.sent", "notification.failed", "notification.delivered"}
)

# Alertmanager's timers for the tests: the first notification of a group 0.1 s after its
# first alert, changes flushed every 0.5 s, an unchanged group re-sent after 1 s.
FAST_ROUTE: dict[str, Any] = {
    "group_wait": "100ms",
    "group_interval": "500ms",
    "repeat_interval": "1s",
}


def require(binary: str) -> str:
    """The binary's path; skips the test when it is not installed."""
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (scripts/setup --test installs it)")
    return path


def free_port() -> int:
    """A port that was free a moment ago (bound to port 0 and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def journaled_since(log: EventLog, seq: int) -> list[str]:
    """The types of the records journaled after `seq`, delivery outcomes left out."""
    return [r.type for r in log.read_from(seq + 1) if r.type not in DELIVERY_OUTCOMES]


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@asynccontextmanager
async def peer_process(
    argv: Sequence[str], log_path: Path, ready_url: str, *, ready_within: float = 15
) -> AsyncIterator[trio.Process]:
    """Start `argv` with its output in `log_path`, wait until `ready_url` answers 200, and
    SIGKILL it on the way out."""
    with log_path.open("wb") as log_file:
        proc = await trio.lowlevel.open_process(
            list(argv), stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            with trio.move_on_after(ready_within) as waiting:
                while True:
                    if proc.poll() is not None:
                        raise AssertionError(
                            f"{argv[0]} exited with {proc.returncode}:\n{_tail(log_path)}"
                        )
                    try:
                        if (await client.get(ready_url)).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.05)
            if waiting.cancelled_caught:
                raise AssertionError(
                    f"{argv[0]} not ready after {ready_within}s:\n{_tail(log_path)}"
                )
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        with trio.CancelScope(shield=True):
            await proc.wait()


@asynccontextmanager
async def alertmanager(folder: Path, config: dict[str, Any]) -> AsyncIterator[str]:
    """A real Alertmanager with `config` (a dict, written as YAML-compatible JSON); yields
    its base URL. The empty cluster address keeps it off 0.0.0.0:9094."""
    binary = require(ALERTMANAGER)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "alertmanager.yml"
    cfg.write_text(json.dumps(config, indent=1))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        f"--config.file={cfg}",
        f"--storage.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=debug",
    ]
    async with peer_process(argv, folder / "alertmanager.log", f"{base}/-/ready"):
        yield base


def webhook_route(url: str, **route: Any) -> dict[str, Any]:
    """An Alertmanager config whose one receiver posts webhooks to `url`."""
    return {
        "route": {"receiver": "pager", "group_by": ["alertname"], **FAST_ROUTE, **route},
        "receivers": [{"name": "pager", "webhook_configs": [{"url": url, "send_resolved": True}]}],
    }


@asynccontextmanager
async def prometheus(
    folder: Path, config: dict[str, Any], rules: dict[str, Any]
) -> AsyncIterator[str]:
    """A real Prometheus with `config` and one rules file `rules`; yields its base URL."""
    binary = require(PROMETHEUS)
    folder.mkdir(parents=True, exist_ok=True)
    rules_file = folder / "rules.yml"
    rules_file.write_text(json.dumps(rules, indent=1))
    cfg = folder / "prometheus.yml"
    cfg.write_text(json.dumps({**config, "rule_files": [str(rules_file)]}, indent=1))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        f"--config.file={cfg}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # Prometheus finds its Alertmanagers only after ~5 s (its discovery updates are
        # throttled) and drops what fired before; resend firing alerts at every evaluation
        # so a rule that fired at start-up arrives once the Alertmanager is known
        "--rules.alert.resend-delay=500ms",
        "--log.level=debug",
    ]
    async with peer_process(argv, folder / "prometheus.log", f"{base}/-/ready"):
        yield base


def am_alert(
    labels: dict[str, str],
    *,
    starts: datetime,
    resolved: bool = False,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One alert for Alertmanager's `POST /api/v2/alerts`; `resolved` sets endsAt in the past."""
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations or {"summary": f"{labels.get('alertname')} on {labels}"},
        "startsAt": rfc3339(starts),
        "generatorURL": "http://127.0.0.1/tests/e2e",
    }
    if resolved:
        alert["endsAt"] = rfc3339(datetime.now(UTC) - timedelta(seconds=1))
    return alert


async def post_alerts(am_base: str, alerts: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.post(f"{am_base}/api/v2/alerts", json=alerts)
        assert r.status_code == 200, r.text


async def poll(
    fetch: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    what: str,
    *,
    give_up_after: float = 20,
    logs: Sequence[Path] = (),
) -> T:
    """Call `fetch` every 0.1 s until `done(result)`; fails after `give_up_after` seconds
    (inside the test's own absolute deadline) with the last result and the tail of each peer
    log in `logs`, which says more than a bare TooSlowError."""
    last: T | None = None
    with trio.move_on_after(give_up_after):
        while True:
            last = await fetch()
            if done(last):
                return last
            await trio.sleep(0.1)
    tails = "\n".join(f"--- {p}:\n{_tail(p)}" for p in logs)
    raise AssertionError(f"timed out waiting for {what}; last seen:\n{last!r}\n{tails}")


class PagerAPI:
    """What a person sees through pager's REST API."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client = client
        self.base = base

    async def incidents(self, **params: str) -> list[dict[str, Any]]:
        r = await self.client.get(f"{self.base}/api/v1/incidents", params=params, headers=auth())
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["incidents"]
        return sorted(found, key=lambda i: int(i["number"]))

    async def incident(self, incident_id: str) -> dict[str, Any]:
        r = await self.client.get(f"{self.base}/api/v1/incidents/{incident_id}", headers=auth())
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    async def accepted(self) -> int:
        """Ingest requests pager answered 2xx (its /metrics), over every listener."""
        r = await self.client.get(f"{self.base}/metrics")
        for line in r.text.splitlines():
            if line.startswith('pager_ingest_requests_total{outcome="accepted"}'):
                return int(float(line.split()[-1]))
        raise AssertionError(f"no pager_ingest_requests_total in /metrics:\n{r.text}")


def alerts_by_instance(incident: dict[str, Any]) -> dict[str, str]:
    """{instance label: alert status} of an incident's alerts."""
    return {a["labels"]["instance"]: a["status"] for a in incident["alerts"]}
