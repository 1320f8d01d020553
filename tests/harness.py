"""Starting pager inside a test: the configuration most tests share, and `running_pager`,
which runs the real supervisor (journal, router, actors, and, unless told otherwise, the
real hypercorn and lean listeners on 127.0.0.1 port 0) and shuts it down gracefully.

Mock-clock tests pass `event_log=MemoryLog()`, `clock=TrioWallClock(...)` and
`serve_edges=False`: autojump cannot see work done in threads (the disk log fsyncs in one)
and would fire socket timeouts while a client waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import trio

from pager.config import Config, load_config_text
from pager.core.state import SystemState
from pager.service import Running, run_pager

TOKEN = "test-token-0123456789"
EPOCH = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # a Monday, 3 a.m.

CONFIG = """
server:
  listen: 127.0.0.1:0
  ingest_listen: 127.0.0.1:0
  public_url: http://pager.test
data_dir: {data_dir}
auth:
  api_tokens:
    - {{name: ops, token: "{token}"}}
  link_secret: test-link-secret
users:
  - id: alice
    contacts: {{email: alice@example.com, sms: "+15555550100"}}
    notification_rules: [{{after: 0m, via: console}}]
  - id: bob
    notification_rules: [{{after: 0m, via: console}}]
  - id: carol
    notification_rules: [{{after: 0m, via: console}}]
schedules:
  - id: primary
    timezone: America/New_York
    layers:
      - name: weekly
        users: [alice, bob]
        rotation: {{every: 1w, handoff: "monday 09:00", start: 2026-01-05}}
escalation_policies:
  - id: default
    repeat: 1
    levels:
      - targets: [{{schedule: primary}}]
        escalate_after: 5m
      - targets: [{{user: carol}}]
        escalate_after: 10m
services:
  - id: checkout
    escalation_policy: default
    ack_timeout: 30m
    integrations:
      - {{type: pagerduty, key: R0UT1NGKEYCHECKOUT00000000000000}}
      - {{type: alertmanager, key: am-checkout}}
      - {{type: generic, key: gen-checkout}}
      - {{type: opsgenie, key: og-checkout}}
{rate_limit}  - id: payments
    escalation_policy: default
    integrations:
      - {{type: generic, key: gen-payments}}
routing:
  - key: shared-am
    type: alertmanager
    rules:
      - service: payments
        when: [{{field: labels.team, equals: payments}}]
      - service: checkout
channels:
  console: {{}}
journal:
  fsync: {fsync}
"""


def config_text(
    data_dir: Path | str, *, rate: int | None = None, fsync: bool = True, extra: str = ""
) -> str:
    """The shared test configuration as YAML (for `pager serve --config` in a process);
    `rate` gives the checkout service a rate_limit of that many events a minute."""
    fs = "true" if fsync else "false"
    limit = f"    rate_limit: {{events: {rate}, per: 1m}}\n" if rate is not None else ""
    return CONFIG.format(data_dir=data_dir, token=TOKEN, rate_limit=limit, fsync=fs) + extra


def make_config(
    data_dir: Path | str, *, rate: int | None = None, fsync: bool = True, extra: str = ""
) -> Config:
    text = config_text(data_dir, rate=rate, fsync=fsync, extra=extra)
    return load_config_text(text, source="tests/harness.py")


@asynccontextmanager
async def running_pager(config: Config, **options: Any) -> AsyncIterator[Running]:
    """pager in this test's nursery (`run_pager` with these keyword options), shut down
    gracefully when the block ends."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(
            partial(run_pager, config, shutdown=shutdown, **options)
        )
        try:
            yield running
        finally:
            shutdown.set()


async def until(run: Running, holds: Callable[[SystemState], bool]) -> None:
    """Wait until `holds(state)`: checked now and after each journaled record (the state
    applies a record before the stream carries it), never by polling."""
    if holds(run.system.state):
        return
    async with aclosing(run.system.hub.subscribe(run.system.state.last_seq + 1)) as records:
        async for _ in records:
            if holds(run.system.state):
                return
    raise AssertionError("pager stopped before the state held")


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def pd_trigger(dedup_key: str | None, summary: str = "CPU high", **extra: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "routing_key": "R0UT1NGKEYCHECKOUT00000000000000",
        "event_action": "trigger",
        "payload": {"summary": summary, "source": "db-1", "severity": "critical"},
    }
    if dedup_key is not None:
        ev["dedup_key"] = dedup_key
    ev.update(extra)
    return ev
