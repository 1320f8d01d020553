"""Snapshots of the whole state, written atomically, so start-up replays only the tail of
the log.

A snapshot file is `snapshots/<seq, 12 digits>.snap`: a header line
`{"v", "seq", "ts", "sha256", "size"}` and then the state as JSON. It is written to a
temporary file, fsynced, renamed into place and the folder fsynced, so a crash leaves either
the old set of snapshots or the new one. A snapshot whose body does not match its header is
skipped on load (and reported); the next older one is used.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from .base import Snapshot

__all__ = ["KEEP", "list_snapshots", "read_snapshot", "write_snapshot"]

KEEP = 3
SUFFIX = ".snap"


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    seq: int
    path: Path


def list_snapshots(snap_dir: Path) -> list[SnapshotFile]:
    out = [
        SnapshotFile(int(p.stem), p)
        for p in (snap_dir.iterdir() if snap_dir.is_dir() else ())
        if p.suffix == SUFFIX and p.stem.isdigit()
    ]
    out.sort(key=lambda s: s.seq, reverse=True)
    return out


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_snapshot(snap_dir: Path, seq: int, ts: datetime, state: Any) -> Path:
    """Blocking: run it in a thread."""
    body = orjson.dumps(state, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)
    header = orjson.dumps(
        {
            "v": 1,
            "seq": seq,
            "ts": ts,
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body),
        },
        option=orjson.OPT_UTC_Z,
    )
    final = snap_dir / f"{seq:012d}{SUFFIX}"
    tmp = snap_dir / f".{seq:012d}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(header + b"\n" + body)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    fsync_dir(snap_dir)
    for old in list_snapshots(snap_dir)[KEEP:]:
        old.path.unlink(missing_ok=True)
    return final


def read_snapshot(path: Path) -> Snapshot:
    """Raises ValueError when the file is not a whole, matching snapshot."""
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    try:
        meta = orjson.loads(head)
        seq, ts, digest, size = meta["seq"], meta["ts"], meta["sha256"], meta["size"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"bad header: {e}") from None
    if len(body) != size or hashlib.sha256(body).hexdigest() != digest:
        raise ValueError("body does not match its checksum (incomplete or damaged)")
    return Snapshot(int(seq), datetime.fromisoformat(ts), orjson.loads(body))
