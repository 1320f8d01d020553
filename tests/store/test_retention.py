"""journal.retention on the disk log, at explicit instants: which segments may go (older than
the retention, covered by every kept snapshot, not holding the start of an incident the state
keeps whole, never the one being written), archived ones read back byte for byte through
`read_from`, deleted ones a clear HistoryDeleted, and nothing done without a snapshot."""

from __future__ import annotations

import gzip
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
import trio

from pager.store.base import Draft, HistoryDeleted, RetentionPolicy
from pager.store.jsonl import JsonlLog
from pager.store.retention import SegmentSpan, apply, choose, disk_use
from pager.store.segments import Segment, iter_records, list_history, list_segments
from pager.store.snapshots import write_snapshot

from .conftest import T0

DAY = timedelta(days=1)


def span(first: int, last: int, days_ago: float) -> SegmentSpan:
    return SegmentSpan(Segment(first, Path(f"{first:012d}.jsonl")), last, T0 - days_ago * DAY)


def test_choose_takes_old_covered_segments_from_the_start_only() -> None:
    spans = [span(1, 10, 200), span(11, 20, 150), span(21, 30, 100), span(31, 40, 5), span(41, 45, 200)]  # fmt: skip
    pick = lambda **kw: [s.segment.first_seq for s in choose(spans, cutoff=T0 - 90 * DAY, **kw)]  # noqa: E731
    assert pick(covered_seq=45, keep_from_seq=None) == [1, 11, 21]  # the 4th is too young
    assert pick(covered_seq=25, keep_from_seq=None) == [1, 11]  # 21..30 not all snapshotted
    assert pick(covered_seq=20, keep_from_seq=None) == [1, 11]  # at the snapshot: covered
    assert pick(covered_seq=19, keep_from_seq=None) == [1]
    assert pick(covered_seq=45, keep_from_seq=15) == [1]  # an incident held whole began at 15
    assert pick(covered_seq=45, keep_from_seq=11) == [1]
    assert pick(covered_seq=0, keep_from_seq=None) == []
    # the segment being written (last) never goes, however old
    assert [s.segment.first_seq for s in choose(spans[:1], cutoff=T0, covered_seq=99, keep_from_seq=None)] == []  # fmt: skip
    # a young segment stops it: only a prefix goes, so events/ stays one unbroken tail
    young_first = [span(1, 10, 5), span(11, 20, 200), span(21, 22, 0)]
    assert choose(young_first, cutoff=T0 - 90 * DAY, covered_seq=99, keep_from_seq=None) == []


async def history(data: Path, days: int) -> list[bytes]:
    """A log with one record a day for `days` days ending at T0, in small segments; returns
    each record's line."""
    lg = JsonlLog.open(data, segment_size=600, fsync=False)
    lines = []
    async with trio.open_nursery() as nursery:
        await nursery.start(lg.run)
        for i in range(days):
            at = T0 - (days - 1 - i) * DAY
            (rec,) = await lg.append([Draft("test.event", f"inc-{i // 20 + 1}", at, {"i": i}, 1)])
            assert rec.line is not None
            lines.append(rec.line)
        await lg.close()
    return lines


def read_all(data: Path, start: int = 1) -> list[bytes]:
    return [r.json_bytes() for r in iter_records(list_history(data), start)]


