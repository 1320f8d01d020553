"""Sign-in by a reverse proxy's header (`auth.proxy_header`, e.g. oauth2-proxy's
X-Forwarded-Email): believed only from `auth.trusted_proxies`, and a session follows the
person the proxy names."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from pager.config import ConfigError

from ..harness import pd_trigger, running_pager, until
from .dashboard_helpers import dashboard_config, sign_in, stream_handshake

TRUSTED = "  proxy_header: X-Forwarded-Email\n  trusted_proxies: [127.0.0.1/32]\n"
UNTRUSTED = "  proxy_header: X-Forwarded-Email\n  trusted_proxies: [10.0.0.1]\n"


async def _home(client: httpx.AsyncClient, base: str, header: str | None) -> httpx.Response:
    headers = {"X-Forwarded-Email": header} if header else {}
    r = await client.get(f"{base}/", headers=headers)
    if r.status_code == 303:
        r = await client.get(f"{base}/login", headers=headers)
        if r.status_code == 303:
            r = await client.get(f"{base}/", headers=headers)
    return r


async def test_proxy_header_from_a_trusted_proxy(tmp_path: Path) -> None:
    with trio.fail_after(30):
        config = dashboard_config(tmp_path / "data", auth_extra=TRUSTED)
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await _home(client, base, "alice@example.com")
            assert r.status_code == 200 and "alice" in r.text and "(responder)" in r.text
            # the proxy now names bob (by id): the session follows
            r = await _home(client, base, "bob")
            assert r.status_code == 200 and "(viewer)" in r.text
            # a name that is no configured user signs nobody in
            async with httpx.AsyncClient() as other:
                r = await _home(other, base, "mallory@example.com")
                assert r.status_code == 200 and 'id="password"' in r.text


async def test_proxy_header_ignored_from_elsewhere(tmp_path: Path) -> None:
    with trio.fail_after(30):
        config = dashboard_config(tmp_path / "data", auth_extra=UNTRUSTED)
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            r = await _home(client, run.urls[0], "alice@example.com")
            assert r.status_code == 200 and 'id="password"' in r.text  # the sign-in form
            assert "pager_session" not in client.cookies


def test_proxy_header_needs_trusted_proxies(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="proxy_header needs trusted_proxies"):
        dashboard_config(tmp_path, auth_extra="  proxy_header: X-Forwarded-Email\n")
    with pytest.raises(ConfigError, match="not an IP address"):
        dashboard_config(tmp_path, auth_extra="  proxy_header: X\n  trusted_proxies: [proxy]\n")


def test_password_hash_must_be_argon2id(tmp_path: Path) -> None:
    from pager.config import load_config_text

    from .dashboard_helpers import HASHES, dashboard_text

    text = dashboard_text(tmp_path).replace(HASHES["alice"], "$2b$12$bcrypthashbcrypthash")
    with pytest.raises(ConfigError, match="must be an argon2id hash"):
        load_config_text(text)


async def test_proxy_header_twice_or_a_list_signs_nobody_in(tmp_path: Path) -> None:
    """A proxy that appends its header to the client's copy instead of replacing it: the
    client's value must not sign anyone in, and a session the proxy no longer vouches for
    (another name, or none that is configured) stops counting."""
    with trio.fail_after(30):
        config = dashboard_config(tmp_path / "data", auth_extra=TRUSTED)
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            for headers in (
                [("X-Forwarded-Email", "carol"), ("X-Forwarded-Email", "bob")],
                [("X-Forwarded-Email", "carol, bob")],
            ):
                r = await client.get(f"{base}/login", headers=headers)
                assert r.status_code == 200 and 'id="password"' in r.text, headers
                assert "pager_session" not in client.cookies
            r = await _home(client, base, "bob")
            assert r.status_code == 200 and "(viewer)" in r.text
            r = await client.get(f"{base}/", headers={"X-Forwarded-Email": "mallory@example.com"})
            assert r.status_code == 303  # the proxy now names someone who is not bob


async def test_proxy_header_from_elsewhere_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pager")
    with trio.fail_after(30):
        config = dashboard_config(tmp_path / "data", auth_extra=UNTRUSTED)
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            for _ in range(3):
                await _home(client, run.urls[0], "alice@example.com")
    said = [
        r.getMessage() for r in caplog.records if "not in auth.trusted_proxies" in r.getMessage()
    ]
    assert said == [
        "X-Forwarded-Email from 127.0.0.1, which is not in auth.trusted_proxies: ignored"
    ]


async def test_the_stream_follows_the_proxy_too(tmp_path: Path) -> None:
    """The websocket takes the session cookie only while the proxy still names its person."""
    with trio.fail_after(30):
        config = dashboard_config(tmp_path / "data", auth_extra=TRUSTED)
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await _home(client, base, "alice")
            assert r.status_code == 200
            ws = base.replace("http://", "ws://") + "/api/v1/stream?since=1"
            cookie = ("Cookie", f"pager_session={client.cookies['pager_session']}")
            same = [cookie, ("Origin", base), ("X-Forwarded-Email", "alice@example.com")]
            async with open_websocket_url(ws, extra_headers=same) as sock:
                assert orjson.loads(await sock.get_message())["seq"] == 1
            for who, status in (("bob", 401), ("mallory@example.com", 401), ("alice", 101)):
                other = {"Cookie": cookie[1], "Origin": base, "X-Forwarded-Email": who}
                assert await stream_handshake(base, other) == status, who


async def test_the_analytics_api_follows_the_proxy_as_the_pages_do(tmp_path: Path) -> None:
    """The analytics API takes the dashboard's session (a CSV link): a session whose person
    the proxy no longer names (another person, a name that is nobody, or none of its one
    value) reads nothing there either (401), as the pages sign it out."""
    with trio.fail_after(30):
        config = dashboard_config(tmp_path / "data", auth_extra=TRUSTED)
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await _home(client, base, "alice@example.com")
            assert r.status_code == 200 and "(responder)" in r.text
            csv = f"{base}/api/v1/analytics/incidents.csv"
            r = await client.get(csv, headers={"X-Forwarded-Email": "alice@example.com"})
            assert r.status_code == 200, r.text
            for named in ("bob", "mallory@example.com", "alice@example.com, bob"):
                r = await client.get(csv, headers={"X-Forwarded-Email": named})
                assert r.status_code == 401, (named, r.status_code)
                r = await client.get(f"{base}/", headers={"X-Forwarded-Email": named})
                assert r.status_code == 303, (named, r.status_code)  # as the pages do


async def _note(
    client: httpx.AsyncClient, base: str, inc: str, csrf: str, **headers: str
) -> httpx.Response:
    return await client.post(
        f"{base}/incidents/{inc}/notes", data={"csrf": csrf, "text": "n"}, headers=headers
    )


async def test_behind_a_proxy_that_changes_host_forms_work_with_public_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A proxy serving pager at http://pager.example.com that sends Host: 127.0.0.1:PORT:
    the browser's Origin is pager's own, but neither the Host nor public_url says so, and
    the form is refused with a message that says what was compared and what to set. With
    public_url set to that address (written with its default port, or in capitals, as
    people do), or with the trusted proxy's X-Forwarded-Host, the same form is served.
    What the request said is quoted only when it reads as an origin."""
    # http, so that the test's client sends the session cookie (https makes it Secure)
    public = "http://PAGER.example.com:80"
    for public_url, auth_extra, ok in (
        ("", "", False),
        (public, "", True),
        ("", "  trusted_proxies: [127.0.0.1/32]\n", True),  # X-Forwarded-Host believed
        ("", "  trusted_proxies: [10.0.0.1]\n", False),  # ... only from a trusted proxy
    ):
        data = tmp_path / f"data-{len(public_url)}-{len(auth_extra)}"
        config = dashboard_config(data, public_url=public_url, auth_extra=auth_extra)
        with trio.fail_after(30):
            async with running_pager(config) as run, httpx.AsyncClient() as client:
                base = run.urls[0]
                r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("proxy-host-1"))
                await until(run, lambda s: bool(s.incidents))
                inc = next(iter(run.system.state.incidents))
                csrf = await sign_in(client, base, "alice")
                browser = {
                    "Origin": "http://pager.example.com",
                    "Sec-Fetch-Site": "same-origin",
                    "X-Forwarded-Host": "pager.example.com",
                }
                r = await _note(client, base, inc, csrf, **browser)
                if ok:
                    assert r.status_code == 303, (public_url, auth_extra, r.text[:500])
                    continue
                assert r.status_code == 403
                host = base.removeprefix("http://")
                text = r.text.replace("&#39;", "'")
                for said in ("Origin, 'http://pager.example.com'", "server.public_url (http",
                             f"'{host}'", "set server.public_url", "X-Forwarded-Host"):  # fmt: skip
                    assert said in text, (said, text[:1500])
                assert "pager.example.com" in caplog.text and "server.public_url" in caplog.text
                # an Origin that is no origin is not repeated
                junk = "https://x.example/<script>alert(1)</script>"
                r = await _note(client, base, inc, csrf, Origin=junk)
                assert r.status_code == 403
                assert "one pager cannot read" in r.text and "alert(1)" not in r.text
