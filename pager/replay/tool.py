"""`pager replay` (also `scripts/replay`): read a data folder without running the service.

  --verify          every line parses, sequence numbers have no gap, every event applies,
                    every snapshot matches the state replayed up to it; exit 1 on a problem
  --at TIME         the state at that instant (records stamped at or before it)
  --incident ID     one incident's timeline, from the log
  --export          every record as JSON lines on stdout (`--from SEQ` to start later)
  --repair          cut the log at its first damaged line; the cut-off part is kept in
                    events/damaged-<time>/ (refused while pager runs on the folder)

Reading never changes the folder and works while pager runs (it takes no lock); only
`--repair` writes. Segments that journal.retention archived (archive/*.jsonl.gz) are read
as part of the log; when it deleted the oldest ones, the log is read from the oldest
snapshot that the remaining records follow, and the tool says so.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
from tqdm import tqdm

from pager.core.events import SCHEMA_VERSION
from pager.core.state import SystemState
from pager.ingest.validate import parse_time
from pager.store.base import LogDamaged, LogTooNew, Record
from pager.store.lock import DirLock
from pager.store.segments import TornTail, iter_records, last_record, list_history
from pager.store.snapshots import (
    fsync_dir,
    json_default,
    list_snapshots,
    read_snapshot,
    write_atomically,
)

__all__ = ["add_arguments", "main", "run"]

_OPTS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default="pager-data",
        help="the data folder (data_dir of the config; default: ./pager-data, as serve uses)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--verify", action="store_true", help="check the whole log and every snapshot"
    )
    mode.add_argument("--at", metavar="TIME", help="print the state at an ISO 8601 instant")
    mode.add_argument("--incident", metavar="ID", help="print one incident's timeline")
    mode.add_argument("--export", action="store_true", help="print every record as JSON lines")
    mode.add_argument("--repair", action="store_true", help="cut the log at its first damaged line")
    p.add_argument(
        "--from",
        dest="from_seq",
        type=int,
        default=1,
        metavar="SEQ",
        help="with --export: start at SEQ",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


class _Reader:
    def __init__(self, data_dir: Path, quiet: bool, out: TextIO) -> None:
        self.data_dir = data_dir
        self.events = data_dir / "events"
        self.segments = list_history(data_dir)
        self.torn: TornTail | None = None
        self.quiet = quiet
        self.out = out

    @property
    def first(self) -> int:
        """The oldest record in the log (past 1 when journal.retention deleted older ones)."""
        return self.segments[0].first_seq if self.segments else 1

    def base(self) -> tuple[SystemState, int | None]:
        """Where reading the whole log starts: the empty state, or, when the oldest records
        were deleted, the oldest snapshot the log continues (and its seq)."""
        if self.first <= 1:
            return SystemState(), None
        for snap in sorted(list_snapshots(self.data_dir / "snapshots"), key=lambda x: x.seq):
            if snap.seq + 1 < self.first:
                continue
            try:
                return SystemState.from_snapshot(read_snapshot(snap.path).state), snap.seq
            except (OSError, KeyError, TypeError, ValueError):
                continue
        raise SystemExit(
            f"pager replay: the log starts at record {self.first} (journal.retention deleted "
            "older ones) and no readable snapshot leads up to it"
        )

    def note_deleted(self, snap_seq: int | None) -> None:
        if snap_seq is not None:
            print(
                f"pager replay: records before {self.first} were deleted by journal.retention;"
                f" reading from the snapshot at record {snap_seq}",
                file=sys.stderr,
            )

    def records(self, start: int | None = None) -> Iterator[Record]:
        start = self.first if start is None else start
        last = 0
        if self.segments:
            try:
                rec = last_record(self.segments[-1])
                last = rec.seq if rec else 0
            except ValueError:
                last = 0
        total = max(last - start + 1, 0)
        bar = tqdm(
            total=total, unit=" records", unit_scale=True, desc="reading", file=sys.stderr,
            disable=self.quiet or total < 200_000 or None, leave=False,
        )  # fmt: skip
        n = 0
        try:
            for rec in iter_records(
                self.segments,
                start,
                str(self.data_dir),
                on_torn=self._torn,
                newest_schema=SCHEMA_VERSION,
            ):
                n += 1
                if n & 0xFFF == 0:
                    bar.update(0x1000)
                yield rec
        finally:
            bar.close()

    def _torn(self, t: TornTail) -> None:
        self.torn = t


def _print(out: TextIO, obj: Any) -> None:
    out.write(orjson.dumps(obj, option=_OPTS | orjson.OPT_INDENT_2).decode() + "\n")


def verify(r: _Reader) -> int:
    problems: list[str] = []
    snaps = {s.seq: s for s in list_snapshots(r.data_dir / "snapshots")}
    state, base = r.base()
    r.note_deleted(base)
    count = 0
    checked_snaps = 0
    try:
        for rec in r.records(state.last_seq + 1):
            try:
                state.apply(rec)
            except (KeyError, TypeError, ValueError) as e:
                problems.append(f"record {rec.seq} ({rec.type}) does not apply: {e}")
                break
            count += 1
            snap = snaps.get(rec.seq)
            if snap is not None:
                checked_snaps += 1
                problems.extend(_compare_snapshot(snap.path, state))
    except LogDamaged as e:
        problems.append(str(e))
    for seq, s in snaps.items():
        if seq > state.last_seq:
            problems.append(f"{s.path}: snapshot at {seq} is past the log's end ({state.last_seq})")
    if r.torn is not None:
        r.out.write(
            f"note: {r.torn.file}:{r.torn.line}: torn last line ({r.torn.bytes_cut} bytes, a crash "
            "in mid-write, never acknowledged); pager cuts it at its next start\n"
        )
    first = r.segments[0].path.name if r.segments else "-"
    r.out.write(
        f"{count} records in {len(r.segments)} segment(s) (first {first}), last seq {state.last_seq}; "
        f"{len(state.incidents)} incidents ({len(state.open_by_key)} open); "
        f"{checked_snaps} snapshot(s) checked\n"
    )
    for p in problems:
        r.out.write(f"problem: {p}\n")
    r.out.write("clean\n" if not problems else f"{len(problems)} problem(s)\n")
    return 0 if not problems else 1


def _compare_snapshot(path: Path, state: SystemState) -> list[str]:
    try:
        snap = read_snapshot(path)
    except (OSError, ValueError) as e:
        return [f"{path}: {e}"]

    def plain(s: SystemState) -> Any:
        return orjson.loads(orjson.dumps(s.to_snapshot(), option=_OPTS, default=json_default))

    replayed = plain(state)
    # read as pager reads it at start-up: a snapshot written before a field existed has that
    # field's default, which is what replaying the same records gives
    try:
        stored = plain(SystemState.from_snapshot(snap.state))
    except (KeyError, TypeError, ValueError) as e:
        return [f"{path}: unreadable state ({e!r})"]
    if "analytics" not in snap.state:  # older than analytics: start-up folds the log into it
        replayed.pop("analytics", None)
        stored.pop("analytics", None)
    if replayed != stored:
        keys = [k for k in replayed if replayed.get(k) != stored.get(k)]
        return [f"{path}: differs from the state replayed to {snap.seq} (in {', '.join(keys)})"]
    return []


def state_at(r: _Reader, at: datetime) -> int:
    state, base = r.base()
    r.note_deleted(base)
    first: datetime | None = None
    for rec in r.records(state.last_seq + 1):
        if first is None:
            first = rec.ts
        if rec.ts > at:
            break
        state.apply(rec)
    if first is not None and at < first and base is None:
        print(
            f"pager replay: {at.isoformat()} is before the first record"
            f" ({first.isoformat()}); the state then was empty",
            file=sys.stderr,
        )
    elif first is not None and at < first:
        print(
            f"pager replay: {at.isoformat()} is before the oldest record kept"
            f" ({first.isoformat()}); this is the state of the snapshot at record {base}",
            file=sys.stderr,
        )
    from pager.core.views import incident_json

    _print(
        r.out,
        {
            "at": at,
            "last_seq": state.last_seq,
            "open_incidents": [incident_json(i) for i in state.open_incidents()],
            "incidents": len(state.incidents),
        },
    )
    return 0


def timeline(r: _Reader, incident_id: str) -> int:
    if r.first > 1:
        print(
            f"pager replay: the log starts at record {r.first} (journal.retention deleted"
            " older ones): an incident from before then shows only what came after",
            file=sys.stderr,
        )
    found = 0
    for rec in r.records():
        if rec.subject == incident_id:
            found += 1
            detail = {k: v for k, v in rec.data.items() if k != "incident_id"}
            for k in ("level", "round"):  # the log counts from 0; people (and the API) from 1
                if isinstance(detail.get(k), int):
                    detail[k] += 1
            r.out.write(
                f"{rec.seq:>8}  {rec.ts.isoformat()}  {rec.type:<24} {orjson.dumps(detail).decode()}\n"
            )
    if not found:
        gone = f" (the log starts at record {r.first}: journal.retention deleted older ones)"
        r.out.write(f"no records for {incident_id}{gone if r.first > 1 else ''}\n")
        return 1
    return 0


def export(r: _Reader, start: int) -> int:
    if start < r.first:
        print(
            f"pager replay: records before {r.first} were deleted by journal.retention;"
            f" exporting from {r.first}",
            file=sys.stderr,
        )
        start = r.first
    for rec in r.records(start):
        r.out.write(rec.json_bytes().decode() + "\n")
    return 0


def repair(r: _Reader) -> int:
    lock = DirLock(r.data_dir)
    lock.acquire()  # raises DataDirLocked while pager runs on the folder
    try:
        try:
            for _ in r.records():
                pass
        except LogTooNew as e:  # a newer pager's records: cutting them would lose them
            raise SystemExit(f"pager replay: {e} Nothing was cut.") from None
        except LogDamaged as e:
            return _cut(r, Path(e.file), e.line, e.reason)
        r.out.write("the log has no damage before its end; nothing to repair\n")
        return 0
    finally:
        lock.release()


def _cut(r: _Reader, file: Path, line: int, reason: str) -> int:
    if file.parent != r.events:
        raise SystemExit(
            f"pager replay: the damage is in the archive ({file}:{line}: {reason}); "
            "restore that file from a backup (pager backup)"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    keep = r.events / f"damaged-{stamp}"
    keep.mkdir(mode=0o700)
    raw = file.read_bytes()
    lines = raw.splitlines(keepends=True)
    write_atomically(keep / file.name, lines[line - 1 :])
    if line == 1:  # nothing of it stays: an empty segment would still say where it starts
        file.unlink()
        fsync_dir(file.parent)
    else:
        write_atomically(file, lines[: line - 1])  # the cut-off part is safe first
    moved = [file.name]
    for seg in r.segments:
        if not seg.archived and seg.path.name > file.name:
            shutil.move(str(seg.path), keep / seg.path.name)
            moved.append(seg.path.name)
    for snap in list_snapshots(r.data_dir / "snapshots"):
        if snap.seq >= _first_seq(file) + line - 1:
            shutil.move(str(snap.path), keep / snap.path.name)
    r.out.write(
        f"cut {file} at line {line} ({reason}); the cut-off part of {', '.join(moved)} is in {keep}\n"
    )
    return 0


def _first_seq(file: Path) -> int:
    return int(file.stem)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    data_dir = Path(args.data_dir)
    if not (data_dir / "events").is_dir():
        raise SystemExit(f"pager replay: {data_dir} is not a pager data folder (no events/ in it)")
    r = _Reader(data_dir, args.quiet, out)
    if args.verify:
        return verify(r)
    if args.at:
        try:
            at = parse_time(args.at)
        except ValueError:
            raise SystemExit(f"pager replay: --at {args.at!r} is not an ISO 8601 instant") from None
        return state_at(r, at)
    if args.incident:
        return timeline(r, args.incident)
    if args.export:
        return export(r, args.from_seq)
    if args.repair:
        return repair(r)
    return verify(r)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(p)
    return run(p.parse_args(argv))
