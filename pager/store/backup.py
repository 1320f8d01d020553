"""`pager backup`: a consistent copy of a data folder, taken while pager runs on it.

No lock and no help from the service is needed, because of how the folder is written: a
snapshot file is whole once it has its name (written to a temporary name, fsynced, renamed)
and never changes after; segments only grow, by whole lines, and only the last one grows; a
snapshot is written only after every record it covers is durable. So the copy is made in
this order:

1. the newest snapshot whose checksum holds, from the bytes read and checked (a newer one
   may appear meanwhile; this one is still whole);
2. then the log's segments (archive/ as it is; events/ each read once, the last one cut at
   its last newline, since a line may be in mid-write), listed after the snapshot was read,
   so they reach at least its record;
3. web-sessions.json (written atomically too) when present.

Every file is written to a temporary name, fsynced and renamed, and each folder fsynced;
then the copy is read back: the snapshot loads and the records after it are whole and
numbered without a gap. The copy is the folder as a crash at that moment would have left it
(at most the lines of a batch not yet acknowledged, which a crash could also leave), so
`pager serve --data-dir COPY` starts from it as from any folder. With `minimal`, only the
segments from the one holding the snapshot's next record are copied: the state is whole,
the history before it is not (old incidents' details are then 410, as with
`journal.retention: delete`). With `newest_schema` (the reader's SCHEMA_VERSION, as `pager
serve` and `pager replay` pass it), a record of a newer schema fails the read-back as
`LogTooNew`. Blocking: run it in a thread or a process of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .segments import ARCHIVE_DIR, Segment, iter_records, list_history, segment_name
from .snapshots import (
    checked_snapshot,
    fsync_dir,
    list_snapshots,
    read_snapshot,
    write_atomically,
)

__all__ = ["BackupError", "BackupReport", "backup"]

CHUNK = 1 << 20
SESSIONS = "web-sessions.json"


class BackupError(Exception):
    """The copy cannot be made (a target that is not empty, a folder that is no pager's)."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    snapshot_seq: int | None
    first_seq: int  # the oldest record copied
    last_seq: int  # the newest record copied
    files: int
    bytes: int


def backup(
    src: Path, dest: Path, *, minimal: bool = False, newest_schema: int | None = None
) -> BackupReport:
    if not (src / "events").is_dir():
        raise BackupError(f"{src} is not a pager data folder (no events/ in it)")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder")
    if dest.resolve() == src.resolve() or src.resolve() in dest.resolve().parents:
        raise BackupError(f"{dest} is inside the data folder {src}")
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    for sub in ("events", "snapshots"):
        (dest / sub).mkdir(mode=0o700)

    files = size = 0
    snap_seq = None
    for snap in list_snapshots(src / "snapshots"):  # newest first
        try:
            raw = snap.path.read_bytes()
            checked_snapshot(raw)
        except (OSError, ValueError):
            continue  # replaced or damaged: the next older one
        write_atomically(dest / "snapshots" / snap.path.name, [raw])
        snap_seq, files, size = snap.seq, files + 1, size + len(raw)
        break

    segments = list_history(src)
    if minimal and snap_seq is not None:
        segments = [
            s
            for i, s in enumerate(segments)
            if i + 1 == len(segments) or segments[i + 1].first_seq > snap_seq + 1
        ]
    for i, seg in enumerate(segments):
        last = i + 1 == len(segments)
        if seg.archived:
            (dest / ARCHIVE_DIR).mkdir(mode=0o700, exist_ok=True)
            target = dest / ARCHIVE_DIR / seg.path.name
            written = _copy(_chunks_of(seg.path), target)
        else:
            target = dest / "events" / segment_name(seg.first_seq)
            written = _copy(_whole_lines(seg) if last else _plain(seg), target)
        files, size = files + 1, size + written
    if (src / SESSIONS).exists():
        try:
            size += _copy(_chunks_of(src / SESSIONS), dest / SESSIONS)
            files += 1
        except FileNotFoundError:
            pass
    fsync_dir(dest)
    return _check(dest, snap_seq, files, size, newest_schema)


def _chunks_of(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from iter(lambda: f.read(CHUNK), b"")


def _plain(seg: Segment) -> Iterator[bytes]:
    """A closed segment of events/ (found in the archive, uncompressed, if moved meanwhile)."""
    with seg.open() as f:
        yield from iter(lambda: f.read(CHUNK), b"")


def _whole_lines(seg: Segment) -> Iterator[bytes]:
    """The segment being written, up to its last newline: a line may be in mid-write."""
    held = b""
    for chunk in _plain(seg):
        data = held + chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        held = data[cut:]


def _copy(chunks: Iterable[bytes], target: Path) -> int:
    n = 0

    def counted() -> Iterator[bytes]:
        nonlocal n
        for c in chunks:
            n += len(c)
            yield c

    write_atomically(target, counted())
    return n


def _check(
    dest: Path, snap_seq: int | None, files: int, size: int, newest_schema: int | None
) -> BackupReport:
    """Read the copy back: its snapshot loads, the records after it are whole and unbroken."""
    if snap_seq is not None:
        read_snapshot(dest / "snapshots" / f"{snap_seq:012d}.snap")
    history = list_history(dest)
    first = history[0].first_seq if history else 1
    last = first - 1
    start = max(first, (snap_seq or 0) + 1)
    for rec in iter_records(history, start, str(dest), newest_schema=newest_schema):
        last = rec.seq
    if snap_seq is not None and last < snap_seq:
        last = snap_seq  # nothing after the snapshot yet
    return BackupReport(snap_seq, first, last, files, size)
