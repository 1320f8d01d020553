"""The times of a schedule as the dashboard and the API tell them, in several time zones: a
shift on now is shown from when it began (its handoff, 09:00 in the schedule's zone), not
from the top of the hour the page's 14 days start at (it read "from 9:00 PM (24 min ago)"
at 21:24 for a shift that began at 09:00), and until it ends; each time also in
the schedule's own zone; `/api/v1/oncall` and the on-call page say the same."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import trio

from pager.clock import TrioWallClock
from pager.config import Config, load_config_text

from ..harness import auth, running_pager
from .dashboard_helpers import dashboard_text, sign_in


def _config(data_dir: Path, zone: str) -> Config:
    text = dashboard_text(data_dir).replace("timezone: America/New_York", f"timezone: {zone}", 1)
    assert f"timezone: {zone}" in text
    return load_config_text(text, source="tests/web/test_dashboard_schedule_times.py")


def _rows(html: str) -> list[list[str]]:
    body = html.split("<h2>Shifts</h2>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "abbreviation"),
    [("America/New_York", "EST"), ("Asia/Kolkata", "IST"), ("Pacific/Auckland", "NZDT")],
)
async def test_the_shift_on_now_is_shown_from_its_handoff(
    tmp_path: Path, zone: str, abbreviation: str
) -> None:
    # primary: alice and bob, a week each, handing over on Mondays at 09:00 in `zone`
    # (from 5 January 2026, alice first); now: Wednesday, two days and 24 minutes after
    # the handoff of Monday 7 December 2026, alice's week (48 weeks on)
    tz = ZoneInfo(zone)
    handoff = datetime(2026, 12, 7, 9, 0, tzinfo=tz).astimezone(UTC)
    next_handoff = datetime(2026, 12, 14, 9, 0, tzinfo=tz).astimezone(UTC)
    clock = TrioWallClock(handoff + timedelta(days=2, minutes=24))
    with trio.fail_after(30):
        async with (
            running_pager(_config(tmp_path / "data", zone), clock=clock) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            await sign_in(client, base, "alice")
            page = (await client.get(f"{base}/schedules/primary")).text
            rows = _rows(page)
            # every shift whole: from a handoff to a handoff, 09:00 in the schedule's zone
            # (in Kolkata the page's first hour, from 08:30, still has last week's shift)
            for _, since, until, _ in rows:
                assert re.search(rf"Mon \d\d \w+ 09:00 {abbreviation}</small>", since), since
                assert re.search(rf"Mon \d\d \w+ 09:00 {abbreviation}</small>", until), until
            (now_row,) = [r for r in rows if f'<time datetime="{handoff.isoformat()}"' in r[1]]
            who, since, until, why = now_row
            assert (who, why) == ("alice", "weekly")
            assert "2 d ago" in since and "Mon 07 Dec 09:00" in since
            assert f'<time datetime="{next_handoff.isoformat()}"' in until, until
            assert "Mon 14 Dec 09:00" in until
            # the bars are still drawn from the top of this hour: the first at the left edge
            assert 'data-l="0.0"' in page

            r = await client.get(f"{base}/api/v1/oncall", headers=auth())
            (primary,) = r.json()["oncall"]
            assert primary["user"] == "alice"
            assert primary["shift"]["start"] == {
                "utc": handoff.isoformat(),
                "local": handoff.astimezone(tz).isoformat(),
            }
            assert primary["shift"]["end"]["utc"] == next_handoff.isoformat()
            oncall = (await client.get(f"{base}/oncall")).text
            assert f'until <time datetime="{next_handoff.isoformat()}"' in oncall
