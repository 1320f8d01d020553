"""Sign-in as a hostile tester sees it: concurrent guesses are throttled like sequential
ones, a stranger's failures do not lock a person out of a browser they signed in on
before, the id and the email are one count, an address behind a trusted proxy is the one
it forwarded, a sign-in returns to the page asked for and never to another site, a new
sign-in ends the session it replaces, and a session ends when its person's password hash
changes or they leave the configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import trio

from pager.config import load_config_text

from ..harness import running_pager, until
from .dashboard_helpers import (
    HASHES,
    PASSWORDS,
    csrf_of,
    dashboard_config,
    dashboard_text,
    sign_in,
)


async def _post_login(
    client: httpx.AsyncClient, base: str, user: str, password: str, **extra: str
) -> httpx.Response:
    form = await client.get(f"{base}/login")
    data = {"user": user, "password": password, "csrf": csrf_of(form.text), **extra}
    return await client.post(f"{base}/login", data=data)


async def test_concurrent_guesses_are_throttled_like_sequential_ones(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with running_pager(dashboard_config(tmp_path / "data")) as run:
            base = run.urls[0]
            answers: list[int] = []
            ready: list[int] = []

            async def guess(n: int) -> None:
                async with httpx.AsyncClient() as client:
                    form = await client.get(f"{base}/login")
                    token = csrf_of(form.text)
                    ready.append(n)
                    if len(ready) == 12:  # every client holds its form: all go at once
                        start.set()
                    await start.wait()
                    r = await client.post(
                        f"{base}/login",
                        data={"user": "alice", "password": f"guess-{n}", "csrf": token},
                    )
                    answers.append(r.status_code)

            start = trio.Event()
            async with trio.open_nursery() as nursery:
                for n in range(12):
                    nursery.start_soon(guess, n)
            # signin_attempts is 3: three guesses are checked, the rest refused unchecked
            assert sorted(answers) == [401] * 3 + [429] * 9, answers


async def test_a_strangers_failures_do_not_lock_a_person_out_of_their_browser(
    tmp_path: Path,
) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as phone,
            httpx.AsyncClient() as stranger,
            httpx.AsyncClient() as new_laptop,
        ):
            base = run.urls[0]
            csrf = await sign_in(phone, base, "alice")  # her phone, a known browser from now
            assert "pager_device" in phone.cookies
            await phone.post(f"{base}/logout", data={"csrf": csrf})
            for n in range(3):
                r = await _post_login(stranger, base, "alice", f"guess-{n}")
                assert r.status_code == 401
            r = await _post_login(stranger, base, "alice@example.com", PASSWORDS["alice"])
            assert r.status_code == 429  # the email is the same person, the same count
            # a browser she never signed in on is held up like the stranger
            r = await _post_login(new_laptop, base, "alice", PASSWORDS["alice"])
            assert r.status_code == 429
            # her phone is not: a typo, then the right password
            r = await _post_login(phone, base, "alice", "typo")
            assert r.status_code == 401
            r = await _post_login(phone, base, "alice", PASSWORDS["alice"])
            assert r.status_code == 303 and r.headers["location"] == "/"
            page = await phone.get(f"{base}/")
            await phone.post(f"{base}/logout", data={"csrf": csrf_of(page.text)})
            # the known browser has a count of its own
            async with httpx.AsyncClient() as thief:
                thief.cookies.set("pager_device", phone.cookies["pager_device"], path="/login")
                for n in range(3):
                    r = await _post_login(thief, base, "alice", f"stolen-{n}")
                    assert r.status_code == 401
                r = await _post_login(thief, base, "alice", PASSWORDS["alice"])
                assert r.status_code == 429
            # a known browser of alice's is a stranger for bob
            r = await _post_login(phone, base, "bob", PASSWORDS["bob"])
            assert r.status_code == 303


async def test_the_address_behind_a_trusted_proxy_is_the_forwarded_one(tmp_path: Path) -> None:
    trusted = "  trusted_proxies: [127.0.0.1]\n"
    with trio.fail_after(60):
        config = dashboard_config(tmp_path / "data", auth_extra=trusted)
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            one = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}  # the client wrote the first
            for n in range(12):  # 4 x signin_attempts from 203.0.113.1, each a new name
                form = await client.get(f"{base}/login")
                r = await client.post(
                    f"{base}/login",
                    data={"user": f"u{n}", "password": "x", "csrf": csrf_of(form.text)},
                    headers=one,
                )
                assert r.status_code == 401
            form = await client.get(f"{base}/login")
            data = {"user": "bob", "password": PASSWORDS["bob"], "csrf": csrf_of(form.text)}
            r = await client.post(f"{base}/login", data=data, headers=one)
            assert r.status_code == 429
            # another browser behind the same proxy is not held up
            other = {"X-Forwarded-For": "203.0.113.2"}
            r = await client.post(f"{base}/login", data=data, headers=other)
            assert r.status_code == 303
    with trio.fail_after(60):
        # from a peer that is no trusted proxy, X-Forwarded-For is not believed
        config = dashboard_config(tmp_path / "data2")
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            for n in range(12):
                form = await client.get(f"{base}/login")
                r = await client.post(
                    f"{base}/login",
                    data={"user": f"u{n}", "password": "x", "csrf": csrf_of(form.text)},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                )
                assert r.status_code == 401
            r = await _post_login(client, base, "bob", PASSWORDS["bob"])
            assert r.status_code == 429


async def test_sign_in_returns_to_the_page_asked_for_and_never_elsewhere(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            r = await client.get(f"{base}/notifications?status=failed&user=bob")
            assert r.status_code == 303
            assert (
                r.headers["location"]
                == "/login?next=%2Fnotifications%3Fstatus%3Dfailed%26user%3Dbob"
            )
            page = await client.get(base + r.headers["location"])
            assert 'name="next" value="/notifications?status=failed&amp;user=bob"' in page.text
            r = await client.post(
                f"{base}/login",
                data={"user": "alice", "password": PASSWORDS["alice"], "csrf": csrf_of(page.text),
                      "next": "/notifications?status=failed&user=bob"},
            )  # fmt: skip
            assert r.status_code == 303
            assert r.headers["location"] == "/notifications?status=failed&user=bob"
            for evil in ["//evil.example", "/\t/evil.example", "/\\evil.example",
                         "https://evil.example/", "/%0a/x\n", "javascript:alert(1)",
                         " /x", "/\x7f/evil.example", "/é"]:  # fmt: skip
                async with httpx.AsyncClient() as other:
                    r = await _post_login(other, base, "carol", PASSWORDS["carol"], next=evil)
                    assert r.status_code == 303 and r.headers["location"] == "/", evil


async def test_an_action_never_sends_the_browser_off_site(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as alice,
        ):
            base = run.urls[0]
            csrf = await sign_in(alice, base, "alice")
            r = await alice.post(
                f"{base}/v2/enqueue",
                json={"routing_key": "R0UT1NGKEYCHECKOUT00000000000000", "event_action": "trigger",
                      "dedup_key": "redir", "payload": {"summary": "s", "source": "h",
                                                        "severity": "error"}},
            )  # fmt: skip
            assert r.status_code == 202
            await until(run, lambda s: bool(s.incidents))
            inc = next(iter(run.system.state.incidents))
            # a tab is stripped by the browser: "/\t/evil.example" is "//evil.example"
            for evil in ["/%09/evil.example", "%2F%2Fevil.example", "/%5Cevil.example",
                         "/%0D%0ALocation:%20http://evil.example"]:  # fmt: skip
                r = await alice.post(
                    f"{base}/incidents/{inc}/notes?next={evil}",
                    data={"csrf": csrf, "text": "n"},
                )
                assert r.status_code == 303, (evil, r.text)
                assert r.headers["location"] == f"/incidents/{inc}", evil


async def test_a_new_sign_in_ends_the_session_it_replaces(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            await sign_in(client, base, "bob")
            first = client.cookies["pager_session"]
            # a sign-in posted from a browser that holds a session (another tab's form)
            async with httpx.AsyncClient() as tab:
                form = await tab.get(f"{base}/login")
                client.cookies.set("pager_login", tab.cookies["pager_login"], path="/login")
            r = await client.post(
                f"{base}/login",
                data={"user": "alice", "password": PASSWORDS["alice"], "csrf": csrf_of(form.text)},
            )
            assert r.status_code == 303
            assert client.cookies["pager_session"] != first
            async with httpx.AsyncClient() as copy:
                copy.cookies.set("pager_session", first)
                assert (await copy.get(f"{base}/")).status_code == 303


async def test_a_password_change_or_removal_ends_the_sessions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(data)) as run,
            httpx.AsyncClient() as alice,
            httpx.AsyncClient() as bob,
            httpx.AsyncClient() as carol,
        ):
            base = run.urls[0]
            for client, user in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
                await sign_in(client, base, user)
            # alice's password is changed (a new hash), bob leaves, carol's role changes
            from .dashboard_helpers import _HASHER

            text = dashboard_text(data).replace(HASHES["alice"], _HASHER.hash("a-new-one-123"))
            text = text.replace("    role: admin\n", "    role: viewer\n", 1)
            text = text.replace("  - id: bob\n", "  - id: robert\n", 1)
            text = text.replace("users: [alice, bob]", "users: [alice, robert]")
            await run.system.reload(load_config_text(text), "test")
            assert (await alice.get(f"{base}/")).status_code == 303
            assert (await bob.get(f"{base}/")).status_code == 303
            r = await carol.get(f"{base}/")
            assert r.status_code == 200 and "(viewer)" in r.text  # the role follows at once


async def test_a_refused_name_is_not_logged_unless_it_is_a_persons(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pager")
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            # a person who typed the password into the name field
            r = await _post_login(client, base, PASSWORDS["alice"], PASSWORDS["alice"])
            assert r.status_code == 401
            r = await _post_login(client, base, "alice", "wrong")
            assert r.status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORDS["alice"] not in logged
    assert "refused for an unknown name" in logged and "refused for alice" in logged


def test_an_unknown_name_costs_what_a_known_one_does() -> None:
    from argon2 import extract_parameters

    from pager.web.signin import dummy_hash

    for like in (HASHES["alice"], "$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"):
        theirs, ours = extract_parameters(like), extract_parameters(dummy_hash(like))
        assert (ours.memory_cost, ours.time_cost, ours.parallelism, ours.hash_len) == (
            theirs.memory_cost, theirs.time_cost, theirs.parallelism, theirs.hash_len,
        )  # fmt: skip


async def test_a_new_password_ends_the_trust_in_known_browsers(tmp_path: Path) -> None:
    """A browser is known by the password it signed in with: after a new hash (a leaked
    password replaced), it waits like any stranger's."""
    data = tmp_path / "data"
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(data)) as run,
            httpx.AsyncClient() as phone,
            httpx.AsyncClient() as stranger,
        ):
            base = run.urls[0]
            csrf = await sign_in(phone, base, "alice")
            await phone.post(f"{base}/logout", data={"csrf": csrf})
            from .dashboard_helpers import _HASHER

            text = dashboard_text(data).replace(HASHES["alice"], _HASHER.hash("a-new-one-123"))
            await run.system.reload(load_config_text(text), "test")
            for n in range(3):
                r = await _post_login(stranger, base, "alice", f"guess-{n}")
                assert r.status_code == 401
            r = await _post_login(phone, base, "alice", "a-new-one-123")
            assert r.status_code == 429


