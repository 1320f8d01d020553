"""journal.retention in a running pager, at explicit instants (the wall clock is the system's
shifted by a set offset, so records can be 200 days old without waiting): incidents resolved
200 days ago, a restart that archives them into summaries, then a pager with `retention:
90d` whose retention actor archives (or deletes) the old segments. Archived: the REST
detail of an old incident still has its whole timeline, `pager replay` reads the archive
(--incident, --verify). Deleted: the detail is a 410 that says why, the list keeps the
summary, replay starts from the snapshot and says so, and the stream from record 1 starts at
the oldest record kept."""

from __future__ import annotations

import shutil
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import trio

from pager.cli import main
from pager.store.segments import list_segments
from tests.harness import auth, make_config, running_pager

OLD = timedelta(days=-200)


class ShiftedClock:
    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def config(data: Path, retention: str = "") -> object:
    cfg = make_config(data, fsync=False, extra="")
    journal = cfg.journal.model_copy(update={"segment_size": 2048})
    if retention:
        keep, mode = retention.split()
        journal = journal.model_copy(
            update={"retention": timedelta(days=int(keep.rstrip("d"))), "retention_mode": mode}
        )
    return cfg.model_copy(update={"journal": journal})


async def old_history(data: Path) -> None:
    """Six incidents opened and resolved 200 days ago; then, today, one that stays open
    (the restart's last snapshot turns the old ones into summaries)."""
    async with running_pager(config(data), clock=ShiftedClock(OLD)) as run:
        c = httpx.AsyncClient(base_url=run.urls[0], headers=auth())
        async with c:
            for i in range(6):
                r = await c.post(
                    "/integrations/generic/gen-checkout",
                    json={"title": f"Disk full on db-{i}", "dedup_key": f"disk-{i}"},
                )
                assert r.status_code == 202
            for i in range(1, 7):
                r = await c.post(f"/api/v1/incidents/inc-{i}/resolve", json={"by": "alice"})
                assert r.status_code == 200
    async with running_pager(config(data), clock=ShiftedClock(timedelta(0))) as run:
        c = httpx.AsyncClient(base_url=run.urls[0])
        async with c:
            r = await c.post("/integrations/generic/gen-checkout", json={"title": "Fresh one"})
            assert r.status_code == 202


def replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["replay", "--quiet", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_archived_history_stays_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    with trio.fail_after(60):
        await old_history(data)
        before = len(list_segments(data / "events"))
        async with running_pager(config(data, "90d archive")) as run:
            retention = run.actors.retention
            assert retention is not None and retention.keep == timedelta(days=90)
            report = await retention.apply()
            assert report is not None and report.segments
            assert len(list_segments(data / "events")) == before - len(report.segments)
            assert sorted(p.name for p in (data / "archive").iterdir()) == [
                n + ".gz" for n in report.segments
            ]
            async with httpx.AsyncClient(base_url=run.urls[0], headers=auth()) as c:
                assert "inc-1" in run.system.state.archive  # a summary: its detail is rebuilt
                detail = (await c.get("/api/v1/incidents/inc-1")).json()
                kinds = [t["kind"] for t in detail["timeline"]]
                assert kinds[0] == "incident.opened" and kinds[-1] == "incident.resolved"
                assert detail["status"] == "resolved" and detail["alerts"]
                assert (await c.get("/api/v1/incidents/inc-7")).json()["status"] == "triggered"
                # a note on an incident rebuilt from the archive is journaled as usual
                r = await c.post("/api/v1/incidents/inc-2/notes", json={"text": "post-mortem"})
                assert r.status_code == 200 and r.json()["timeline"][-1]["text"] == "post-mortem"

    code, out, _ = replay(capsys, "--data-dir", str(data), "--incident", "inc-1")
    assert code == 0 and "incident.opened" in out and "incident.resolved" in out
    code, out, _ = replay(capsys, "--data-dir", str(data), "--verify")
    assert code == 0 and out.strip().endswith("clean"), out
    code, out, _ = replay(capsys, "--data-dir", str(data), "--export")
    seqs = [orjson.loads(line)["seq"] for line in out.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_deleted_history_is_a_410_and_replay_starts_from_the_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    with trio.fail_after(60):
        await old_history(data)
        shutil.copytree(data, tmp_path / "untouched")
        async with running_pager(config(data, "90d delete")) as run:
            assert run.actors.retention is not None
            report = await run.actors.retention.apply()
            assert report is not None and report.segments and report.bytes_after == 0
            assert not (data / "archive").exists()
            first = report.first_seq
            async with httpx.AsyncClient(base_url=run.urls[0], headers=auth()) as c:
                r = await c.get("/api/v1/incidents/inc-1")
                assert r.status_code == 410
                assert r.json()["message"] == (
                    "the history of inc-1 (resolved, summary only) is no longer in the log: it "
                    f"starts at record {first} (journal.retention deleted what came before)"
                )
                listed = (await c.get("/api/v1/incidents?status=resolved")).json()["incidents"]
                assert "inc-1" in [i["id"] for i in listed]
                # the stream from record 1 starts at the oldest record kept
                hub = run.system.hub
                with trio.fail_after(10):
                    async with aclosing(hub.subscribe(1)) as records:
                        async for rec in records:
                            assert rec.seq == first
                            break

    code, out, err = replay(capsys, "--data-dir", str(data), "--verify")
    assert code == 0 and out.strip().endswith("clean"), out
    assert f"records before {first} were deleted by journal.retention" in err
    code, out, err = replay(capsys, "--data-dir", str(data), "--incident", "inc-1")
    # (what is left of inc-1, if anything, depends on where a segment ends: the pages held
    # back by bundling are cancelled as their incidents are resolved, 200 days ago, so the
    # old segments hold more than when they were cancelled at the restart)
    assert "incident.opened" not in out
    assert f"the log starts at record {first} (journal.retention deleted older ones)" in err
    # the state now is the state the untouched folder gives
    _, now_pruned, _ = replay(capsys, "--data-dir", str(data), "--at", "2100-01-01T00:00:00Z")
    _, now_whole, _ = replay(
        capsys, "--data-dir", str(tmp_path / "untouched"), "--at", "2100-01-01T00:00:00Z"
    )
    assert orjson.loads(now_pruned)["open_incidents"] == orjson.loads(now_whole)["open_incidents"]
