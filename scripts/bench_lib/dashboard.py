"""`scripts/bench dashboard`: how fast the dashboard's pages answer with 10,000 incidents in
the state (target: p99 < 50 ms per page), and what each costs the server in CPU.

pager runs in this process (`running_pager`, data folder on the scratch disk, fsync off); one
incident is opened through the ingest path and copied N-1 times into the state (half open,
half resolved), with three notifications each (one in ten failed), and a person signs in.
Each page is then fetched `requests` times in a row by a client in a separate process
(`python -m bench_lib.dashboard --client`), so this process's CPU time over the batch is the
server's alone: "CPU / request" is that time divided by the requests. The latency figures
include the loopback HTTP round trip; on a loaded machine they also include waiting for a
core, which the CPU figure does not.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from .disk import percentile
from .table import Row, Table, fmt_ms

__all__ = ["run_dashboard"]

P99_TARGET = 0.050
ROOT = Path(__file__).resolve().parents[2]
NOTIFICATIONS_PER_INCIDENT = 3


def _seed(state: Any, seed: Any, n: int) -> None:
    """N-1 copies of the seed incident (half resolved), each with its notifications."""
    from pager.core.model import Status
    from pager.core.notifications import Attempt, Notification

    book = state.notifications
    users = ("alice", "bob", "carol")
    methods = ("email", "sms", "slack")
    for i in range(2, n + 1):
        resolved = i % 2 == 0
        at = seed.created_at + timedelta(seconds=i)
        inc = dataclasses.replace(
            seed, id=f"inc-{i}", number=i, dedup_key=f"k{i}", title=f"Load test {i}",
            status=Status.RESOLVED if resolved else Status.TRIGGERED, created_at=at,
        )  # fmt: skip
        state.incidents[inc.id] = inc
        if not resolved:
            state.open_by_key[(inc.service_id, inc.dedup_key)] = inc.id
        for k in range(NOTIFICATIONS_PER_INCIDENT):
            failed = (i + k) % 10 == 0
            note = Notification(
                id=f"inc-{i}-n{k + 1}", incident_id=inc.id, kind="page",
                method=methods[k], address=None, user_id=users[(i + k) % 3], topic=None,
                step=k, previous=None, requested_at=at,
                status="failed" if failed else "sent", attempts=1,
                last_error="550 mailbox unavailable" if failed else None,
                history=(Attempt(at, "failed" if failed else "sent", 1, None),),
            )  # fmt: skip
            book.add(note)


async def _measure(scratch: Path, n: int, requests: int, table: Table) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.harness import pd_trigger, running_pager, until
    from tests.web.dashboard_helpers import dashboard_config, sign_in

    async with running_pager(dashboard_config(scratch / "data")) as run:
        base = run.urls[0]
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("seed"))
            assert r.status_code == 202, r.text
            await until(run, lambda s: len(s.incidents) == 1)
            state = run.system.state
            _seed(state, next(iter(state.incidents.values())), n)
            await sign_in(client, base, "alice")
            cookie = client.cookies["pager_session"]
        pages = ["/", "/?status=all", "/?q=test%209999", "/incidents/rows?status=open",
                 f"/incidents/inc-{n - 1}", "/oncall", "/schedules", "/notifications",
                 "/notifications?user=carol&status=failed", "/services", "/healthz"]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
        for page in pages:
            cpu0 = time.process_time()
            done = await trio.run_process(
                [sys.executable, "-m", "bench_lib.dashboard", "--client", base + page,
                 cookie, str(requests)],
                capture_stdout=True, env=env,
            )  # fmt: skip
            cpu = (time.process_time() - cpu0) / requests
            out = json.loads(done.stdout)
            times = sorted(out["times"])
            errors = out["errors"]
            p99 = percentile(times, 99)
            table.add(
                Row(
                    f"GET {page} p50 / p99 (CPU / request)",
                    f"{fmt_ms(percentile(times, 50))} / {fmt_ms(p99)} ({fmt_ms(cpu)})",
                    "p99 < 50 ms",
                    p99 < P99_TARGET,
                    f"{errors} non-200" if errors else "",
                    error=bool(errors),
                )
            )


def _client(url: str, cookie: str, requests: int) -> None:
    """The client side: GET `url` `requests` times in a row; prints the times as JSON."""
    times, errors = [], 0
    with httpx.Client(timeout=30, cookies={"pager_session": cookie}) as client:
        client.get(url)  # a connection, warmed
        for _ in range(requests):
            t0 = time.perf_counter()
            r = client.get(url)
            times.append(time.perf_counter() - t0)
            errors += r.status_code != 200
    print(json.dumps({"times": times, "errors": errors}))


def run_dashboard(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    n, requests = (200, 10) if quick else (10_000, 200)
    table = Table(f"dashboard: pages with {n:,} incidents in the state, {requests} GETs each")
    table.notes.append(
        "latency: round trips from a client process (queueing for a core included); "
        "CPU: the server process's own CPU time per request (/healthz: the HTTP floor)"
    )
    scratch.mkdir(parents=True, exist_ok=True)
    say(f"dashboard: {n} incidents, {n * NOTIFICATIONS_PER_INCIDENT} notifications, "
        f"{requests} requests per page")  # fmt: skip
    trio.run(_measure, scratch, n, requests, table)
    return table


if __name__ == "__main__" and sys.argv[1:2] == ["--client"]:
    _client(sys.argv[2], sys.argv[3], int(sys.argv[4]))
