"""With the PostgreSQL store the dashboard's sessions are the database's, shared by every
node: two pagers in this process on one real database (tests/postgres.py), as behind a load
balancer. A session made on the active one works on the standby and the other way round, a
sign-out on one ends it on both, a new password hash ends it, failed sign-ins on both count
once, nothing lands in data_dir, and after the active one stops the standby that takes
over still knows the cookie."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import httpx
import trio

from pager.config import Config, load_config_text
from pager.service import Running, run_pager
from pager.web.sessions import COOKIE, FILE

from .dashboard_helpers import _HASHER, HASHES, PASSWORDS, csrf_of, dashboard_text, sign_in


def _text(folder: Path, name: str, dsn: str) -> str:
    store = f'store:\n  type: postgres\n  dsn: "{dsn}"\n  lease_ttl: 2s\n  node_name: {name}\n'
    return dashboard_text(folder / f"{name}-data", extra=store)


def _config(folder: Path, name: str, dsn: str) -> Config:
    return load_config_text(_text(folder, name, dsn), source=f"{name}.yaml")


async def _post_login(
    client: httpx.AsyncClient, base: str, user: str, password: str
) -> httpx.Response:
    form = await client.get(f"{base}/login")
    data = {"user": user, "password": password, "csrf": csrf_of(form.text)}
    return await client.post(f"{base}/login", data=data)


async def _role(client: httpx.AsyncClient, base: str) -> str:
    return str((await client.get(f"{base}/readyz")).json()["role"])


async def _until_active(client: httpx.AsyncClient, base: str) -> None:
    while await _role(client, base) != "active":
        await trio.sleep(0.05)


async def test_sessions_are_shared_by_the_nodes_and_outlive_a_failover(
    tmp_path: Path, pg_dsn: str
) -> None:
    stop_a, stop_b = trio.Event(), trio.Event()
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery, httpx.AsyncClient() as probe:
            a: Running = await nursery.start(
                partial(run_pager, _config(tmp_path, "a", pg_dsn), shutdown=stop_a)
            )
            base_a = a.urls[0]
            await _until_active(probe, base_a)
            b: Running = await nursery.start(
                partial(run_pager, _config(tmp_path, "b", pg_dsn), shutdown=stop_b)
            )
            base_b = b.urls[0]
            assert await _role(probe, base_b) == "standby"

            async with httpx.AsyncClient() as alice, httpx.AsyncClient() as carol:
                # signed in on the active one: the standby knows the cookie
                await sign_in(alice, base_a, "alice")
                cookie = alice.cookies[COOKIE]
                async with httpx.AsyncClient(cookies={COOKIE: cookie}) as copy:
                    r = await copy.get(f"{base_b}/")
                    assert r.status_code == 200 and "alice" in r.text
                # signed in on the standby (it writes sessions too): the active one knows it
                csrf = await sign_in(carol, base_b, "carol")
                async with httpx.AsyncClient(cookies={COOKIE: carol.cookies[COOKIE]}) as copy:
                    assert (await copy.get(f"{base_a}/")).status_code == 200
                    # a sign-out on the standby ends it on the active one
                    r = await carol.post(f"{base_b}/logout", data={"csrf": csrf})
                    assert r.status_code == 303
                    assert (await copy.get(f"{base_a}/")).status_code == 303

                # a new password hash (b reloads its configuration) ends alice's session
                # there, made on a under the old one
                text = _text(tmp_path, "b", pg_dsn)
                new = text.replace(HASHES["alice"], _HASHER.hash("a-new-one-123"))
                await b.system.reload(load_config_text(new), "test")
                async with httpx.AsyncClient(cookies={COOKIE: cookie}) as copy:
                    assert (await copy.get(f"{base_b}/")).status_code == 303
                await b.system.reload(load_config_text(text), "test")

                # failed sign-ins on both nodes count once (signin_attempts: 3)
                async with httpx.AsyncClient() as guesser:
                    for base in (base_a, base_b, base_a):
                        r = await _post_login(guesser, base, "bob", "wrong")
                        assert r.status_code == 401
                    r = await _post_login(guesser, base_b, "bob", PASSWORDS["bob"])
                    assert r.status_code == 429 and "Retry-After" in r.headers

                # the active one stops (the lease given back): b takes over, alice stays in
                stop_a.set()
                await _until_active(probe, base_b)
                r = await alice.get(f"{base_b}/oncall")
                assert r.status_code == 200 and "alice" in r.text
                page = await alice.get(f"{base_b}/")
                assert csrf_of(page.text)  # the same session's pages, its CSRF token
            stop_b.set()
    for name in ("a", "b"):  # nothing of a session on the nodes' disks
        assert not (tmp_path / f"{name}-data" / FILE).exists()
