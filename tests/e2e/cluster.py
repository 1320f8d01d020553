"""Several `pager serve` processes on one PostgreSQL database, for the failover tests: their
configuration (the PostgreSQL store, a short lease, pages to a webhook receiver served by
the test), their readiness, and what the database holds."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import trio

from ..harness import TOKEN
from ..web.dashboard_helpers import HASHES
from .service import PagerProcess

__all__ = ["BULK_KEY", "CRITICAL_KEY", "Node", "ha_config", "query", "reaped", "wait_ready"]

CRITICAL_KEY = "CR1T1CALKEY000000000000000000000"
BULK_KEY = "BULKKEY0000000000000000000000000"

CONFIG = """
server:
  listen: 127.0.0.1:0
  public_url: http://pager.test
data_dir: {data_dir}
store:
  type: postgres
  dsn: "{dsn}"
  lease_ttl: {ttl}
  node_name: {name}
auth:
  api_tokens:
    - {{name: ops, token: "{token}"}}
  link_secret: test-link-secret-0123456789abcdef
users:
  - id: alice
    password_hash: '{alice_hash}'
    contacts: {{webhook: "{hooks}/alice"}}
    notification_rules: [{{after: 0m, via: webhook}}]
  - id: bob
    contacts: {{webhook: "{hooks}/bob"}}
    notification_rules: [{{after: 0m, via: webhook}}]
  - id: carol
    contacts: {{webhook: "{hooks}/carol"}}
    notification_rules: [{{after: 0m, via: webhook}}]
escalation_policies:
  - id: critical
    levels:
      - targets: [{{user: alice}}]
        escalate_after: {escalate_after}
      - targets: [{{user: bob}}]
        escalate_after: 1h
  - id: bulk
    levels:
      - targets: [{{user: carol}}]
        escalate_after: 1h
services:
  - id: critical
    escalation_policy: critical
    integrations:
      - {{type: pagerduty, key: {critical_key}}}
  - id: bulk
    escalation_policy: bulk
    integrations:
      - {{type: pagerduty, key: {bulk_key}}}
channels:
  webhook: {{secret: whsec-test-0123456789abcdef, timeout: 5s}}
journal:
  fsync: false
bundling:                 # every page goes out alone: these tests count pages per person
  after: 1000000
"""


def ha_config(
    folder: Path, name: str, dsn: str, hooks: str, *, ttl: str = "2s", escalate_after: str = "4s"
) -> Path:
    """A node's configuration file in `folder/name.yaml` (its data folder beside it)."""
    path = folder / f"{name}.yaml"
    path.write_text(
        CONFIG.format(
            data_dir=folder / f"{name}-data",
            dsn=dsn,
            ttl=ttl,
            name=name,
            token=TOKEN,
            hooks=hooks,
            escalate_after=escalate_after,
            critical_key=CRITICAL_KEY,
            bulk_key=BULK_KEY,
            alice_hash=HASHES["alice"],  # she signs in to the dashboard
        )
    )
    return path


class Node:
    """One pager process of the cluster."""

    def __init__(self, folder: Path, name: str, dsn: str, hooks: str, **options: str) -> None:
        self.name = name
        self.config = ha_config(folder, name, dsn, hooks, **options)
        self.process = PagerProcess(self.config, folder / f"{name}.log")

    @property
    def url(self) -> str:
        return self.process.url

    async def start(self) -> None:
        await self.process.start()

    def signal(self, sig: signal.Signals) -> None:
        assert self.process.proc is not None
        self.process.proc.send_signal(sig)

    async def kill(self) -> None:
        await self.process.stop(signal.SIGKILL)

    async def stop(self) -> None:
        await self.process.stop(signal.SIGTERM)

    async def reap(self) -> None:
        """At the end of a test, whatever happened: SIGKILL the process if it runs."""
        if self.process.proc is not None:
            with trio.CancelScope(shield=True):
                await self.process.stop(signal.SIGKILL)

    async def readyz(self, client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
        r = await client.get(f"{self.url}/readyz")
        return r.status_code, r.json()


async def wait_ready(client: httpx.AsyncClient, nodes: list[Node], within: float) -> Node:
    """The first of `nodes` whose /readyz answers 200, polled every 50 ms."""
    with trio.fail_after(within):
        while True:
            for node in nodes:
                try:
                    status, _ = await node.readyz(client)
                except httpx.TransportError:
                    continue
                if status == 200:
                    return node
            await trio.sleep(0.05)


@asynccontextmanager
async def reaped(*nodes: Node) -> AsyncIterator[None]:
    """Every node's process is gone when the block ends, however it ends."""
    try:
        yield
    finally:
        for node in nodes:
            await node.reap()


def query(dsn: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
