"""A database failover under pager: a PostgreSQL primary with a synchronous streaming standby
(pg_basebackup), pager on a DSN that names both; under a stream of PagerDuty events the
primary is killed (SIGKILL, every server process) and the standby promoted. pager reconnects
through the multi-host DSN, settles the commit that was in flight, and every event it
acknowledged is in the promoted database.

Loopback only; an absolute deadline."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
import pytest
import trio

from ..postgres import Cluster, available
from ..standins.serve import served
from ..standins.teams import WebhookReceiver
from .cluster import BULK_KEY, Node, query, reaped, wait_ready
from .test_failover import KILLS_MID_REQUEST, Client, pd_event

pytestmark = pytest.mark.skipif(not available(), reason="PostgreSQL is not installed")


@KILLS_MID_REQUEST
async def test_pager_follows_a_promoted_synchronous_standby_and_loses_nothing(
    tmp_path: Path,
) -> None:
    primary = Cluster().init("synchronous_commit = on")
    standby: Cluster | None = None
    try:
        primary.start()
        primary.sql('CREATE DATABASE "pager_ha"')
        standby = primary.replica("standby1", synchronous=True)
        dsn = (
            f"host=127.0.0.1,127.0.0.1 port={primary.port},{standby.port} "
            "user=postgres dbname=pager_ha"
        )
        receiver = WebhookReceiver()
        with trio.fail_after(150):
            async with served(receiver) as hooks, httpx.AsyncClient(timeout=5) as http:
                node = Node(tmp_path, "node-a", dsn, hooks, ttl="3s")
                async with reaped(node):
                    await node.start()
                    await wait_ready(http, [node], within=20)
                    client = Client(http, [node])
                    stop = trio.Event()
                    promoted = trio.Event()
                    after_promotion: list[str] = []

                    async def load(w: int) -> None:
                        i = 0
                        while not stop.is_set():
                            key = f"w{w}-{i}"
                            await client.send(pd_event(BULK_KEY, key), deadline=40)
                            if promoted.is_set():
                                after_promotion.append(key)
                            i += 1

                    async with trio.open_nursery() as n:
                        for w in range(4):
                            n.start_soon(load, w)
                        while len(client.acked) < 40:
                            await trio.sleep(0.05)
                        await trio.to_thread.run_sync(primary.kill)
                        await trio.to_thread.run_sync(standby.promote)
                        promoted.set()
                        with trio.fail_after(60):
                            while len(after_promotion) < 40:
                                await trio.sleep(0.05)
                        stop.set()
                    # every acknowledged event is in the promoted database, once
                    opened = query(
                        standby.dsn("pager_ha"),
                        "SELECT data->>'dedup_key', count(*) FROM pager_events "
                        "WHERE type = 'incident.opened' GROUP BY 1",
                    )
                    counts = dict(opened)
                    missing = [k for k in client.acked if k not in counts]
                    assert not missing, f"acknowledged, not in the promoted database: {missing[:5]}"
                    assert all(c == 1 for c in counts.values())
                    seqs = [
                        r[0]
                        for r in query(
                            standby.dsn("pager_ha"), "SELECT seq FROM pager_events ORDER BY seq"
                        )
                    ]
                    assert seqs == list(range(1, len(seqs) + 1)), "a gap in the log"
                    # active: it kept its lease through the failover (renewals are tried
                    # every 0.75 s), or, if the promotion outlasted the lease, took it again
                    await wait_ready(http, [node], within=10)
                    await node.stop()
        gc.collect()  # within the test: see KILLS_MID_REQUEST
    finally:
        if standby is not None:
            standby.remove()
        primary.remove()
