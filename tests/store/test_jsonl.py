"""What only the disk log does: survive a restart, cut a torn last line, refuse damage
elsewhere, roll segments, lock its folder, keep files private, fall back past a bad
snapshot, and hit a really full disk."""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import trio

from pager.errors import LogUnavailable
from pager.store.base import Draft, LogDamaged, Record, new_record
from pager.store.jsonl import JsonlLog
from pager.store.lock import DataDirLocked
from pager.store.segments import list_segments, parse_line

from .conftest import T0, draft


async def write_some(data: Path, n: int, **kw: object) -> None:
    lg = JsonlLog.open(data, **kw)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(lg.run)
        for i in range(1, n + 1):
            await lg.append([draft(i)])
        await lg.close()


async def test_records_survive_close_and_reopen(tmp_path: Path) -> None:
    with trio.fail_after(10):
        await write_some(tmp_path, 5)
        lg = JsonlLog.open(tmp_path)
        try:
            assert lg.last_seq == 5
            assert [r.data["i"] for r in lg.read_from(1)] == [1, 2, 3, 4, 5]
        finally:
            lg.release()
        await write_some(tmp_path, 2)
        lg = JsonlLog.open(tmp_path)
        try:
            assert [r.seq for r in lg.read_from(1)] == list(range(1, 8))
            # a record read back carries its line in the log, which is what the stream and
            # `replay --export` send on: the same JSON as encoding the record again
            on_disk = b"".join(p.read_bytes() for p in sorted((tmp_path / "events").iterdir()))
            lines = [r.json_bytes() for r in lg.read_from(1)]
            assert b"\n".join(lines) + b"\n" == on_disk
            again = [replace(r, line=None).json_bytes() for r in lg.read_from(1)]
            assert [orjson.loads(x) for x in again] == [orjson.loads(x) for x in lines]
        finally:
            lg.release()


async def test_a_log_whose_writer_was_cancelled_refuses_appends(tmp_path: Path) -> None:
    """A writer task cancelled without `close` (its nursery failed, say) takes nothing
    more: an append then is refused at once, where it would wait for ever for a writer,
    and `append_soon`'s requester would never be answered."""
    with trio.fail_after(10):
        lg = JsonlLog.open(tmp_path)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(lg.run)
                assert [r.seq for r in await lg.append([draft(1)])] == [1]
                nursery.cancel_scope.cancel()
            calls: list[object] = []
            with pytest.raises(LogUnavailable):
                lg.append_soon([draft(2)], lambda records, error: calls.append(error))
            with pytest.raises(LogUnavailable):
                await lg.append([draft(2)])
            assert calls == [] and lg.backlog == 0
        finally:
            lg.release()
        lg = JsonlLog.open(tmp_path)
        try:
            assert [r.seq for r in lg.read_from(1)] == [1]
        finally:
            lg.release()


async def test_torn_last_line_is_cut_and_reported(tmp_path: Path) -> None:
    with trio.fail_after(10):
        await write_some(tmp_path, 3)
        seg = list_segments(tmp_path / "events")[-1].path
        whole = seg.read_bytes()
        with open(seg, "ab") as f:  # a crash in mid-write of record 4
            f.write(b'{"v":1,"seq":4,"ts":"2026-11-27T03:00:00Z","type":"test.ev')
        lg = JsonlLog.open(tmp_path)
        try:
            assert lg.torn is not None
            assert lg.torn.line == 4
            assert lg.torn.bytes_cut > 0
            assert seg.read_bytes() == whole
            assert lg.last_seq == 3
        finally:
            lg.release()
        await write_some(tmp_path, 1)  # and carries on, numbering after the cut
        lg = JsonlLog.open(tmp_path)
        try:
            assert [r.seq for r in lg.read_from(1)] == [1, 2, 3, 4]
        finally:
            lg.release()


async def test_damage_before_the_end_stops_with_file_line_and_repair_command(
    tmp_path: Path,
) -> None:
    with trio.fail_after(10):
        await write_some(tmp_path, 4)
        seg = list_segments(tmp_path / "events")[-1].path
        lines = seg.read_bytes().splitlines(keepends=True)
        lines[1] = b'{"v":1,"seq":2,"ts":"2026-11-27T03:00:00Z","type":"test.event","subj\n'
        seg.write_bytes(b"".join(lines))
        lg = JsonlLog.open(tmp_path)
        try:
            with pytest.raises(LogDamaged) as info:
                list(lg.read_from(1))
            assert info.value.file == str(seg)
            assert info.value.line == 2
            assert "pager replay --data-dir" in str(info.value)
            assert "--repair" in str(info.value)
        finally:
            lg.release()


