"""Reading the JSON-lines segments: listing them, parsing and checking each line, cutting a
torn tail. Shared by the log (start-up, `read_from`) and the replay tool (`--verify`).

A segment is `events/<first seq, 12 digits>.jsonl`; its k-th line (from 0) holds record
`first seq + k`, so a reader can skip to a sequence number without parsing what comes before.
Each line is one JSON object: {"v", "seq", "ts", "type", "subject", "data"}.

`journal.retention` moves old segments to `archive/<first seq>.jsonl.gz` (gzip, the same
lines); `list_history` gives the archived ones followed by those in events/, so a reader
sees one log. A segment moved while it is being opened is found in the archive.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from .base import HistoryDeleted, LogDamaged, LogTooNew, Record, new_record

__all__ = [
    "NewerSchema",
    "Segment",
    "TornTail",
    "archive_name",
    "cut_torn_tail",
    "iter_records",
    "list_archived",
    "list_history",
    "list_segments",
    "parse_line",
    "segment_name",
]

SUFFIX = ".jsonl"
ARCHIVED = ".jsonl.gz"
ARCHIVE_DIR = "archive"


@dataclass(frozen=True, slots=True)
class Segment:
    first_seq: int
    path: Path

    @property
    def archived(self) -> bool:
        return self.path.name.endswith(ARCHIVED)

    def open(self) -> io.BufferedIOBase:
        """The segment's bytes, uncompressed. A segment of events/ that retention has just
        moved is read from the archive instead."""
        if self.archived:
            return gzip.open(self.path, "rb")
        try:
            return open(self.path, "rb")
        except FileNotFoundError:
            moved = self.path.parent.parent / ARCHIVE_DIR / archive_name(self.first_seq)
            if not moved.exists():
                raise
            return gzip.open(moved, "rb")


@dataclass(frozen=True, slots=True)
class TornTail:
    file: Path
    line: int
    bytes_cut: int


def segment_name(first_seq: int) -> str:
    return f"{first_seq:012d}{SUFFIX}"


def archive_name(first_seq: int) -> str:
    return f"{first_seq:012d}{ARCHIVED}"


def list_archived(archive_dir: Path) -> list[Segment]:
    out = []
    for p in archive_dir.iterdir() if archive_dir.is_dir() else ():
        stem = p.name.removesuffix(ARCHIVED)
        if p.name.endswith(ARCHIVED) and stem.isdigit():
            out.append(Segment(int(stem), p))
    out.sort(key=lambda s: s.first_seq)
    return out


def list_history(data_dir: Path) -> list[Segment]:
    """The whole log: the archived segments older than events/' first, then events/'."""
    live = list_segments(data_dir / "events")
    first_live = live[0].first_seq if live else None
    old = [
        a
        for a in list_archived(data_dir / ARCHIVE_DIR)
        if first_live is None or a.first_seq < first_live
    ]
    return old + live


def list_segments(events_dir: Path) -> list[Segment]:
    out = []
    for p in events_dir.iterdir() if events_dir.is_dir() else ():
        if p.suffix == SUFFIX and p.stem.isdigit():
            out.append(Segment(int(p.stem), p))
    out.sort(key=lambda s: s.first_seq)
    return out


class NewerSchema(ValueError):
    """A line whose schema version is newer than `newest_schema` (see parse_line)."""


def parse_line(
    raw: bytes, expect_seq: int | None = None, newest_schema: int | None = None
) -> Record:
    """One log line to a Record. Raises ValueError saying what is wrong."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    try:
        v, seq, ts, typ, subject, data = (
            obj["v"],
            obj["seq"],
            obj["ts"],
            obj["type"],
            obj["subject"],
            obj["data"],
        )
    except KeyError as e:
        raise ValueError(f"missing field {e.args[0]!r}") from None
    if not isinstance(v, int):
        raise ValueError(f"schema version {v!r} is not a number")
    if newest_schema is not None and v > newest_schema:
        raise NewerSchema(f"schema version {v} is newer than this pager understands")
    if not isinstance(seq, int) or not isinstance(typ, str) or not isinstance(data, dict):
        raise ValueError("field of the wrong type")
    if expect_seq is not None and seq != expect_seq:
        raise ValueError(f"sequence gap: expected {expect_seq}, found {seq}")
    try:
        when = datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        raise ValueError(f"bad timestamp {ts!r}") from None
    return new_record(seq, when, typ, str(subject), data, v, None, raw.rstrip(b"\n"))


