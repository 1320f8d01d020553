"""`pager replay` (also `scripts/replay`): read a log without running the service: a data
folder (`--data-dir`, or the `data_dir` of `--config`), or, when the configuration says
`store: postgres`, the database's records and snapshots (pager/replay/sources.py).

  --verify          every line parses, sequence numbers have no gap, every event applies,
                    every snapshot matches the state replayed up to it; exit 1 on a problem
  --at TIME         the state at that instant (records stamped at or before it)
  --incident ID     one incident's timeline, from the log
  --export          every record as JSON lines on stdout (`--from SEQ` to start later)
  --repair          cut the log at its first damaged line; the cut-off part is kept in
                    events/damaged-<time>/ (refused while pager runs on the folder, and
                    on a database: a table has no torn tail)

Reading never changes the folder or the database and works while pager runs (it takes no
lock and no lease); only `--repair` writes. Segments that journal.retention archived
(archive/*.jsonl.gz) are read as part of the log; when it deleted the oldest ones, the log
is read from the oldest snapshot that the remaining records follow, and the tool says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
from tqdm import tqdm

from pager.core.state import SystemState
from pager.ingest.validate import parse_time
from pager.store.base import LogDamaged, LogTooNew, Record
from pager.store.lock import DirLock
from pager.store.snapshots import fsync_dir, json_default, list_snapshots, write_atomically

from .sources import FolderSource, PostgresSource, RecordSource, SnapshotRef

__all__ = ["add_arguments", "main", "run"]

_OPTS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the data folder (default: the store of --config, else ./pager-data)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="read the log this configuration keeps: its PostgreSQL database (store: postgres) "
        "or its data_dir (default: $PAGER_CONFIG)",
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
    """The tool's view of a `RecordSource`: where reading the whole log starts, and the
    records with a progress bar."""

    def __init__(self, source: RecordSource, quiet: bool, out: TextIO) -> None:
        self.source = source
        self.quiet = quiet
        self.out = out

    @property
    def first(self) -> int:
        """The oldest record in the log (past 1 when journal.retention deleted older ones)."""
        return self.source.first

    def base(self) -> tuple[SystemState, int | None]:
        """Where reading the whole log starts: the empty state, or, when the oldest records
        were deleted, the oldest snapshot the log continues (and its seq)."""
        if self.first <= 1:
            return SystemState(), None
        for snap in sorted(self.source.snapshots(), key=lambda x: x.seq):
            if snap.seq + 1 < self.first:
                continue
            try:
                return SystemState.from_snapshot(snap.load().state), snap.seq
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
        total = max(self.source.last_seq - start + 1, 0)
        bar = tqdm(
            total=total, unit=" records", unit_scale=True, desc="reading", file=sys.stderr,
            disable=self.quiet or total < 200_000 or None, leave=False,
        )  # fmt: skip
        n = 0
        try:
            for rec in self.source.records(start):
                n += 1
                if n & 0xFFF == 0:
                    bar.update(0x1000)
                yield rec
        finally:
            bar.close()


def _print(out: TextIO, obj: Any) -> None:
    out.write(orjson.dumps(obj, option=_OPTS | orjson.OPT_INDENT_2).decode() + "\n")


def verify(r: _Reader) -> int:
    problems: list[str] = []
    snaps = {s.seq: s for s in r.source.snapshots()}
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
                problems.extend(_compare_snapshot(snap, state))
    except LogDamaged as e:
        problems.append(str(e))
    for seq, s in snaps.items():
        if seq > state.last_seq:
            problems.append(
                f"{s.where}: snapshot at {seq} is past the log's end ({state.last_seq})"
            )
    for note in r.source.notes():
        r.out.write(f"note: {note}\n")
    r.out.write(
        f"{count} records in {r.source.describe()}, last seq {state.last_seq}; "
        f"{len(state.incidents)} incidents ({len(state.open_by_key)} open); "
        f"{checked_snaps} snapshot(s) checked\n"
    )
    for p in problems:
        r.out.write(f"problem: {p}\n")
    r.out.write("clean\n" if not problems else f"{len(problems)} problem(s)\n")
    return 0 if not problems else 1


def _compare_snapshot(ref: SnapshotRef, state: SystemState) -> list[str]:
    path = ref.where
    try:
        snap = ref.load()
    except (OSError, ValueError) as e:
        return [f"{path}: {e}"]

    def plain(s: SystemState) -> Any:
        data = s.to_snapshot()
        # timelines compared in words: a snapshot from before raw timeline entries holds
        # them so, and the same words are the same timeline (see pager.core.timeline)
        data["incidents"] = [dataclasses.replace(i, history=i.timeline) for i in data["incidents"]]
        return orjson.loads(orjson.dumps(data, option=_OPTS, default=json_default))

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
    if r.source.indexed_subjects:
        records = r.source.records_of(incident_id)
    else:  # read the whole log (with the progress bar), keep the incident's
        records = (rec for rec in r.records() if rec.subject == incident_id)
    for rec in records:
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


def repair(r: _Reader, folder: FolderSource) -> int:
    lock = DirLock(folder.data_dir)
    lock.acquire()  # raises DataDirLocked while pager runs on the folder
    try:
        try:
            for _ in r.records():
                pass
        except LogTooNew as e:  # a newer pager's records: cutting them would lose them
            raise SystemExit(f"pager replay: {e} Nothing was cut.") from None
        except LogDamaged as e:
            return _cut(r, folder, Path(e.file), e.line, e.reason)
        r.out.write("the log has no damage before its end; nothing to repair\n")
        return 0
    finally:
        lock.release()


def _cut(r: _Reader, folder: FolderSource, file: Path, line: int, reason: str) -> int:
    if file.parent != folder.events:
        raise SystemExit(
            f"pager replay: the damage is in the archive ({file}:{line}: {reason}); "
            "restore that file from a backup (pager backup)"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    keep = folder.events / f"damaged-{stamp}"
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
    for seg in folder.segments:
        if not seg.archived and seg.path.name > file.name:
            shutil.move(str(seg.path), keep / seg.path.name)
            moved.append(seg.path.name)
    for snap in list_snapshots(folder.data_dir / "snapshots"):
        if snap.seq >= _first_seq(file) + line - 1:
            shutil.move(str(snap.path), keep / snap.path.name)
    r.out.write(
        f"cut {file} at line {line} ({reason}); the cut-off part of {', '.join(moved)} is in {keep}\n"
    )
    return 0


def _first_seq(file: Path) -> int:
    return int(file.stem)


def open_source(args: argparse.Namespace) -> RecordSource:
    """The log to read: `--data-dir`; else the store of `--config` (or $PAGER_CONFIG): its
    PostgreSQL database, or its `data_dir`; else ./pager-data."""
    path = None if args.data_dir else (args.config or os.environ.get("PAGER_CONFIG"))
    if path:
        from pager.config.load import load_storage

        config = load_storage(path)  # only data_dir and store: other secrets need not be set
        if config.store.type == "postgres":
            if args.repair:
                raise SystemExit(
                    f"pager replay: --repair cuts a damaged JSON-lines folder; {path} keeps its "
                    "log in PostgreSQL, where a table has no torn tail and pager never rewrites a "
                    "row. Nothing was changed. `--verify` says what is wrong; for damage, restore "
                    "the database from its own backups"
                )
            try:
                return PostgresSource(str(config.store.dsn))
            except OSError as e:
                raise SystemExit(f"pager replay: {e}") from None
        data_dir = Path(config.data_dir)
    else:
        data_dir = Path(args.data_dir or "pager-data")
    if not (data_dir / "events").is_dir():
        raise SystemExit(f"pager replay: {data_dir} is not a pager data folder (no events/ in it)")
    return FolderSource(data_dir)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    at = None
    if args.at:
        try:
            at = parse_time(args.at)
        except ValueError:
            raise SystemExit(f"pager replay: --at {args.at!r} is not an ISO 8601 instant") from None
    source = open_source(args)
    r = _Reader(source, args.quiet, out)
    try:
        if at is not None:
            return state_at(r, at)
        if args.incident:
            return timeline(r, args.incident)
        if args.export:
            return export(r, args.from_seq)
        if args.repair and isinstance(source, FolderSource):
            return repair(r, source)
        return verify(r)
    finally:
        source.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(p)
    return run(p.parse_args(argv))
