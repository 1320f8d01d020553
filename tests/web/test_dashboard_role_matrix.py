"""Every state-changing route in the route table (pager.web.openapi_routes.OPS), so a route
added later is covered without anyone remembering to: through the REST API a viewer token
is refused (403) on each, a responder token on each that needs the admin role; through the
dashboard each form is refused without the session's CSRF token, a viewer is refused on
each but signing out, a responder on the admin ones. Nothing refused is journaled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import trio

from pager.web.openapi_routes import OPS

from ..harness import pd_trigger, running_pager, until
from .dashboard_helpers import RESPONDER_TOKEN, VIEWER_TOKEN, dashboard_config, sign_in

CHANGES = ("POST", "PUT", "PATCH", "DELETE")
# the REST operations a responder token may perform; every other change needs admin
RESPONDER_API = {
    "/api/v1/incidents/{incident_id}/acknowledge", "/api/v1/incidents/{incident_id}/resolve",
    "/api/v1/incidents/{incident_id}/snooze", "/api/v1/incidents/{incident_id}/escalate",
    "/api/v1/incidents/{incident_id}/notes", "/api/v1/heartbeats/{name}/ping",
    "/api/v1/heartbeats/{name}/fail", "/api/v1/route-test",
    "/api/v1/users/{uid}/calendar/revoke",  # the token acts as alice: her own feed
}  # fmt: skip
ADMIN_PAGES = {"/services/{service_id}/maintenance", "/maintenance/{window_id}/end"}


def _acts(run: Any, seq: int) -> list[str]:
    """What was journaled after `seq` other than the incident's own paging, which goes on
    by itself (escalation, notifications, bundles) while the test asks."""
    own = ("notification.", "bundle.", "incident.escalated", "incident.user_paged")
    return [r.type for r in run.system.log.read_from(seq + 1) if not r.type.startswith(own)]


def _fill(path: str, inc: str) -> str:
    values = {"incident_id": inc, "sid": "primary", "oid": "ov-1", "uid": "alice",
              "service_id": "checkout", "window_id": "mw-1", "name": "nightly"}  # fmt: skip
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


async def test_every_change_needs_its_role_and_every_form_its_token(tmp_path: Path) -> None:
    api_ops = [o for o in OPS if o.method in CHANGES and o.path.startswith("/api/v1/")]
    page_ops = [o for o in OPS if o.method in CHANGES and o.tag == "dashboard"]
    assert len(api_ops) >= 15 and len(page_ops) >= 9  # the table is what is tested
    with trio.fail_after(120):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
            httpx.AsyncClient() as alice,
            httpx.AsyncClient() as bob,
        ):
            base = run.urls[0]
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("matrix-1"))
            assert r.status_code == 202
            await until(run, lambda s: bool(s.incidents))
            inc = next(iter(run.system.state.incidents))
            seq = run.system.log.last_seq

            for op in api_ops:
                url = base + _fill(op.path, inc)
                for token, refused in (
                    (VIEWER_TOKEN, True),
                    (RESPONDER_TOKEN, op.path not in RESPONDER_API),
                ):
                    if not refused:
                        continue
                    r = await client.request(
                        op.method, url, headers={"Authorization": f"Bearer {token}"}, json={}
                    )
                    assert r.status_code == 403, (op.method, op.path, token, r.text)
            assert not _acts(run, seq), "a refused request was journaled"

            a_csrf = await sign_in(alice, base, "alice")
            b_csrf = await sign_in(bob, base, "bob")
            for op in page_ops:
                if op.path == "/login":
                    continue  # its own double-submit token: test_dashboard_signin
                url = base + _fill(op.path, inc)
                # without the token, whoever asks
                for who in (alice, bob):
                    r = await who.request(op.method, url, data={"for": "1h", "level": "2",
                                                                "text": "x"})  # fmt: skip
                    assert r.status_code == 403, (op.path, r.text[:200])
                if op.path == "/logout":
                    continue  # a viewer may sign out
                r = await bob.request(op.method, url, data={"csrf": b_csrf, "for": "1h"})
                assert r.status_code == 403 and "role" in r.text, op.path
                if op.path in ADMIN_PAGES:
                    r = await alice.request(op.method, url, data={"csrf": a_csrf, "for": "1h"})
                    assert r.status_code == 403 and "admin role" in r.text, op.path
            assert not _acts(run, seq), "a refused form was journaled"
            # the sessions still work: nothing above signed anyone out
            assert (await alice.get(f"{base}/")).status_code == 200


async def test_every_form_from_another_site_is_refused_even_with_its_token(
    tmp_path: Path,
) -> None:
    """A second line behind the CSRF token: a form posted from a page of another site (the
    browser's `Origin`, or `Sec-Fetch-Site: cross-site`) is refused (403) whatever it carries,
    even an admin's right token; pager's own Origin (the address asked, or public_url), and
    a request without either header (not a browser, or an old one), are served."""
    page_ops = [o for o in OPS if o.method in CHANGES and o.tag == "dashboard"]
    page_ops = [o for o in page_ops if o.path not in ("/login", "/logout")]
    with trio.fail_after(120):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
            httpx.AsyncClient() as carol,
        ):
            base = run.urls[0]
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("origin-1"))
            assert r.status_code == 202
            await until(run, lambda s: bool(s.incidents))
            inc = next(iter(run.system.state.incidents))
            csrf = await sign_in(carol, base, "carol")
            seq = run.system.log.last_seq
            form = {"csrf": csrf, "for": "1h", "level": "2", "text": "x"}
            for op in page_ops:
                url = base + _fill(op.path, inc)
                for headers in (
                    {"Origin": "https://evil.example"},
                    {"Origin": "null"},
                    {"Origin": base.replace("127.0.0.1", "localhost")},
                    {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": base, "Sec-Fetch-Site": "cross-site"},
                ):
                    r = await carol.request(op.method, url, data=form, headers=headers)
                    assert r.status_code == 403, (op.path, headers, r.status_code)
                    assert "another site" in r.text, r.text[:300]
            assert not _acts(run, seq), "a form from another site was journaled"
            # pager's own pages: the address asked, public_url, or no Origin at all
            notes = f"{base}/incidents/{inc}/notes"
            for headers in (
                {"Origin": base, "Sec-Fetch-Site": "same-origin"},
                {"Origin": "http://pager.test"},
                {},
            ):
                r = await carol.post(notes, data={**form, "text": str(headers)}, headers=headers)
                assert r.status_code == 303, (headers, r.text[:300])
            # the sign-out form too
            r = await carol.post(
                f"{base}/logout", data=form, headers={"Origin": "https://x.example"}
            )
            assert r.status_code == 403
            assert (await carol.get(f"{base}/")).status_code == 200
