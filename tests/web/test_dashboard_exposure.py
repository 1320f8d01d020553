"""What the dashboard shows, as a hostile tester reads it: text from alerts (titles,
labels, details, links) and from people (notes, searches) is escaped on every page and a
link that is not http(s) is not a link; integration keys, which page a service, are shown
to admins only (as the REST API shows them to nobody); every page's Content-Security-Policy
lets it load its own files and its stream and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import trio

from ..harness import running_pager, until
from .dashboard_helpers import dashboard_config, sign_in

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


async def test_text_from_alerts_and_people_is_escaped_everywhere(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            event = {
                "routing_key": "R0UT1NGKEYCHECKOUT00000000000000",
                "event_action": "trigger",
                "dedup_key": f"key{EVIL}",
                "payload": {"summary": f"Title {EVIL}", "source": f"host{EVIL}",
                            "severity": "critical", "custom_details": {f"k{EVIL}": f"v{EVIL}"}},
                "links": [{"href": "javascript:alert(3)", "text": f"link{EVIL}"},
                          {"href": "https://runbook.example/disk", "text": "Runbook"},
                          {"href": " JavaScript:alert(4)"}],
            }  # fmt: skip
            r = await client.post(f"{base}/v2/enqueue", json=event)
            assert r.status_code == 202, r.text
            await until(run, lambda s: bool(s.incidents))
            inc = next(iter(run.system.state.incidents))
            csrf = await sign_in(client, base, "alice")
            r = await client.post(
                f"{base}/incidents/{inc}/notes", data={"csrf": csrf, "text": f"note {EVIL}"}
            )
            assert r.status_code == 303
            for page in ["/", f"/?q={EVIL}", f"/incidents/{inc}", "/notifications",
                         "/incidents/rows?q=Title", "/oncall", "/services"]:  # fmt: skip
                html = (await client.get(base + page)).text
                assert "<script>alert" not in html and "<img src=x" not in html, page
                assert not re.search(r"""(href|src|action)=["']?\s*javascript:""", html, re.I), page
            detail = (await client.get(f"{base}/incidents/{inc}")).text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail  # shown, as text
            assert (
                '<a href="https://runbook.example/disk" rel="noopener noreferrer">Runbook</a>'
                in detail
            )
            assert "link&#34;&gt;&lt;script&gt;" in detail  # the bad link's words stay, unlinked


async def test_integration_keys_are_for_admins(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as bob,
            httpx.AsyncClient() as alice,
            httpx.AsyncClient() as carol,
        ):
            base = run.urls[0]
            keys = [
                "R0UT1NGKEYCHECKOUT00000000000000",
                "am-checkout",
                "gen-checkout",
                "og-checkout",
            ]
            for client, user in ((bob, "bob"), (alice, "alice")):
                await sign_in(client, base, user)
                page = (await client.get(f"{base}/services")).text
                assert not [k for k in keys if k in page], user
                assert "http://pager.test/v2/enqueue" in page  # where to send, without a key
                assert "is shown to admins" in page
            await sign_in(carol, base, "carol")
            page = (await carol.get(f"{base}/services")).text
            assert all(k in page for k in keys)
            assert "http://pager.test/integrations/alertmanager/am-checkout" in page


async def test_pages_load_only_their_own_files_and_stream(tmp_path: Path) -> None:
    with trio.fail_after(60):
        config = dashboard_config(tmp_path / "data", public_url="https://pager.example")
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            r = await client.get(f"{run.urls[0]}/login")
            csp = {
                d.split()[0]: d.split()[1:]
                for d in r.headers["content-security-policy"].split("; ")
            }
            assert csp["connect-src"] == ["'self'", "wss://pager.example"]  # never any host
            assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
            assert csp["base-uri"] == ["'none'"] and csp["object-src"] == ["'none'"]
            assert csp["frame-ancestors"] == ["'none'"]
            assert r.headers["x-content-type-options"] == "nosniff"