def iter_records(
    segments: list[Segment],
    start_seq: int,
    data_dir: str | None = None,
    on_torn: Callable[[TornTail], None] | None = None,
    *,
    newest_schema: int | None = None,
) -> Iterator[Record]:
    """Records with seq >= start_seq from `segments`, checked line by line: a line that does
    not parse or breaks the sequence raises LogDamaged naming the file and line. With
    `on_torn`, a last line without its newline (a crash in mid-write, which start-up will
    cut) is reported to it instead, and reading stops there. Asking for records older than
    the first segment (deleted by journal.retention) raises HistoryDeleted."""
    if segments and start_seq < segments[0].first_seq:
        raise HistoryDeleted(start_seq, segments[0].first_seq)
    expect = None
    for i, seg in enumerate(segments):
        nxt = segments[i + 1].first_seq if i + 1 < len(segments) else None
        if nxt is not None and nxt <= start_seq:
            continue
        skip = max(start_seq - seg.first_seq, 0)
        expect = seg.first_seq + skip if expect is None else expect
        if expect != seg.first_seq + skip:
            raise LogDamaged(
                str(seg.path), 1, f"segment starts at {seg.first_seq}, expected {expect}", data_dir
            )
        with seg.open() as f:
            lineno = 0
            for raw in f:
                lineno += 1
                if lineno <= skip:
                    continue
                if on_torn is not None and nxt is None and not raw.endswith(b"\n"):
                    on_torn(TornTail(seg.path, lineno, len(raw)))
                    return
                try:
                    rec = parse_line(raw, expect, newest_schema)
                except NewerSchema as e:
                    raise LogTooNew(str(seg.path), lineno, str(e), data_dir) from None
                except ValueError as e:
                    raise LogDamaged(str(seg.path), lineno, str(e), data_dir) from None
                expect += 1
                yield rec
        if nxt is not None and expect != nxt:
            # the records of this segment are whole; what follows them is missing or extra
            raise LogDamaged(
                str(segments[i + 1].path),
                1,
                f"segment starts at {nxt} but the one before ends at {expect - 1}",
                data_dir,
            )


def cut_torn_tail(path: Path) -> TornTail | None:
    """A crash in mid-write leaves the last line without its newline. Cut it off (fsyncing
    the cut) and say what was cut; a file that ends cleanly is left alone."""
    size = path.stat().st_size
    if size == 0:
        return None
    with open(path, "r+b") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return None
        # find the last newline, reading backwards in blocks
        pos = size
        keep = 0
        block = 64 * 1024
        while pos > 0:
            start = max(pos - block, 0)
            f.seek(start)
            chunk = f.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        f.seek(0)
        lines = (
            sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) if keep else 0
        )
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return TornTail(path, lines + 1, size - keep)


def last_record(seg: Segment) -> Record | None:
    """The last line of a segment, parsed (None for an empty segment)."""
    size = seg.path.stat().st_size
    if size == 0:
        return None
    with open(seg.path, "rb") as f:
        back = min(size, 1 << 20)
        while True:
            f.seek(size - back)
            chunk = f.read(back)
            lines = chunk.rstrip(b"\n").rsplit(b"\n", 1)
            if len(lines) == 2 or back == size:
                return parse_line(lines[-1])
            back = min(size, back * 4)
