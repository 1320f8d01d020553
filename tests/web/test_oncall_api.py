"""`GET /api/v1/oncall` and `GET /api/v1/schedules/{id}/shifts` over HTTP: who is on call
with the covering shift in UTC and local time, gaps reported, across a DST change."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from ..harness import auth, running_pager

GAPPY = """
  - id: office
    timezone: Europe/Berlin
    layers:
      - name: days
        users: [alice, bob]
        rotation: {every: 1d, handoff: "09:00", start: 2026-03-02}
        restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
"""


def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    # add a second schedule to the harness's list of schedules
    from pager.config import load_config_text

    from ..harness import config_text

    text = config_text(tmp_path / "data").replace(
        "escalation_policies:", GAPPY.lstrip("\n") + "escalation_policies:", 1
    )
    return load_config_text(text)


async def test_oncall_names_the_person_and_the_shift_in_utc_and_local_time(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running_pager(config(tmp_path)) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            # primary: weekly Monday 09:00 New York handoffs from 2026-01-05, alice then bob.
            # 2026-03-09 is the week after the US spring-forward (Sunday 2026-03-08).
            r = await client.get(
                f"{base}/api/v1/oncall",
                params={"schedule": "primary", "at": "2026-03-10T12:00:00Z"},
                headers=auth(),
            )
            assert r.status_code == 200, r.text
            (oc,) = r.json()["oncall"]
            assert oc["user"] == "bob" and oc["gap"] is False  # Jan 5 + 9 weeks: turn 9, bob
            shift = oc["shift"]
            assert shift["start"]["local"] == "2026-03-09T09:00:00-04:00"  # EDT now
            assert shift["start"]["utc"] == "2026-03-09T13:00:00+00:00"
            assert shift["end"]["local"] == "2026-03-16T09:00:00-04:00"
            # the week before the change: 09:00 EST is 14:00 UTC
            r = await client.get(
                f"{base}/api/v1/oncall",
                params={"schedule": "primary", "at": "2026-03-04T12:00:00Z"},
                headers=auth(),
            )
            (oc,) = r.json()["oncall"]
            assert oc["user"] == "alice"
            assert oc["shift"]["start"]["utc"] == "2026-03-02T14:00:00+00:00"
            assert oc["shift"]["end"]["utc"] == "2026-03-09T13:00:00+00:00"  # 09:00 EDT


async def test_gaps_are_reported_on_oncall_and_shifts(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running_pager(config(tmp_path)) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            # Saturday: the office schedule covers weekdays 09-17 only
            r = await client.get(
                f"{base}/api/v1/oncall",
                params={"schedule": "office", "at": "2026-03-07T10:00:00Z"},
                headers=auth(),
            )
            (oc,) = r.json()["oncall"]
            assert oc["user"] is None and oc["gap"] is True
            assert oc["next"]["start"]["local"] == "2026-03-09T09:00:00+01:00"
            r = await client.get(
                f"{base}/api/v1/schedules/office/shifts",
                params={"from": "2026-03-02T00:00:00+01:00", "to": "2026-03-04T00:00:00+01:00"},
                headers=auth(),
            )
            body = r.json()
            assert [
                (s["user"], s["start"]["local"], s["end"]["local"]) for s in body["shifts"]
            ] == [
                ("alice", "2026-03-02T09:00:00+01:00", "2026-03-02T17:00:00+01:00"),
                ("bob", "2026-03-03T09:00:00+01:00", "2026-03-03T17:00:00+01:00"),
            ]
            assert [g["start"]["local"] for g in body["gaps"]] == [
                "2026-03-02T00:00:00+01:00",
                "2026-03-02T17:00:00+01:00",
                "2026-03-03T17:00:00+01:00",
            ]
            # all schedules at once, and the errors
            r = await client.get(
                f"{base}/api/v1/oncall", params={"at": "2026-03-04T12:00:00Z"}, headers=auth()
            )
            assert [o["schedule"] for o in r.json()["oncall"]] == ["primary", "office"]
            r = await client.get(f"{base}/api/v1/schedules/nope/shifts", headers=auth())
            assert r.status_code == 404
            r = await client.get(
                f"{base}/api/v1/schedules/office/shifts",
                params={"from": "2026-01-01T00:00:00Z", "to": "2027-06-01T00:00:00Z"},
                headers=auth(),
            )
            assert r.status_code == 400 and "366 days" in r.json()["message"]
            r = await client.get(
                f"{base}/api/v1/oncall", params={"at": "yesterday"}, headers=auth()
            )
            assert r.status_code == 400 and r.json()["message"].startswith("at:")
