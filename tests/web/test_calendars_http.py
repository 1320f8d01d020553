"""Calendar feeds on a running pager, parsed with the `icalendar` library: the schedule's
final shifts across New York's spring-forward (8 March 2026) at the right instants, an API
override shown in it and in the person's feed, a person's feed holding only their shifts,
revocation (the old URL 404s, also after a restart; the new one works), and every refusal
the same 404 as an unknown path, with no token in the logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import icalendar
import pytest
import trio

from pager.clock import TrioWallClock
from pager.config import Config, load_config_text
from pager.core.calendars import feed_token

from ..harness import EPOCH, auth, config_text, running_pager
from .dashboard_helpers import RESPONDER_TOKEN, VIEWER_TOKEN, dashboard_text

SECRET = "calendar-secret-for-tests"


def calendar_config(data_dir: Path, secret: str | None = SECRET) -> Config:
    text = config_text(data_dir)
    if secret is not None:
        text = text.replace(
            "  link_secret: test-link-secret\n",
            f"  link_secret: test-link-secret\n  calendar_secret: {secret}\n",
        )
    return load_config_text(text, source="tests/web/test_calendars_http.py")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def events(r: httpx.Response) -> list[tuple[datetime, datetime, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(r.text)
    out = []
    for ev in calendar.walk("VEVENT"):
        start, end = ev.decoded("DTSTART"), ev.decoded("DTEND")
        assert start.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
        out.append((start, end, str(ev["SUMMARY"])))
    return out


def uids(r: httpx.Response) -> dict[datetime, str]:
    calendar = icalendar.Calendar.from_ical(r.text)
    return {ev.decoded("DTSTART"): str(ev["UID"]) for ev in calendar.walk("VEVENT")}


async def feed_urls(client: httpx.AsyncClient, base: str, *paths: str) -> list[str]:
    urls = []
    for path in paths:
        r = await client.get(f"{base}/api/v1/{path}/calendar", headers=auth())
        assert r.status_code == 200, r.text
        assert r.json()["feed"] == path
        url: str = r.json()["url"]
        assert url.startswith(f"http://pager.test/ical/{path}/") and url.endswith(".ics")
        urls.append(url.replace("http://pager.test", base))
    return urls


async def test_feeds_across_dst_with_an_override_and_revocation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = calendar_config(tmp_path / "data")
    # now: Monday 2 March 2026, 03:00 UTC (Sunday 22:00 in New York); clocks spring forward
    # on Sunday 8 March. primary hands over on Mondays 09:00 New York time: alice, bob, ...
    clock = TrioWallClock(EPOCH)
    tokens: list[str] = []
    with trio.fail_after(30):
        async with (
            running_pager(config, clock=clock) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            schedule_url, alice_url, carol_url = await feed_urls(
                client, base, "schedules/primary", "users/alice", "users/carol"
            )
            tokens += [u.rsplit("/", 1)[1].removesuffix(".ics") for u in (schedule_url, alice_url)]
            r = await client.get(schedule_url, params={"weeks": 2})
            # the window: local midnights from 22 February (7 days back) to 16 March
            assert events(r) == [
                (utc(2026, 2, 22, 5), utc(2026, 2, 23, 14), "alice on call"),
                (utc(2026, 2, 23, 14), utc(2026, 3, 2, 14), "bob on call"),
                # 09:00 EST to 09:00 EDT: a week one hour short
                (utc(2026, 3, 2, 14), utc(2026, 3, 9, 13), "alice on call"),
                (utc(2026, 3, 9, 13), utc(2026, 3, 16, 4), "bob on call"),
            ]
            before = uids(r)
            assert len(events(await client.get(schedule_url))) > 4  # default: 8 weeks

            # an override through the API shows in the schedule's feed and carol's
            r = await client.post(
                f"{base}/api/v1/schedules/primary/overrides",
                json={"user": "carol", "start": "2026-03-10T13:00:00Z", "end": "2026-03-11T13:00:00Z"},
                headers=auth(),
            )  # fmt: skip
            assert r.status_code == 201, r.text
            r = await client.get(schedule_url, params={"weeks": 2})
            assert events(r)[3:] == [
                (utc(2026, 3, 9, 13), utc(2026, 3, 10, 13), "bob on call"),
                (utc(2026, 3, 10, 13), utc(2026, 3, 11, 13), "carol on call (override)"),
                (utc(2026, 3, 11, 13), utc(2026, 3, 16, 4), "bob on call"),
            ]
            after = uids(r)
            assert all(after[t] == before[t] for t in before)  # the same shifts, the same UIDs
            r = await client.get(carol_url, params={"weeks": 2})
            assert events(r) == [
                (utc(2026, 3, 10, 13), utc(2026, 3, 11, 13), "On call: primary (override)")
            ]
            # alice's feed: only her shifts, in days of her own zone (UTC)
            r = await client.get(alice_url, params={"weeks": 2})
            assert events(r) == [
                (utc(2026, 2, 23, 0), utc(2026, 2, 23, 14), "On call: primary"),
                (utc(2026, 3, 2, 14), utc(2026, 3, 9, 13), "On call: primary"),
                (utc(2026, 3, 16, 13), utc(2026, 3, 17, 0), "On call: primary"),
            ]

            # bad weeks (with a good token) is a 400; refusals are the unknown path's 404
            for weeks in ("0", "53", "x", "-1"):
                r = await client.get(schedule_url, params={"weeks": weeks})
                assert r.status_code == 400 and "weeks" in r.text
            unknown = await client.get(f"{base}/no/such/path")
            assert unknown.status_code == 404
            good = tokens[0]
            wrong = ("A" if good[0] != "A" else "B") + good[1:]
            for path in (
                f"/ical/schedules/primary/{wrong}.ics",
                f"/ical/schedules/nope/{good}.ics",
                f"/ical/users/primary/{good}.ics",
                f"/ical/teams/primary/{good}.ics",
                f"/ical/schedules/primary/{good}",
                f"/ical/users/alice/{good}.ics",  # the schedule's token for alice's feed
            ):
                r = await client.get(f"{base}{path}")
                assert (r.status_code, r.text) == (404, unknown.text), path

            # revoking a feed: its old URL is gone, a new one works; other feeds keep theirs
            r = await client.post(f"{base}/api/v1/schedules/primary/calendar/revoke")
            assert r.status_code == 401
            seq = run.system.state.last_seq
            r = await client.post(
                f"{base}/api/v1/schedules/primary/calendar/revoke", headers=auth()
            )
            assert r.status_code == 200 and r.json()["status"] == "revoked"
            assert run.system.state.last_seq == seq + 1
            new_url = r.json()["url"].replace("http://pager.test", base)
            assert new_url != schedule_url
            tokens.append(new_url.rsplit("/", 1)[1].removesuffix(".ics"))
            r = await client.get(schedule_url)
            assert (r.status_code, r.text) == (404, unknown.text)
            assert events(await client.get(new_url, params={"weeks": 2}))[0][2] == "alice on call"
            assert (await client.get(alice_url)).status_code == 200
            assert await feed_urls(client, base, "schedules/primary") == [new_url]
            r = await client.get(f"{base}/api/v1/schedules/nope/calendar", headers=auth())
            assert r.status_code == 404
            r = await client.get(f"{base}/api/v1/users/alice/calendar")
            assert r.status_code == 401

        # a restart keeps the revocation (journaled)
        async with (
            running_pager(config, clock=clock) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            old = schedule_url.replace(schedule_url.split("/ical/")[0], base)
            assert (await client.get(old)).status_code == 404
            new = new_url.replace(new_url.split("/ical/")[0], base)
            assert (await client.get(new)).status_code == 200
            alice = alice_url.replace(alice_url.split("/ical/")[0], base)
            assert (await client.get(alice)).status_code == 200
            # a new calendar_secret (a reload) revokes every feed at once
            await run.system.reload(calendar_config(tmp_path / "data", "another-secret"), "test")
            for url in (new, alice):
                assert (await client.get(url)).status_code == 404
            (rotated,) = await feed_urls(client, base, "users/alice")
            assert rotated != alice and (await client.get(rotated)).status_code == 200

    # what pager and its HTTP server logged (the test's own client logs the URLs it asks for)
    logged = "\n".join(
        f"{r.getMessage()} {r.args!r}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "calendar feed schedules/primary revoked" in logged
    for token in tokens:
        assert token not in logged


async def test_no_feeds_without_a_calendar_secret(tmp_path: Path) -> None:
    config = calendar_config(tmp_path / "data", secret=None)
    with trio.fail_after(30):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await client.get(f"{base}/api/v1/schedules/primary/calendar", headers=auth())
            assert r.status_code == 409 and "calendar_secret" in r.json()["message"]
            r = await client.post(f"{base}/api/v1/users/alice/calendar/revoke", headers=auth())
            assert r.status_code == 409
            unknown = await client.get(f"{base}/no/such/path")
            # the token that a secret of "-" would give: refused all the same
            for secret in ("-", SECRET):
                token = feed_token(secret, "schedules", "primary", 0)
                r = await client.get(f"{base}/ical/schedules/primary/{token}.ics")
                assert (r.status_code, r.text) == (404, unknown.text)


async def test_a_feed_url_is_shown_to_its_person_its_schedule_and_admins(tmp_path: Path) -> None:
    """A feed's URL is a credential a calendar app keeps, working after its holder's token
    is gone: a person's is theirs and the admins', a schedule's the people on it and the
    admins'. A viewer's token (no user) sees neither; alice's token sees hers and her
    schedule's, not bob's; an admin's every one."""
    text = dashboard_text(tmp_path / "data", auth_extra=f"  calendar_secret: {SECRET}\n")
    config = load_config_text(text, source="test_a_feed_url_is_shown_to_its_person")
    paths = ("users/alice", "users/bob", "schedules/primary")
    expected = {
        VIEWER_TOKEN: (403, 403, 403),
        RESPONDER_TOKEN: (200, 403, 200),  # alice's token; alice is on primary
        auth()["Authorization"].split()[1]: (200, 200, 200),
    }
    with trio.fail_after(30):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            for token, statuses in expected.items():
                got = []
                for path in paths:
                    r = await client.get(
                        f"{base}/api/v1/{path}/calendar",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    got.append(r.status_code)
                    if r.status_code == 403:
                        assert "/ical/" not in r.text and "calendar feed URL is for" in r.text
                assert tuple(got) == statuses, (token, got)


async def test_an_override_that_ended_makes_no_member_of_the_schedule(tmp_path: Path) -> None:
    """Someone who covered a shift once is not one of the schedule's people for good: an
    override that ended gives no sight of its feed URL; one that has not ended does."""
    base_text = dashboard_text(tmp_path / "data", auth_extra=f"  calendar_secret: {SECRET}\n")
    layers = "        users: [alice, bob]\n"
    assert layers in base_text
    alice = {"Authorization": f"Bearer {RESPONDER_TOKEN}"}  # alice's token
    for span, status in (
        ("start: 2020-01-01T00:00:00Z, end: 2020-01-02T00:00:00Z", 403),  # long over
        ("start: 2020-01-01T00:00:00Z, end: 2099-01-01T00:00:00Z", 200),  # on now
        ("start: 2098-01-01T00:00:00Z, end: 2099-01-01T00:00:00Z", 200),  # to come
    ):
        rotation = '        rotation: {every: 1w, handoff: "monday 09:00", start: 2026-01-05}\n'
        text = base_text.replace(layers, "        users: [bob]\n").replace(
            rotation, f"{rotation}    overrides:\n      - {{user: alice, {span}}}\n"
        )
        config = load_config_text(text, source="test_an_override_that_ended")
        with trio.fail_after(30):
            async with running_pager(config) as run, httpx.AsyncClient() as client:
                r = await client.get(
                    f"{run.urls[0]}/api/v1/schedules/primary/calendar", headers=alice
                )
                assert r.status_code == status, (span, r.text)