async def test_sequence_gap_is_damage(tmp_path: Path) -> None:
    with trio.fail_after(10):
        await write_some(tmp_path, 4)
        seg = list_segments(tmp_path / "events")[-1].path
        lines = seg.read_bytes().splitlines(keepends=True)
        del lines[2]
        seg.write_bytes(b"".join(lines))
        lg = JsonlLog.open(tmp_path)
        try:
            with pytest.raises(LogDamaged, match="expected 3, found 4"):
                list(lg.read_from(1))
        finally:
            lg.release()


async def test_segments_roll_at_the_size_limit_and_read_across(tmp_path: Path) -> None:
    with trio.fail_after(10):
        await write_some(tmp_path, 30, segment_size=500)
        segs = list_segments(tmp_path / "events")
        assert len(segs) > 3
        assert segs[0].first_seq == 1
        lg = JsonlLog.open(tmp_path, segment_size=500)
        try:
            assert lg.last_seq == 30
            assert [r.seq for r in lg.read_from(1)] == list(range(1, 31))
            assert [r.seq for r in lg.read_from(17)] == list(range(17, 31))
        finally:
            lg.release()


async def test_second_process_on_the_folder_is_refused(tmp_path: Path) -> None:
    lg = JsonlLog.open(tmp_path)
    try:
        with pytest.raises(DataDirLocked, match="in use by pid"):
            JsonlLog.open(tmp_path)
        # and from a separate process, as a second `pager serve` would be
        code = (
            "import sys; from pager.store.jsonl import JsonlLog\n"
            "try:\n    JsonlLog.open(sys.argv[1])\nexcept Exception as e:\n"
            "    print(type(e).__name__); sys.exit(3)\n"
        )
        import sys

        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 3 and "DataDirLocked" in out.stdout
    finally:
        lg.release()
    JsonlLog.open(tmp_path).release()  # released: opens again


async def test_a_large_snapshot_is_written_in_pieces_and_reads_back_whole(tmp_path: Path) -> None:
    from pager.store import snapshots

    state = {"n": 1, "items": [{"i": i, "t": T0} for i in range(2 * snapshots.CHUNK + 7)], "e": []}
    with trio.fail_after(10):
        lg = JsonlLog.open(tmp_path)
        try:
            await lg.save_snapshot(0, T0, state)
            snap = lg.load_snapshot()
        finally:
            lg.release()
    assert snap is not None
    assert snap.state["items"][-1] == {"i": 2 * snapshots.CHUNK + 6, "t": "2026-11-27T03:00:00Z"}
    assert len(snap.state["items"]) == 2 * snapshots.CHUNK + 7 and snap.state["e"] == []


async def test_data_files_are_private(tmp_path: Path) -> None:
    with trio.fail_after(10):
        data = tmp_path / "data"
        await write_some(data, 2)
        lg = JsonlLog.open(data)
        await lg.save_snapshot(2, T0, {"x": 1})
        lg.release()
        for p in [data, data / "events", data / "snapshots"]:
            assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
        for p in [*data.glob("events/*"), *data.glob("snapshots/*"), data / "LOCK"]:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


async def test_newest_valid_snapshot_wins(tmp_path: Path) -> None:
    with trio.fail_after(10):
        await write_some(tmp_path, 6)
        lg = JsonlLog.open(tmp_path)
        try:
            await lg.save_snapshot(3, T0, {"at": 3})
            await lg.save_snapshot(5, T0, {"at": 5})
            newest = tmp_path / "snapshots" / f"{5:012d}.snap"
            raw = newest.read_bytes()
            newest.write_bytes(raw.replace(b'"at":5', b'"at":6'))  # damaged body
            snap = lg.load_snapshot()
            assert snap is not None and snap.seq == 3 and snap.state == {"at": 3}
            assert any("checksum" in s for s in lg.skipped_snapshots)
            newest.write_bytes(raw[: len(raw) // 2])  # torn: no trailer
            lg.skipped_snapshots.clear()
            snap = lg.load_snapshot()
            assert snap is not None and snap.seq == 3
            assert any("trailer" in s for s in lg.skipped_snapshots)
        finally:
            lg.release()


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        timeout=30,
    )
    return r.returncode == 0


async def test_really_full_disk_answers_unavailable_loses_nothing_and_recovers(
    tmp_path: Path,
) -> None:
    """On a 64 KiB tmpfs: append until ENOSPC, check that every acknowledged record is
    readable and the failed ones are not, free space, append again."""
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "64k"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected ENOSPC test covers it")
    try:
        with trio.fail_after(20):
            lg = JsonlLog.open(mnt / "data")
            acked: list[int] = []
            async with trio.open_nursery() as nursery:
                await nursery.start(lg.run)
                big = "x" * 900
                failed = 0
                for i in range(1000):
                    try:
                        await lg.append([_big(i, big)])
                        acked.append(i)
                    except LogUnavailable:
                        failed += 1
                        if failed >= 3:
                            break
                assert failed >= 3, "the disk never filled"
                assert not lg.writable
                assert [r.data["i"] for r in lg.read_from(1)] == acked
                # space returns (the operator grows the volume)
                subprocess.run(["mount", "-o", "remount,size=256k", str(mnt)], check=True)
                rec = await lg.append([_big(10_000, big)])
                assert rec[0].seq == len(acked) + 1
                assert lg.writable
                await lg.close()
            lg2 = JsonlLog.open(mnt / "data")
            try:
                assert [r.data["i"] for r in lg2.read_from(1)] == [*acked, 10_000]
            finally:
                lg2.release()
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30)


