"""The dashboard's incident page shows a paged person nobody could reach (issue 12 item 3):
whoever is on call at level 1 has only contact methods with no channel configured (SMS,
email), so both fail for good at once; the page names them under "Could not be reached",
the timeline says so, and level 2 (carol) was paged at once."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from pager.config import load_config_text

from ..harness import pd_trigger, running_pager, until
from .dashboard_helpers import dashboard_text, sign_in

CONSOLE = "notification_rules: [{after: 0m, via: console}]"
NOWHERE = "notification_rules: [{after: 0m, via: sms}, {after: 2m, via: email}]"


async def test_the_incident_page_shows_who_could_not_be_reached(tmp_path: Path) -> None:
    # alice and bob (the schedule's rotation) can be reached nowhere; carol by the console
    text = dashboard_text(tmp_path / "data").replace(CONSOLE, NOWHERE, 2)
    text = text.replace(
        "  - id: bob\n",
        '  - id: bob\n    contacts: {sms: "+15555550101", email: b@example.com}\n',
        1,
    )
    config = load_config_text(text, source="test")
    with trio.fail_after(60):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("gone", summary="Gone"))
            assert r.status_code == 202
            await until(run, lambda s: any(i.unreachable for i in s.incidents.values()))
            inc = next(iter(run.system.state.incidents.values()))
            (mark,) = inc.unreachable
            assert mark.tried == ("sms", "email")
            await until(
                run,
                lambda s: (
                    s.incidents[inc.id].escalation is not None
                    and s.incidents[inc.id].escalation.level == 1
                ),
            )
            await sign_in(client, base, "alice")
            page = (await client.get(f"{base}/incidents/{inc.id}")).text
            assert "Could not be reached" in page
            assert "every contact method failed (sms, email)" in page
            assert f"{mark.user_id} could not be reached: sms, email failed" in page
            assert "Level 2" in page and "← now" in page