async def test_the_demo_signs_in_as_printed_at_start_up(tmp_path: Path) -> None:
    """A newcomer running the demo opens the dashboard and signs in with what the banner
    says (`demo` / DEMO_PASSWORD), as an admin: the services page shows the keys to paste."""
    from pager.config import load_demo_config
    from pager.config.demo import DEMO_PASSWORD
    from pager.config.models import Server

    config = load_demo_config(tmp_path / "data")
    config = config.model_copy(update={"server": Server.model_validate({"listen": "127.0.0.1:0"})})
    with trio.fail_after(60):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await _post_login(client, base, "demo", DEMO_PASSWORD)
            assert r.status_code == 303 and r.headers["location"] == "/", r.text
            page = (await client.get(f"{base}/services")).text
            assert "Demo User" in page and "(admin)" in page
            assert 'aria-label="generic key" value="demo-generic"' in page, page


@pytest.mark.parametrize("public_url", ["http://pager.test", "https://pager.test"])
async def test_every_cookie_is_httponly_samesite_and_secure_behind_https(
    tmp_path: Path, public_url: str
) -> None:
    """The session, the sign-in form's token and the known-browser cookie: HttpOnly (no
    script reads them), SameSite (Lax for the session, so a link from a mail opens a signed-in
    page; Strict for the other two), and Secure when pager is reached over https (its
    `public_url`), so they never travel over plain http."""
    with trio.fail_after(30):
        async with (
            running_pager(dashboard_config(tmp_path / "data", public_url=public_url)) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            form = await client.get(f"{base}/login")
            data = {"user": "alice", "password": PASSWORDS["alice"], "csrf": csrf_of(form.text)}
            # httpx keeps no Secure cookie for plain http: carry the form's token by hand
            token = form.headers["set-cookie"].split(";")[0]
            assert token.startswith("pager_login="), token
            client.cookies.clear()
            r = await client.post(f"{base}/login", data=data, headers={"Cookie": token})
            assert r.status_code == 303, r.text[:300]
            set_cookies = form.headers.get_list("set-cookie") + r.headers.get_list("set-cookie")
            given = {c.split("=", 1)[0]: c for c in set_cookies if "Max-Age=0" not in c}
            assert set(given) == {"pager_login", "pager_session", "pager_device"}, set_cookies
            want = {"pager_login": "Strict", "pager_session": "Lax", "pager_device": "Strict"}
            for name, line in given.items():
                attrs = {a.strip().split("=")[0].lower(): a for a in line.split(";")[1:]}
                assert "httponly" in attrs, line
                assert attrs["samesite"].strip() == f"SameSite={want[name]}", line
                assert ("secure" in attrs) == public_url.startswith("https://"), line
