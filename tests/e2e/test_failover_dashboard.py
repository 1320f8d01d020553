"""A person signed in to the dashboard stays signed in across a crash of the active pager:
two `pager serve` processes on one real PostgreSQL (tests/postgres.py), alice signs in on the
active one, it is SIGKILLed, and once the standby has taken over her same cookie opens the
dashboard there. (Before sessions were kept in the database, each node had its own file and
she had to sign in again.) Loopback only; an absolute deadline."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from ..standins.serve import served
from ..standins.teams import WebhookReceiver
from ..web.dashboard_helpers import sign_in
from .cluster import Node, reaped, wait_ready


async def test_a_dashboard_session_outlives_a_crash_of_the_active(
    tmp_path: Path, pg_dsn: str
) -> None:
    with trio.fail_after(90):
        async with served(WebhookReceiver()) as hooks, httpx.AsyncClient(timeout=5) as http:
            a, b = (Node(tmp_path, name, pg_dsn, hooks) for name in ("node-a", "node-b"))
            async with reaped(a, b):
                await a.start()
                await wait_ready(http, [a], within=15)
                await b.start()
                async with httpx.AsyncClient(timeout=5) as alice:
                    await sign_in(alice, a.url, "alice")
                    await a.kill()
                    await wait_ready(http, [b], within=15)
                    r = await alice.get(f"{b.url}/")
                    assert r.status_code == 200, r.headers
                    assert "/logout" in r.text  # her signed-in page, not the sign-in form
