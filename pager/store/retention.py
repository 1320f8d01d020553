"""Bounded disk: `journal.retention` lets old segments of the log go.

A segment may go when all of these hold, and only segments from the start of the log go (so
events/ always holds one unbroken tail of it, and archive/ the part before):

- it is not the segment being written (the last one);
- its newest record is older than `now - keep`;
- every snapshot kept in snapshots/ is at or past its last record, so whichever snapshot
  start-up loads, the records after it are all in events/;
- no incident the live state holds whole began in it (`keep_from_seq`): rebuilding one
  reads the log from its first record.

In the default mode a segment goes to `archive/<first seq>.jsonl.gz`: gzip (the standard
library's, readable with zcat anywhere; JSON lines shrink about tenfold) written to a
temporary name, fsynced, renamed, the folder fsynced, and only then removed from events/.
Readers (`read_from`, the incident detail of an archived incident, `pager replay`) read the
archive as if it were events/. In `delete` mode it is removed, and asking for its records
is `HistoryDeleted`.

Blocking (file I/O and compression): the log runs `apply` in a worker thread.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .base import RetentionPolicy, RetentionReport
from .segments import (
    ARCHIVE_DIR,
    Segment,
    archive_name,
    last_record,
    list_segments,
)
from .snapshots import fsync_dir, list_snapshots

__all__ = ["SegmentSpan", "apply", "choose", "disk_use"]

log = logging.getLogger("pager.store")

COMPRESSLEVEL = 6  # zlib's default: about 9 levels' ratio at several times its speed


@dataclass(frozen=True, slots=True)
class SegmentSpan:
    segment: Segment
    last_seq: int
    last_ts: datetime


def choose(
    spans: Sequence[SegmentSpan],
    *,
    cutoff: datetime,
    covered_seq: int,
    keep_from_seq: int | None,
) -> list[SegmentSpan]:
    """The segments that may go, from the first on (see the module's rules). `spans` are
    every segment of events/ in order, the one being written last."""
    out = []
    for span in spans[:-1]:
        if span.last_ts >= cutoff or span.last_seq > covered_seq:
            break
        if keep_from_seq is not None and span.last_seq >= keep_from_seq:
            break
        out.append(span)
    return out


def _spans(events_dir: Path) -> list[SegmentSpan]:
    out = []
    for seg in list_segments(events_dir):
        rec = last_record(seg)
        if rec is None:  # an empty segment: only the one being written may be empty
            break
        out.append(SegmentSpan(seg, rec.seq, rec.ts))
    return out


def apply(data_dir: Path, policy: RetentionPolicy) -> RetentionReport:
    """Archive or delete what `policy` lets go. Blocking."""
    events_dir = data_dir / "events"
    snaps = list_snapshots(data_dir / "snapshots")
    if not snaps:
        return RetentionReport(first_seq=_first(events_dir))
    covered = min(s.seq for s in snaps)  # whichever snapshot start-up falls back to
    gone = choose(
        _spans(events_dir),
        cutoff=policy.now - policy.keep,
        covered_seq=covered,
        keep_from_seq=policy.keep_from_seq,
    )
    before = after = 0
    names = []
    archive_dir = data_dir / ARCHIVE_DIR
    for span in gone:
        seg = span.segment
        size = seg.path.stat().st_size
        if not policy.delete:
            after += _compress(seg, archive_dir)
        seg.path.unlink()
        fsync_dir(events_dir)
        before += size
        names.append(seg.path.name)
        log.info(
            "journal.retention: %s segment %s (records to %d, last at %s)",
            "deleted" if policy.delete else "archived",
            seg.path.name,
            span.last_seq,
            span.last_ts.isoformat(),
        )
    return RetentionReport(tuple(names), before, after, _first(events_dir))


def _first(events_dir: Path) -> int:
    segs = list_segments(events_dir)
    return segs[0].first_seq if segs else 1


def _compress(seg: Segment, archive_dir: Path) -> int:
    """gzip `seg` into the archive, durably; returns the compressed size."""
    archive_dir.mkdir(mode=0o700, exist_ok=True)
    final = archive_dir / archive_name(seg.first_seq)
    tmp = archive_dir / f".{final.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with (
            os.fdopen(fd, "wb", closefd=False) as raw,
            gzip.GzipFile(seg.path.name, "wb", COMPRESSLEVEL, raw, mtime=0) as z,
            open(seg.path, "rb") as src,
        ):
            shutil.copyfileobj(src, z, 1 << 20)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    fsync_dir(archive_dir)
    return final.stat().st_size


def disk_use(data_dir: Path) -> dict[str, int]:
    """Bytes in each part of a data folder: events, snapshots, archive."""
    out = {}
    for part in ("events", "snapshots", ARCHIVE_DIR):
        d = data_dir / part
        out[part] = sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) if d.is_dir() else 0
    return out
