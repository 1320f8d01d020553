"""`scripts/bench dashboard`: how fast the dashboard's pages answer with 10,000 incidents in
the state (target: p99 < 50 ms per page).

pager runs in this process (`running_pager`, data folder on the scratch disk, fsync off); one
incident is opened through the ingest path and copied N-1 times into the state (half open,
half resolved), a person signs in, and each page is fetched `requests` times in a row by a
local client. The figure includes the loopback HTTP round trip, so the server's own share is
smaller than what is printed.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import trio

from .disk import percentile
from .table import Row, Table, fmt_ms

__all__ = ["run_dashboard"]

P99_TARGET = 0.050
ROOT = Path(__file__).resolve().parents[2]


async def _measure(scratch: Path, n: int, requests: int, table: Table) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from pager.core.model import Status
    from tests.harness import pd_trigger, running_pager, until
    from tests.web.dashboard_helpers import dashboard_config, sign_in

    async with running_pager(dashboard_config(scratch / "data")) as run:
        base = run.urls[0]
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("seed"))
            assert r.status_code == 202, r.text
            await until(run, lambda s: len(s.incidents) == 1)
            state = run.system.state
            seed = next(iter(state.incidents.values()))
            for i in range(2, n + 1):
                resolved = i % 2 == 0
                inc = dataclasses.replace(
                    seed, id=f"inc-{i}", number=i, dedup_key=f"k{i}", title=f"Load test {i}",
                    status=Status.RESOLVED if resolved else Status.TRIGGERED,
                )  # fmt: skip
                state.incidents[inc.id] = inc
                if not resolved:
                    state.open_by_key[(inc.service_id, inc.dedup_key)] = inc.id
            await sign_in(client, base, "alice")
            pages = ["/", "/?status=all", "/?q=test%209999", "/incidents/rows?status=open",
                     f"/incidents/inc-{n - 1}", "/oncall", "/schedules", "/notifications",
                     "/services"]  # fmt: skip
            for page in pages:
                times = []
                errors = 0
                for _ in range(requests):
                    t0 = time.perf_counter()
                    r = await client.get(base + page)
                    times.append(time.perf_counter() - t0)
                    errors += r.status_code != 200
                times.sort()
                p99 = percentile(times, 99)
                table.add(
                    Row(
                        f"GET {page} p50 / p99",
                        f"{fmt_ms(percentile(times, 50))} / {fmt_ms(p99)}",
                        "p99 < 50 ms",
                        p99 < P99_TARGET,
                        f"{errors} non-200" if errors else "",
                        error=bool(errors),
                    )
                )


def run_dashboard(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    n, requests = (200, 10) if quick else (10_000, 200)
    table = Table(f"dashboard: pages with {n:,} incidents in the state, {requests} GETs each")
    table.notes.append("round trips from a local client: the server's share is smaller")
    scratch.mkdir(parents=True, exist_ok=True)
    say(f"dashboard: {n} incidents, {requests} requests per page")
    trio.run(_measure, scratch, n, requests, table)
    return table
