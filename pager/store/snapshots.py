"""Snapshots of the whole state, written atomically, so start-up replays only the tail of
the log.

A snapshot file is `snapshots/<seq, 12 digits>.snap`: the state as one line of JSON, then a
trailer line `{"v", "seq", "ts", "sha256", "size"}` over that body. The body is written in
pieces (long lists a thousand items at a time), so a snapshot of a large state never sits in
memory as one buffer and the event loop gets the interpreter between pieces. The file is
written to a temporary name, fsynced, renamed into place and the folder fsynced, so a crash
leaves either the old set of snapshots or the new one. A snapshot whose body does not match
its trailer is skipped on load (and reported); the next older one is used.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from .base import Snapshot

__all__ = [
    "KEEP",
    "checked_snapshot",
    "list_snapshots",
    "read_snapshot",
    "write_atomically",
    "write_snapshot",
]

KEEP = 3
SUFFIX = ".snap"
_OPTS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def json_default(obj: Any) -> Any:
    """orjson writes plain tuples but not their subclasses (named tuples): as arrays."""
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


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


CHUNK = 1000


def _pieces(state: Any) -> Iterator[bytes]:
    """The JSON of `state` in pieces: a dict's list values go out CHUNK items at a time."""
    if not isinstance(state, dict):
        yield orjson.dumps(state, option=_OPTS, default=json_default)
        return
    yield b"{"
    for i, (key, value) in enumerate(state.items()):
        yield (b"," if i else b"") + orjson.dumps(str(key)) + b":"
        if isinstance(value, list) and len(value) > CHUNK:
            yield b"["
            for j in range(0, len(value), CHUNK):
                chunk = orjson.dumps(value[j : j + CHUNK], option=_OPTS, default=json_default)[1:-1]
                yield (b"," if j else b"") + chunk
            yield b"]"
        else:
            yield orjson.dumps(value, option=_OPTS, default=json_default)
    yield b"}"


def write_atomically(path: Path, pieces: Iterable[bytes]) -> None:
    """Replace `path` (mode 0600) with the pieces, one after another: through a temporary
    file, fsynced, renamed over it and the folder fsynced, so that a crash leaves the old
    file or the new one. Blocking."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20, closefd=False) as out:
            for piece in pieces:
                out.write(piece)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_snapshot(snap_dir: Path, seq: int, ts: datetime, state: Any) -> Path:
    """Blocking: run it in a thread."""
    final = snap_dir / f"{seq:012d}{SUFFIX}"

    def checked() -> Iterator[bytes]:  # the state's pieces, then the trailer that checks them
        digest = hashlib.sha256()
        size = 0
        for piece in _pieces(state):
            digest.update(piece)
            size += len(piece)
            yield piece
        trailer = orjson.dumps(
            {"v": 2, "seq": seq, "ts": ts, "sha256": digest.hexdigest(), "size": size},
            option=orjson.OPT_UTC_Z,
        )
        yield b"\n" + trailer + b"\n"

    write_atomically(final, checked())
    for old in list_snapshots(snap_dir)[KEEP:]:
        old.path.unlink(missing_ok=True)
    return final


def read_snapshot(path: Path) -> Snapshot:
    """Raises ValueError when the file is not a whole, matching snapshot."""
    body, meta = checked_snapshot(path.read_bytes())
    return Snapshot(int(meta["seq"]), datetime.fromisoformat(meta["ts"]), orjson.loads(body))


def checked_snapshot(raw: bytes) -> tuple[bytes, dict[str, Any]]:
    """The body and trailer of a snapshot file's bytes; ValueError unless its checksum holds."""
    body, sep, trailer = raw.rstrip(b"\n").rpartition(b"\n")
    if not sep:
        raise ValueError("no trailer line (incomplete)")
    try:
        meta = orjson.loads(trailer)
        digest, size, _, _ = meta["sha256"], meta["size"], meta["seq"], meta["ts"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"bad trailer: {e}") from None
    if len(body) != size or hashlib.sha256(body).hexdigest() != digest:
        raise ValueError("body does not match its checksum (incomplete or damaged)")
    return body, meta
