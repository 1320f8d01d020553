"""The dashboard over HTTP: every page redirects to /login when not signed in and answers
200 when signed in; every action needs its role (a viewer gets 403 and no buttons), the
session's CSRF token (403 without) and is journaled as the person `via web`; sign-in
refuses wrong passwords, is throttled, and sessions survive a restart and end at sign-out."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import quote

import httpx
import trio

from pager.core.model import Status

from ..harness import auth, pd_trigger, running_pager, until
from .dashboard_helpers import PASSWORDS, csrf_of, dashboard_config, sign_in

PAGES = ["/", "/oncall", "/schedules", "/schedules/primary", "/notifications", "/services"]


async def _incident(run, client: httpx.AsyncClient, key: str = "dash-1") -> str:  # type: ignore[no-untyped-def]
    base = run.urls[0]
    r = await client.post(f"{base}/v2/enqueue", json=pd_trigger(key, summary=f"Disk full {key}"))
    assert r.status_code == 202
    await until(run, lambda s: any(i.dedup_key == key for i in s.incidents.values()))
    return next(i.id for i in run.system.state.incidents.values() if i.dedup_key == key)


async def test_pages_need_a_session_and_render(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            inc = await _incident(run, client)
            for page in [*PAGES, f"/incidents/{inc}", "/incidents/rows"]:
                r = await client.get(f"{base}{page}")
                back = "" if page == "/" else "?next=" + quote(page, safe="")
                assert r.status_code == 303 and r.headers["location"] == "/login" + back, page
            # a bearer token is not a session
            r = await client.get(f"{base}/", headers=auth())
            assert r.status_code == 303
            await sign_in(client, base, "alice")
            for page in [*PAGES, f"/incidents/{inc}"]:
                r = await client.get(f"{base}{page}")
                assert r.status_code == 200, (page, r.text[:300])
                assert "text/html" in r.headers["content-type"]
                assert "Content-Security-Policy" in r.headers
            home = (await client.get(f"{base}/")).text
            assert "Disk full dash-1" in home and 'data-action="acknowledge"' in home
            # filters and search
            assert "Disk full" not in (await client.get(f"{base}/?status=resolved")).text
            assert "Disk full" not in (await client.get(f"{base}/?service=payments")).text
            assert "Disk full" in (await client.get(f"{base}/?q=disk")).text
            assert "Disk full" not in (await client.get(f"{base}/?q=nomatch")).text
            assert (await client.get(f"{base}/?status=bogus")).status_code == 400
            rows = await client.get(f"{base}/incidents/rows?status=open")
            assert rows.status_code == 200 and "Disk full dash-1" in rows.text
            detail = (await client.get(f"{base}/incidents/{inc}")).text
            assert "Level 1" in detail and "Next step" in detail and "Escalate to level 2" in detail
            services = (await client.get(f"{base}/services")).text
            assert "http://pager.test/v2/enqueue" in services
            # keys are credentials: a responder sees where to send, not the keys
            assert "am-checkout" not in services and "R0UT1NGKEY" not in services
            assert (await client.get(f"{base}/incidents/inc-999")).status_code == 404
            assert (await client.get(f"{base}/schedules/nope")).status_code == 404
            r = await client.get(f"{base}/static/vendor/htmx-2.0.4.min.js")
            assert r.status_code == 200 and "htmx" in r.text


async def test_actions_roles_and_csrf(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as alice,
            httpx.AsyncClient() as bob,
            httpx.AsyncClient() as carol,
        ):
            base = run.urls[0]
            inc = await _incident(run, alice)
            a_csrf = await sign_in(alice, base, "alice")
            b_csrf = await sign_in(bob, base, "bob")
            c_csrf = await sign_in(carol, base, "carol")
            state = run.system.state

            # the viewer sees no buttons and is refused if it posts anyway
            page = (await bob.get(f"{base}/incidents/{inc}")).text
            assert "data-action=" not in page
            assert 'data-action="acknowledge"' in (await alice.get(f"{base}/incidents/{inc}")).text
            for verb, form in [
                ("acknowledge", {}), ("resolve", {}), ("snooze", {"for": "1h"}),
                ("escalate", {"level": "2"}), ("notes", {"text": "x"}),
            ]:  # fmt: skip
                r = await bob.post(f"{base}/incidents/{inc}/{verb}", data={"csrf": b_csrf, **form})
                assert r.status_code == 403, verb
                assert "Not allowed" in r.text and "responder role" in r.text  # a page, not JSON
            assert state.incidents[inc].status is Status.TRIGGERED

            # without the CSRF token, or with another session's, refused
            url = f"{base}/incidents/{inc}/acknowledge"
            assert (await alice.post(url, data={})).status_code == 403
            assert (await alice.post(url, data={"csrf": c_csrf})).status_code == 403
            assert state.incidents[inc].status is Status.TRIGGERED
            # not signed in: to the sign-in page, nothing done
            async with httpx.AsyncClient() as anonymous:
                r = await anonymous.post(url, data={"csrf": a_csrf})
            assert r.status_code == 303 and r.headers["location"] == "/login"

            r = await alice.post(
                f"{base}/incidents/{inc}/notes", data={"csrf": a_csrf, "text": "looking"}
            )
            assert r.status_code == 303
            r = await alice.post(f"{url}?next=/%3Fstatus%3Dopen", data={"csrf": a_csrf})
            assert r.status_code == 303 and r.headers["location"] == "/?status=open"
            assert state.incidents[inc].acknowledged_by == "alice"
            page = (await alice.get(f"{base}/incidents/{inc}")).text
            assert "Acknowledged by alice via web" in page
            assert "Note by alice via web" in page or "looking" in page
            api = (await alice.get(f"{base}/api/v1/incidents/{inc}", headers=auth())).json()
            assert api["status"] == "acknowledged" and api["acknowledged_by"] == "alice"
            assert any(t["via"] == "web" and t["by"] == "alice" for t in api["timeline"])

            r = await alice.post(
                f"{base}/incidents/{inc}/snooze", data={"csrf": a_csrf, "for": "1h"}
            )
            assert r.status_code == 303 and state.incidents[inc].snoozed_until is not None
            r = await alice.post(
                f"{base}/incidents/{inc}/snooze", data={"csrf": a_csrf, "for": "9d"}
            )
            assert r.status_code == 400
            r = await alice.post(
                f"{base}/incidents/{inc}/escalate", data={"csrf": a_csrf, "level": "2"}
            )
            assert r.status_code in (303, 409)
            r = await alice.post(
                f"{base}/incidents/{inc}/resolve", data={"csrf": a_csrf, "next": "//evil"}
            )
            assert r.status_code == 303 and state.incidents[inc].resolved_by == "alice"
            r = await alice.post(
                f"{base}/incidents/{inc}/notes?next=//evil.example",
                data={"csrf": a_csrf, "text": "done"},
            )
            assert (
                r.status_code == 303 and r.headers["location"] == f"/incidents/{inc}"
            )  # not off-site

            # maintenance: admins only
            mw = f"{base}/services/checkout/maintenance"
            assert (await alice.post(mw, data={"csrf": a_csrf, "for": "1h"})).status_code == 403
            assert (await carol.post(mw, data={"for": "1h"})).status_code == 403
            assert state.maintenance == {}
            r = await carol.post(mw, data={"csrf": c_csrf, "for": "1h", "reason": "deploy"})
            assert r.status_code == 303
            (window,) = state.maintenance.values()
            assert window.by == "carol" and window.reason == "deploy"
            assert "End now" in (await carol.get(f"{base}/services")).text
            assert "End now" not in (await alice.get(f"{base}/services")).text
            end = f"{base}/maintenance/{window.id}/end"
            assert (await alice.post(end, data={"csrf": a_csrf})).status_code == 403
            assert (await carol.post(end, data={"csrf": c_csrf})).status_code == 303
            assert state.maintenance == {}


async def test_sign_in_refused_throttled_and_sessions_survive_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with trio.fail_after(60):
        async with running_pager(dashboard_config(data)) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            form = await client.get(f"{base}/login")
            token = csrf_of(form.text)
            # without the sign-in form's token
            r = await client.post(
                f"{base}/login", data={"user": "alice", "password": PASSWORDS["alice"]}
            )
            assert r.status_code == 403
            token = csrf_of(r.text)
            for _ in range(3):  # signin_attempts: 3 in the test configuration
                r = await client.post(
                    f"{base}/login", data={"user": "alice", "password": "wrong", "csrf": token}
                )
                assert r.status_code == 401 and "Wrong user or password" in r.text
                token = csrf_of(r.text)  # each form comes with a fresh token
            # now even the right password is refused for a while
            r = await client.post(
                f"{base}/login",
                data={"user": "alice", "password": PASSWORDS["alice"], "csrf": token},
            )
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            token = csrf_of(r.text)
            assert "pager_session" not in client.cookies
            # another user is not held up by alice's failures
            other = httpx.AsyncClient()
            csrf = await sign_in(other, base, "carol")
            session = other.cookies["pager_session"]
            path = data / "web-sessions.json"
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert session not in path.read_text()  # only its hash is kept
            # one address spraying names is held up too (4 x signin_attempts)
            for n in range(9):  # with alice's 3: 12 from this address
                r = await client.post(
                    f"{base}/login", data={"user": f"u{n}", "password": "x", "csrf": token}
                )
                assert r.status_code == 401
                token = csrf_of(r.text)
            r = await client.post(
                f"{base}/login", data={"user": "bob", "password": PASSWORDS["bob"], "csrf": token}
            )
            assert r.status_code == 429
        # a restart on the same data dir: the session still works
        async with running_pager(dashboard_config(data)) as run:
            base = run.urls[0]
            r = await other.get(f"{base}/")
            assert r.status_code == 200 and "carol" in r.text
            r = await other.post(f"{base}/logout", data={"csrf": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/login"
            other.cookies.set("pager_session", session)  # a copy of the ended cookie
            assert (await other.get(f"{base}/")).status_code == 303
            await other.aclose()


async def test_sign_in_by_email_and_cookie_flags(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            form = await client.get(f"{base}/login")
            r = await client.post(
                f"{base}/login",
                data={"user": "alice@example.com", "password": PASSWORDS["alice"],
                      "csrf": csrf_of(form.text)},
            )  # fmt: skip
            assert r.status_code == 303
            cookie = next(
                v for k, v in r.headers.multi_items() if k == "set-cookie" and "pager_session=" in v
            ).lower()
            assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    with trio.fail_after(30):
        config = dashboard_config(tmp_path / "data2", public_url="https://pager.example")
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            r = await client.get(f"{run.urls[0]}/login")
            cookie = r.headers["set-cookie"].lower()
            assert "pager_login=" in cookie and "secure" in cookie and "httponly" in cookie
