"""The incident page as a person reads it at 3 a.m.: the status line says who acknowledged
and how ("Acknowledged by alice via web", "... via api"), every notification is listed
with its attempts and receipts, the notifications log names incidents by code and title,
and a viewer is told why there are no buttons."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import trio

from ..harness import auth, pd_trigger, running_pager, until
from .dashboard_helpers import dashboard_config, sign_in


def _status_line(html: str) -> str:
    m = re.search(r'<p class="meta" id="incident-status">(.*?)</p>', html, re.S)
    assert m, "no status line"
    return re.sub(r"<[^>]+>", "", m.group(1))


async def test_the_status_line_says_who_and_how(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as alice,
            httpx.AsyncClient() as bob,
        ):
            base = run.urls[0]
            for key in ("web-1", "api-1"):
                r = await alice.post(f"{base}/v2/enqueue", json=pd_trigger(key, summary=key))
                assert r.status_code == 202
            await until(run, lambda s: len(s.incidents) == 2)
            ids = {i.dedup_key: i.id for i in run.system.state.incidents.values()}
            await until(run, lambda s: len(s.notifications.by_id) >= 2)
            csrf = await sign_in(alice, base, "alice")
            page = (await alice.get(f"{base}/incidents/{ids['web-1']}")).text
            assert "Not acknowledged" in _status_line(page)
            r = await alice.post(
                f"{base}/incidents/{ids['web-1']}/acknowledge", data={"csrf": csrf}
            )
            assert r.status_code == 303
            page = (await alice.get(f"{base}/incidents/{ids['web-1']}")).text
            assert "Acknowledged by alice via web" in _status_line(page)
            assert "Escalation waits while the incident is acknowledged." in page
            assert "<strong> ← now</strong>" in page
            r = await alice.post(
                f"{base}/api/v1/incidents/{ids['api-1']}/acknowledge",
                headers=auth(),
                json={"by": "carol"},
            )
            assert r.status_code == 200
            page = (await alice.get(f"{base}/incidents/{ids['api-1']}")).text
            assert "Acknowledged by carol via api" in _status_line(page)
            # the rows say it too
            home = (await alice.get(f"{base}/")).text
            assert (
                "Acknowledged by alice via web" in home and "Acknowledged by carol via api" in home
            )
            # every notification, with its attempts and what came back
            assert re.search(r"sent \(attempt 1\): console-", page), page
            log = (await alice.get(f"{base}/notifications")).text
            assert re.search(r'<a href="/incidents/inc-\d">#[A-Z0-9]{3} api-1</a>', log)
            # a viewer: no buttons, and a word on why
            await sign_in(bob, base, "bob")
            page = (await bob.get(f"{base}/incidents/{ids['web-1']}")).text
            assert 'id="viewer-note"' in page and '<button class="btn"' not in page
            assert 'name="text"' not in page  # nor the note form
            r = await alice.post(f"{base}/incidents/{ids['web-1']}/resolve", data={"csrf": csrf})
            assert r.status_code == 303
            page = (await alice.get(f"{base}/incidents/{ids['web-1']}")).text
            # a resolved incident's escalation is over, not waiting; its last level was reached
            assert "Escalation is over: the incident is resolved." in page
            assert "<strong> ← reached</strong>" in page and "← now" not in page


async def test_alert_details_read_as_keys_and_json_not_python(tmp_path: Path) -> None:
    """A detail that is itself a mapping (Alertmanager's `annotations`, PagerDuty's
    `custom_details`) is listed key by key, and what is deeper or not text as JSON: never
    Python's `{'k': 'v'}` or `True`."""
    with trio.fail_after(60):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as alice,
        ):
            base = run.urls[0]
            event = pd_trigger("nested", summary="nested")
            event["payload"]["custom_details"] = {
                "summary": "Checkout <5xx> above 5%",
                "hosts": ["db-1", "db-2"],
                "ok": True,
                "disk": {"used": "95%"},
            }
            r = await alice.post(f"{base}/v2/enqueue", json=event)
            assert r.status_code == 202
            await until(run, lambda s: len(s.incidents) == 1)
            (inc,) = run.system.state.incidents.values()
            await sign_in(alice, base, "alice")
            page = (await alice.get(f"{base}/incidents/{inc.id}")).text
            assert "{'" not in page and "True" not in page
            q = "&#34;"
            assert (
                '<dt>custom_details</dt><dd><dl class="facts">'
                "<dt>summary</dt><dd>Checkout &lt;5xx&gt; above 5%</dd>"
                f"<dt>hosts</dt><dd>[{q}db-1{q}, {q}db-2{q}]</dd>"
                "<dt>ok</dt><dd>true</dd>"
                f"<dt>disk</dt><dd>{{{q}used{q}: {q}95%{q}}}</dd></dl></dd>"
            ) in page, page


async def test_a_person_has_one_name_on_the_page(tmp_path: Path) -> None:
    """The status line, the timeline, the escalation levels and the notifications call a
    person by their display name (they said "Alice Example" in one place and "alice" in the
    other); the REST API keeps the ids."""
    from pager.config import load_config_text

    from .dashboard_helpers import dashboard_text

    text = dashboard_text(tmp_path / "data")
    for uid, name in (("alice", "Alice Example"), ("carol", "Carol Example")):
        text = text.replace(f"  - id: {uid}\n", f"  - id: {uid}\n    name: {name}\n", 1)
    with trio.fail_after(60):
        async with (
            running_pager(load_config_text(text, source="test")) as run,
            httpx.AsyncClient() as alice,
        ):
            base = run.urls[0]
            for key in ("web-1", "api-1"):
                r = await alice.post(f"{base}/v2/enqueue", json=pd_trigger(key, summary=key))
                assert r.status_code == 202
            await until(run, lambda s: len(s.notifications.by_id) >= 2)
            ids = {i.dedup_key: i.id for i in run.system.state.incidents.values()}
            csrf = await sign_in(alice, base, "alice")
            r = await alice.post(
                f"{base}/incidents/{ids['web-1']}/acknowledge", data={"csrf": csrf}
            )
            assert r.status_code == 303
            page = (await alice.get(f"{base}/incidents/{ids['web-1']}")).text
            assert "Acknowledged by Alice Example via web" in _status_line(page)
            m = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', page, re.S)
            assert m
            timeline = m.group(1)
            for said in (
                "Acknowledged by Alice Example via web",
                "Escalated to level 1: Alice Example; paging Alice Example",
                "Notifying Alice Example by console",
            ):
                assert said in timeline, (said, timeline)
            assert not re.search(r"\balice\b", timeline), timeline
            assert "user <strong>Carol Example</strong>" in page  # level 2's target
            assert '<td data-label="To">Alice Example</td>' in page

            # an action through the API: the token's name still follows the words
            r = await alice.post(
                f"{base}/api/v1/incidents/{ids['api-1']}/acknowledge",
                headers=auth(),
                json={"by": "carol"},
            )
            assert r.status_code == 200
            api_line = r.json()["timeline"][-1]
            assert (api_line["text"], api_line["by"]) == (
                "Acknowledged by carol via api (API token ops)",
                "carol",
            )
            page = (await alice.get(f"{base}/incidents/{ids['api-1']}")).text
            assert "Acknowledged by Carol Example via api" in _status_line(page)
            assert "Acknowledged by Carol Example via api (API token ops)" in page
