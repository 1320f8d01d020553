"""The soak: `pager serve` (a process of its own, journal fsync on) is killed with SIGKILL
at random moments while this process sends it alerts (PagerDuty triggers through the lean
listener, generic alerts through the main port; some keys triggered again), acknowledges
incidents through the REST API, and serves the provider stand-ins of tests/standins (Slack
and an outgoing-webhook receiver) that pager pages people through. Some kills land during
start-up (while the log is replayed), the rest under load. After the last kill pager is
started once more, the load runs on for a while, every page is let out, and pager is
stopped gracefully; then `checks.py` reads the data folder and compares it with what this
process saw.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # tests/standins is importable from the repository's root
    sys.path.insert(0, str(REPO))

from bench_lib.config import free_port  # noqa: E402
from bench_lib.standin import serve_asgi  # noqa: E402
from bench_lib.table import Table  # noqa: E402

from .checks import check  # noqa: E402

__all__ = ["Ledger", "Plan", "soak"]

VENV_BIN = Path(sys.executable).parent
TOKEN = "soak-token-0123456789"  # noqa: S105 (the soak configuration's API token)
PD_KEY = "R0UT1NGKEYS0AK000000000000000000"
GENERIC_KEY = "gen-soak"
SLACK_TOKEN = "xoxb-soak"  # noqa: S105
SLACK_USER = "U0BOB"
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Plan:
    kills: int
    load: tuple[float, float]  # seconds of load between pager being ready and its kill
    early: float  # share of kills that land during start-up, before pager is ready
    settle: float  # seconds of load after the last restart
    # bundling.window in pager's configuration; None: the default (1m). The checks wait for
    # every page to go out, the last bundle a window after the load ends, so a short run
    # takes a short window.
    bundle_window: str | None = None
    ingest_workers: int = 8
    ack_workers: int = 2

    @classmethod
    def of(cls, kills: int, quick: bool) -> Plan:
        if quick:
            return cls(kills, (0.3, 1.2), 0.2, 1.0, bundle_window="3s")
        return cls(kills, (0.5, 3.0), 0.2, 5.0)


@dataclass
class Ledger:
    """What this process saw: every alert sent and answered, every acknowledgement, every
    kill (trio clock)."""

    sent: Counter[str] = field(default_factory=Counter)  # dedup key -> triggers sent
    acked: Counter[str] = field(default_factory=Counter)  # dedup key -> answered 2xx
    acks: set[str] = field(default_factory=set)  # incidents whose acknowledgement got a 2xx
    ack_requests: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # answers that were not 2xx
    unanswered: int = 0  # requests that got no answer (pager died under them)
    kills: list[float] = field(default_factory=list)
    early_kills: int = 0
    ready_after: list[float] = field(default_factory=list)  # start to ready, seconds
    torn: int = 0  # start-ups that cut a torn last line
    final_exit: int | None = None


def config_text(
    data: Path, port: int, ingest_port: int, slack: str, hooks: str, bundle_window: str | None
) -> str:
    bundling = f"bundling: {{window: {bundle_window}}}\n" if bundle_window else ""
    return (
        bundling
        + f"""\
server:
  listen: 127.0.0.1:{port}
  ingest_listen: 127.0.0.1:{ingest_port}
  public_url: http://127.0.0.1:{port}
data_dir: {data}
auth:
  api_tokens:
    - {{name: soak, token: "{TOKEN}"}}
  link_secret: soak-link-secret
users:
  - id: alice
    contacts: {{webhook: "{hooks}/alice"}}
    notification_rules: [{{after: 0m, via: webhook}}]
  - id: bob
    contacts: {{slack: {SLACK_USER}}}
    notification_rules: [{{after: 0m, via: slack}}]
escalation_policies:
  - id: soak
    levels:
      - targets: [{{user: alice}}, {{user: bob}}]
        escalate_after: 1h
services:
  - id: checkout
    escalation_policy: soak
    integrations:
      - {{type: pagerduty, key: {PD_KEY}}}
      - {{type: generic, key: {GENERIC_KEY}}}
channels:
  slack: {{api_url: "{slack}/api/", token: {SLACK_TOKEN}, signing_secret: soak-signing, rate_per_second: 1000000}}
  webhook: {{secret: whsec-soak, rate_per_second: 1000000}}
journal:
  fsync: true
  snapshot_every: 2000