async def test_archive_moves_old_covered_segments_and_reading_sees_one_log(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        lines = await history(tmp_path, 300)
    segs = list_segments(tmp_path / "events")
    assert len(segs) > 20
    # snapshots at records 150 and 250: the older one bounds what may go
    write_snapshot(tmp_path / "snapshots", 150, T0 - 150 * DAY, {"x": 1})
    write_snapshot(tmp_path / "snapshots", 250, T0 - 50 * DAY, {"x": 2})
    before = disk_use(tmp_path)

    report = apply(tmp_path, RetentionPolicy(keep=90 * DAY, now=T0))
    assert report.segments and report.bytes_after < report.bytes_before
    left = list_segments(tmp_path / "events")
    archived = sorted((tmp_path / "archive").iterdir())
    assert [p.name for p in archived] == [n + ".gz" for n in report.segments]
    assert left[0].first_seq == report.first_seq
    # every archived record is at or before 150 (covered) and older than 90 days (seq 210)
    assert report.first_seq - 1 <= 150
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in archived)
    # a gzip file a person can read with zcat: the same lines
    first = gzip.decompress(archived[0].read_bytes()).splitlines()
    assert first == lines[: len(first)]
    # reading sees one log: archive, then events/
    assert read_all(tmp_path) == lines
    assert read_all(tmp_path, 3) == lines[2:]
    after = disk_use(tmp_path)
    assert after["events"] < before["events"] and after["archive"] > 0

    # once the records up to 250 are covered too, more goes; a second pass at once is a no-op
    (tmp_path / "snapshots" / f"{150:012d}.snap").unlink()
    more = apply(tmp_path, RetentionPolicy(keep=90 * DAY, now=T0))
    assert more.segments and more.first_seq - 1 <= 210
    assert apply(tmp_path, RetentionPolicy(keep=90 * DAY, now=T0)).segments == ()
    assert read_all(tmp_path) == lines

    # the log opens and appends as before; first_seq is the archive's first
    lg = JsonlLog.open(tmp_path, segment_size=600, fsync=False)
    try:
        assert lg.last_seq == 300 and lg.first_seq == 1
        assert [r.json_bytes() for r in lg.read_from(1)] == lines
    finally:
        lg.release()


async def test_delete_mode_removes_them_and_asking_for_them_says_so(tmp_path: Path) -> None:
    with trio.fail_after(30):
        lines = await history(tmp_path, 200)
    write_snapshot(tmp_path / "snapshots", 190, T0 - 10 * DAY, {"x": 1})
    report = apply(tmp_path, RetentionPolicy(keep=90 * DAY, now=T0, delete=True))
    assert report.segments and report.bytes_after == 0
    assert not (tmp_path / "archive").exists()
    first = report.first_seq
    assert 1 < first <= 111  # records older than 90 days (seq < 111) only
    with pytest.raises(HistoryDeleted, match=rf"record {first - 1} is no longer in the log: it starts at record {first} "):  # fmt: skip
        read_all(tmp_path, first - 1)
    assert read_all(tmp_path, first) == lines[first - 1 :]
    lg = JsonlLog.open(tmp_path, fsync=False)
    try:
        assert lg.first_seq == first and lg.last_seq == 200
        with pytest.raises(HistoryDeleted):
            next(lg.read_from(1))
    finally:
        lg.release()


async def test_nothing_goes_without_a_snapshot_a_pinned_incident_or_young_records(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        await history(tmp_path, 200)
    n = len(list_segments(tmp_path / "events"))
    assert apply(tmp_path, RetentionPolicy(keep=DAY, now=T0)).segments == ()  # no snapshot
    write_snapshot(tmp_path / "snapshots", 200, T0, {"x": 1})
    assert apply(tmp_path, RetentionPolicy(keep=365 * DAY, now=T0)).segments == ()  # all young
    pinned = apply(tmp_path, RetentionPolicy(keep=DAY, now=T0, keep_from_seq=1))
    assert pinned.segments == ()  # an incident the state holds whole began at record 1
    assert len(list_segments(tmp_path / "events")) == n


async def test_a_segment_archived_while_a_reader_holds_its_old_name_is_read_from_the_archive(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        lines = await history(tmp_path, 100)
    listed = list_history(tmp_path)  # a reader lists events/ ...
    write_snapshot(tmp_path / "snapshots", 100, T0, {"x": 1})
    assert apply(tmp_path, RetentionPolicy(keep=10 * DAY, now=T0)).segments  # ... retention runs
    assert not listed[0].path.exists()
    assert [r.json_bytes() for r in iter_records(listed, 1)] == lines  # ... it reads on


def test_archive_is_written_through_a_temporary_file(tmp_path: Path) -> None:
    # no leftover temporary after a pass (what a crash mid-compress would leave is ignored
    # by readers: only NNN.jsonl.gz names are segments)
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / ".000000000001.jsonl.gz.tmp").write_bytes(b"half")
    assert list_history(tmp_path) == []
    assert os.listdir(tmp_path / "archive") == [".000000000001.jsonl.gz.tmp"]