def _big(i: int, pad: str) -> Draft:
    d = draft(i)
    d.data["pad"] = pad
    return d


async def test_an_append_that_cannot_be_encoded_is_refused_alone(tmp_path: Path) -> None:
    """orjson refuses data nested deeper than it writes: only that appender hears it."""
    deep: dict[str, object] = {}
    cur = deep
    for _ in range(300):
        cur["x"] = {}
        cur = cur["x"]  # type: ignore[assignment]
    with trio.fail_after(10):
        lg = JsonlLog.open(tmp_path)
        async with trio.open_nursery() as nursery:
            await nursery.start(lg.run)
            results: dict[str, object] = {}

            async def append(name: str, d: Draft) -> None:
                try:
                    results[name] = [r.seq for r in await lg.append([d])]
                except LogUnavailable as e:
                    results[name] = e

            bad = draft(2)
            bad.data["deep"] = deep
            async with trio.open_nursery() as n:
                n.start_soon(append, "a", draft(1))
                n.start_soon(append, "bad", bad)
                n.start_soon(append, "c", draft(3))
            assert sorted([*results["a"], *results["c"]]) == [1, 2]  # type: ignore[misc]
            assert isinstance(results["bad"], LogUnavailable)
            assert sorted(r.data["i"] for r in lg.read_from(1)) == [1, 3]
            await lg.close()


async def test_junk_left_by_a_failed_cut_back_is_cut_before_the_next_write(tmp_path: Path) -> None:
    with trio.fail_after(10):
        lg = JsonlLog.open(tmp_path)
        async with trio.open_nursery() as nursery:
            await nursery.start(lg.run)
            await lg.append([draft(1)])
            seg = list_segments(tmp_path / "events")[-1].path
            with open(seg, "ab") as f:  # what a failed write whose cut-back failed leaves
                f.write(b'{"v":1,"seq":2,"ts":"2026-11-27T03:0')
            await lg.append([draft(2)])
            await lg.close()
    lg = JsonlLog.open(tmp_path)
    try:
        assert lg.torn is None
        assert [r.data["i"] for r in lg.read_from(1)] == [1, 2]
    finally:
        lg.release()


async def test_a_segment_that_cannot_be_started_leaves_the_log_writing_on(tmp_path: Path) -> None:
    import errno

    with trio.fail_after(10):
        lg = JsonlLog.open(tmp_path, segment_size=200)
        real_open = os.open
        fail = {"on": True}

        def flaky_open(path, flags, mode=0o777):  # type: ignore[no-untyped-def]
            if fail["on"] and flags & os.O_EXCL:
                raise OSError(errno.EMFILE, "Too many open files")
            return real_open(path, flags, mode)

        async with trio.open_nursery() as nursery:
            await nursery.start(lg.run)
            os.open = flaky_open  # type: ignore[assignment]
            try:
                for i in range(1, 6):  # each append passes the size limit
                    recs = await lg.append([draft(i)])
                    assert recs[0].seq == i
            finally:
                os.open = real_open
            assert len(list_segments(tmp_path / "events")) == 1
            fail["on"] = False
            await lg.append([draft(6)])  # rolls now
            await lg.append([draft(7)])
            await lg.close()
    segs = list_segments(tmp_path / "events")
    assert [s.first_seq for s in segs] == [1, 7]
    lg = JsonlLog.open(tmp_path, segment_size=200)
    try:
        assert [r.data["i"] for r in lg.read_from(1)] == [1, 2, 3, 4, 5, 6, 7]
    finally:
        lg.release()


def test_a_record_read_from_a_line_is_the_record_that_was_written() -> None:
    """Reading builds records with the fast maker (pager.store.base.new_record): the value
    must be the dataclass's own, equal, frozen, with its line and no event."""
    at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    made = Record(7, at, "service.change", "service:checkout", {"summary": "x"}, 2)
    line = made.json_bytes()
    read = parse_line(line + b"\n", 7)
    assert type(read) is Record and read == made and read.line == line and read.event is None
    with pytest.raises(FrozenInstanceError):
        read.seq = 8  # type: ignore[misc]
    fast = new_record(7, at, "service.change", "service:checkout", {}, 2, event="e")
    assert fast == Record(7, at, "service.change", "service:checkout", {}, 2, event="e")
    assert fast.event == "e" and fast.line is None