"""
    )


class Pager:
    """`pager serve` as a process of our own; its output appended to one log file."""

    def __init__(self, config: Path, log: Path, url: str) -> None:
        self.config = config
        self.log = log
        self.url = url
        self.proc: trio.Process | None = None

    async def start(self) -> None:
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            self.proc = await trio.lowlevel.open_process(
                [str(VENV_BIN / "pager"), "serve", "--config", str(self.config)],
                stdout=fd,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            os.close(fd)

    async def wait_ready(self, client: httpx.AsyncClient) -> None:
        with trio.fail_after(READY_TIMEOUT):
            while True:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    raise RuntimeError(f"pager exited ({self.proc.returncode}); see {self.log}")
                try:
                    r = await client.get(f"{self.url}/readyz", timeout=1.0)
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await trio.sleep(0.02)

    async def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        with trio.fail_after(60):
            return await self.proc.wait()


_INCIDENT_IN_BLOCKS = re.compile(rb'"value":\s*"(inc-\d+)"')
_BUNDLE_IN_BLOCKS = re.compile(rb'"block_id":\s*"bundle:([^"]+)"')


def slack_messages(slack: Any) -> dict[str, list[float]]:
    """Arrival times of the Slack DMs to bob, by what they carry: `page:inc-7` (one
    incident's page) or `bundle:b3` (a bundle of pages, storm mode)."""
    out: dict[str, list[float]] = defaultdict(list)
    for r in slack.requests:
        if not r.path.endswith("chat.postMessage"):
            continue
        try:
            channel = json.loads(r.body).get("channel")
        except ValueError:
            continue
        if channel != SLACK_USER:
            continue
        bundle = _BUNDLE_IN_BLOCKS.search(r.body)
        page = _INCIDENT_IN_BLOCKS.search(r.body)
        if bundle is not None:
            out[f"bundle:{bundle.group(1).decode()}"].append(r.at)
        elif page is not None:
            out[f"page:{page.group(1).decode()}"].append(r.at)
    return out


def webhook_messages(hooks: Any) -> dict[str, list[float]]:
    """Arrival times of the webhooks to alice, by what they carry: `page:inc-7-n1` (the
    notification id) or `bundle:b3`."""
    out: dict[str, list[float]] = defaultdict(list)
    for r in hooks.requests:
        try:
            doc = json.loads(r.body)
        except ValueError:
            continue
        if doc.get("type") == "incident.bundle":
            out[f"bundle:{doc['bundle']['id']}"].append(r.at)
        elif nid := r.headers.get("x-pager-delivery"):
            out[f"page:{nid}"].append(r.at)
    return out


async def _ingest_worker(
    w: int, rnd: random.Random, client: httpx.AsyncClient, urls: tuple[str, str], ledger: Ledger,
    stop: trio.Event,
) -> None:  # fmt: skip
    lean, main = urls
    n = 0
    while not stop.is_set():
        n += 1
        key = f"soak-w{w}-{n}"
        for _ in range(rnd.choice((1, 1, 1, 2, 3))):  # some alerts fire again
            if stop.is_set():
                return
            if w % 2:
                url = f"{lean}/v2/enqueue"
                body: dict[str, Any] = {
                    "routing_key": PD_KEY,
                    "event_action": "trigger",
                    "dedup_key": key,
                    "payload": {"summary": key, "source": "soak", "severity": "critical"},
                }
            else:
                url = f"{main}/integrations/generic/{GENERIC_KEY}"
                body = {"title": key, "dedup_key": key, "severity": "critical"}
            ledger.sent[key] += 1
            try:
                r = await client.post(url, json=body)
            except httpx.ConnectError:  # pager is down: nothing was sent
                ledger.sent[key] -= 1
                await trio.sleep(0.05)
                continue
            except httpx.HTTPError:  # it died under this request: journaled or not
                ledger.unanswered += 1
                await trio.sleep(0.05)
                continue
            if 200 <= r.status_code < 300:
                ledger.acked[key] += 1
            else:
                ledger.refused[str(r.status_code)] += 1
                await trio.sleep(0.05)


async def _ack_worker(
    rnd: random.Random, client: httpx.AsyncClient, main: str, ledger: Ledger, stop: trio.Event
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while not stop.is_set():
        try:
            r = await client.get(
                f"{main}/api/v1/incidents", params={"status": "triggered", "limit": 50},
                headers=headers,
            )  # fmt: skip
            found = r.json().get("incidents", []) if r.status_code == 200 else []
            if not found:
                await trio.sleep(0.05)
                continue
            iid = rnd.choice(found)["id"]
            ledger.ack_requests += 1
            r = await client.post(f"{main}/api/v1/incidents/{iid}/acknowledge", headers=headers)
        except httpx.HTTPError:
            await trio.sleep(0.05)
            continue
        if 200 <= r.status_code < 300:
            ledger.acks.add(iid)
        else:
            ledger.refused[f"{r.status_code} (acknowledge)"] += 1
        await trio.sleep(rnd.uniform(0.0, 0.1))


async def _drain(client: httpx.AsyncClient, main: str, limit: float = 120.0) -> bool:
    """Wait until pager has no notification left to send (pending or retrying)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = trio.current_time() + limit
    while trio.current_time() < deadline:
        waiting = 0
        for status in ("pending", "retrying"):
            r = await client.get(
                f"{main}/api/v1/notifications", params={"status": status, "limit": 1},
                headers=headers,
            )  # fmt: skip
            waiting += len(r.json().get("notifications", []))
        if not waiting:
            return True
        await trio.sleep(0.2)
    return False


async def _soak(scratch: Path, plan: Plan, seed: int, table: Table) -> None:
    from tests.standins.slack import SlackStandIn
    from tests.standins.teams import WebhookReceiver

    rnd = random.Random(seed)
    ledger = Ledger()
    slack = SlackStandIn(SLACK_TOKEN, channels=set(), users={SLACK_USER})
    hooks = WebhookReceiver()
    data = scratch / "data"
    port, ingest_port = free_port(), free_port()
    main, lean = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ingest_port}"
    drained = False
    async with trio.open_nursery() as nursery:
        slack_url = await serve_asgi(nursery, slack, lambda _: None)
        hooks_url = await serve_asgi(nursery, hooks, lambda _: None)
        cfg = scratch / "pager.yaml"
        cfg.write_text(
            config_text(data, port, ingest_port, slack_url, hooks_url, plan.bundle_window)
        )
        pager = Pager(cfg, scratch / "pager.log", main)
        stop = trio.Event()
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
            async with trio.open_nursery() as load:
                for w in range(plan.ingest_workers):
                    load.start_soon(
                        _ingest_worker, w, random.Random(rnd.random()), client, (lean, main),
                        ledger, stop,
                    )  # fmt: skip
                for _ in range(plan.ack_workers):
                    load.start_soon(
                        _ack_worker, random.Random(rnd.random()), client, main, ledger, stop
                    )
                for k in range(plan.kills):
                    t0 = trio.current_time()
                    await pager.start()
                    if rnd.random() < plan.early:
                        await trio.sleep(rnd.uniform(0.0, 0.6))  # during start-up, maybe
                        ready = await _is_ready(client, main)
                        ledger.early_kills += 0 if ready else 1
                    else:
                        await pager.wait_ready(client)
                        ledger.ready_after.append(trio.current_time() - t0)
                        await trio.sleep(rnd.uniform(*plan.load))
                    await pager.kill9()
                    ledger.kills.append(trio.current_time())
                    print(f"  .. kill {k + 1} of {plan.kills}", file=sys.stderr, flush=True)
                t0 = trio.current_time()
                await pager.start()
                await pager.wait_ready(client)
                ledger.ready_after.append(trio.current_time() - t0)
                await trio.sleep(plan.settle)
                stop.set()
            drained = await _drain(client, main)
            ledger.final_exit = await pager.stop()
        nursery.cancel_scope.cancel()
    ledger.torn = (scratch / "pager.log").read_text(errors="replace").count("cut a torn last line")
    check(table, data, ledger, slack_messages(slack), webhook_messages(hooks), drained)


async def _is_ready(client: httpx.AsyncClient, main: str) -> bool:
    try:
        return (await client.get(f"{main}/readyz", timeout=0.5)).status_code == 200
    except httpx.HTTPError:
        return False


def soak(scratch: Path, plan: Plan, seed: int) -> Table:
    table = Table(f"soak: {plan.kills} SIGKILLs of `pager serve` under load")
    t0 = time.perf_counter()
    trio.run(_soak, scratch, plan, seed, table)
    table.notes.append(
        f"load: {plan.ingest_workers} alert senders (PagerDuty through the lean listener and "
        f"generic through the main port, a new dedup key each, some fired 2 or 3 times), "
        f"{plan.ack_workers} acknowledgers (REST API); pages by outgoing webhook (alice) and "
        f"Slack DM (bob) to stand-ins, alone or bundled (storm mode, "
        f"{'default settings' if plan.bundle_window is None else 'window ' + plan.bundle_window}); "
        f"journal fsync on, a snapshot every 2,000 records; kills "
        f"{plan.load[0]:g}-{plan.load[1]:g} s after pager was ready, or during start-up "
        f"({plan.early:.0%} of them); {time.perf_counter() - t0:.0f} s in all"
    )
    return table
