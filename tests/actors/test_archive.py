"""Resolved incidents archived as summaries: a snapshot holds them as rows, start-up loads
rows, and asking for one in full rebuilds it from the log — the same value as before, with
its timeline and notifications; a note on an archived incident works; a late delivery
receipt for one lands in the log; replay --verify agrees with the snapshot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import trio
import trio.testing

from pager.core.archive import IncidentSummary

from ..harness import auth, make_config, running_pager, until


async def post(client: httpx.AsyncClient, base: str, key: str) -> None:
    r = await client.post(
        f"{base}/integrations/generic/gen-checkout", json={"title": f"t {key}", "dedup_key": key}
    )
    assert r.status_code == 202, r.text


async def settle(run) -> None:  # type: ignore[no-untyped-def]
    """Until every notification has its outcome (the console delivers at once)."""
    await until(run, lambda st: not st.notifications.pending.get("console"))


async def test_archived_incidents_survive_restart_and_rebuild_from_the_log(tmp_path: Path) -> None:
    # (three pages to alice in a second: each goes alone, not bundled a minute later)
    config = make_config(tmp_path / "data", extra="bundling: {after: 10}\n")
    with trio.fail_after(30):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            for key in ("a", "b", "c"):
                await post(client, base, key)
            await settle(run)
            for iid in ("inc-1", "inc-2"):
                r = await client.post(
                    f"{base}/api/v1/incidents/{iid}/resolve", json={"by": "alice"}, headers=auth()
                )
                assert r.status_code == 200
            await settle(run)
            before = (await client.get(f"{base}/api/v1/incidents/inc-1", headers=auth())).json()
            state = run.system.state
            assert state.compact(run.system.clock.now() + timedelta(hours=1)) == 2
            assert set(state.archive) == {"inc-1", "inc-2"} and "inc-1" not in state.incidents
            assert state.notifications.for_incident("inc-1") == []
            # the list shows archived rows; the detail rebuilds the incident from the log
            r = await client.get(f"{base}/api/v1/incidents", headers=auth())
            assert [(i["id"], i["status"]) for i in r.json()["incidents"]] == [
                ("inc-3", "triggered"), ("inc-2", "resolved"), ("inc-1", "resolved"),
            ]  # fmt: skip
            again = (await client.get(f"{base}/api/v1/incidents/inc-1", headers=auth())).json()
            assert again == before
            assert "inc-1" in state.incidents  # rebuilt and kept
            await run.system.log.save_snapshot(
                state.last_seq, run.system.clock.now(), state.to_snapshot()
            )
        snapshot_seq = run.system.log.last_seq

        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            state = run.system.state
            assert run.load.snapshot_seq is not None and run.load.snapshot_seq >= snapshot_seq - 1
            assert isinstance(state.archive["inc-2"], IncidentSummary)
            assert "inc-2" not in state.incidents and "inc-3" in state.incidents
            r = await client.get(
                f"{base}/api/v1/incidents", params={"status": "resolved"}, headers=auth()
            )
            assert [i["id"] for i in r.json()["incidents"]] == ["inc-2", "inc-1"]
            detail = (await client.get(f"{base}/api/v1/incidents/inc-1", headers=auth())).json()
            assert detail == before
            # a note on an archived incident: its actor rebuilds it first
            r = await client.post(
                f"{base}/api/v1/incidents/inc-2/notes", json={"text": "post-mortem"}, headers=auth()
            )
            assert r.status_code == 200 and r.json()["timeline"][-1]["text"] == "post-mortem"
            r = await client.post(f"{base}/api/v1/incidents/inc-2/acknowledge", headers=auth())
            assert r.status_code == 409
            # a new trigger for a resolved key opens a new incident
            await post(client, base, "a")
            r = await client.get(
                f"{base}/api/v1/incidents", params={"status": "open"}, headers=auth()
            )
            assert [i["id"] for i in r.json()["incidents"]] == ["inc-4", "inc-3"]

    from pager.cli import main

    assert main(["replay", "--data-dir", str(tmp_path / "data"), "--verify", "--quiet"]) == 0


async def test_a_late_event_for_an_archived_incident_extends_its_history() -> None:
    from datetime import UTC, datetime

    from pager.core.archive import summarize
    from pager.core.events import NoteAdded
    from pager.core.model import Incident, Status
    from pager.core.state import SystemState

    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    s = SystemState()
    inc = Incident(
        id="inc-9", number=9, short_code="ABC", service_id="s", dedup_key="k", integration="g",
        title="t", severity="critical", urgency="high", status=Status.RESOLVED,
        created_at=t0, updated_at=t0, opened_seq=3, last_seq=7,
    )  # fmt: skip
    s.archive["inc-9"] = summarize(inc)
    s.apply_event(NoteAdded(incident_id="inc-9", text="late"), 12, t0 + timedelta(hours=2))
    assert "inc-9" not in s.incidents
    assert s.archive["inc-9"].last_seq == 12 and s.archive["inc-9"].opened_seq == 3
    assert s.last_seq == 12
