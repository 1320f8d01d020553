"""Snapshots of the whole state, written atomically, so start-up replays only the tail of
the log.

A snapshot file is `snapshots/<seq, 12 digits>.snap`: the state as one line of JSON, then a
trailer line `{"v", "seq", "ts", "sha256", "size"}` over that body. The file is written to a
temporary name, fsynced, renamed into place and the folder fsynced, so a crash leaves either
the old set of snapshots or the new one. A snapshot whose body does not match its trailer is
skipped on load (and reported); the next older one is used.

Both stores make a snapshot here, in their worker thread, and the event loop shares CPython's
interpreter lock with it. So the state comes as a function that builds it
(`SystemState.capture().to_snapshot`: only the capture ran on the loop) and is called here,
and the body is made in pieces (long lists a thousand items at a time, dictionaries value by
value, long strings a megabyte at a time): a snapshot of a large state never sits in memory
as one buffer, and no one call keeps the lock long. Every half millisecond of that work, at
the end of a piece, the thread sleeps a moment (`Pacer`), which hands the lock to the event
loop if it waits for it (else the loop, woken meanwhile, waits up to the interpreter's switch
interval, 5 ms, at every wake-up). The bytes are those of `orjson.dumps(state)`. (The
PostgreSQL store takes the pieces, `snapshot_pieces`, and sends them to its row a block at a
time with the same pauses: pg_writer.py.)

Most of a snapshot is the state's long lists of immutable values (open incidents, their
notifications, the archive's summaries), and most of those are the very objects the last
snapshot wrote: an `ItemCache`, one per log, keeps each such item's JSON by identity from one
snapshot to the next, so an unchanged item is written from its bytes and only new or changed
ones (a changed value is a new object) are serialized. The bytes are the same with or
without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from pager.core.pacing import still

from .base import Snapshot

__all__ = [
    "KEEP",
    "ItemCache",
    "Pacer",
    "checked_snapshot",
    "list_snapshots",
    "read_snapshot",
    "snapshot_body",
    "snapshot_pieces",
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
STR_PIECE = 1 << 20  # characters of a long string serialized in one call
# the worker's pauses: after this much work since the last one (pieces are shorter, most far
# shorter), a sleep this long (the kernel makes it some 50-60 us), so that the event loop's
# thread, when it waits for the interpreter's lock, is woken and takes it (a sleep(0) gives
# the lock back to this thread as often as not, before that one is awake)
PACE = 0.0005
PAUSE = 20e-6


class Pacer:
    """The pauses of one snapshot's work in the worker thread (`pause`), called between
    pieces: a short sleep once the work since the last one reaches PACE."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since = time.perf_counter()

    def pause(self) -> None:
        if time.perf_counter() - self.since >= PACE:
            time.sleep(PAUSE)
            self.since = time.perf_counter()


def _built(state: Any, pacer: Pacer) -> tuple[Any, bool]:
    """The state to write: `state`, or what it builds when it is a function (called here,
    in the worker thread, with the pacer's `pause`); and whether it was built here."""
    if callable(state):
        return state(pacer.pause), True
    return state, False


def _let_go(state: dict[str, Any], pacer: Pacer) -> None:
    """Drop a state built here a part at a time (freeing it whole is one call of some 3 ms
    at 36,000 incidents, all the while holding the interpreter's lock)."""
    while state:
        value = state.popitem()[1]
        if type(value) is dict:
            _let_go(value, pacer)
        del value
        pacer.pause()


# items missing from the cache are serialized this many at a time: about a millisecond of
# the interpreter's lock for incidents (a whole CHUNK held it ten, a tail on the event loop)
MISS_RUN = 100
# a marker between items serialized together (`_serialize`): a string no state holds (it
# starts with NUL and is random per process), so the bytes between markers are the items
_MARK = "\x00pager-snapshot-" + secrets.token_hex(16)
_SEP = b"," + orjson.dumps(_MARK) + b","


def _serialize(items: list[Any]) -> list[bytes]:
    """Each item's JSON, as `orjson.dumps(items)` writes it, from one call: the items with
    markers between them, split at the markers. (One call per item costs more, and orjson's
    result for one item of an incident's size takes about four times its length in memory.) A
    marker in an array is `,"<marker>",` outside any string, since a quote inside a string
    is escaped; were one in an item, the count shows it and each is serialized alone."""
    if len(items) == 1:
        return [orjson.dumps(items[0], option=_OPTS, default=json_default)]
    marked: list[Any] = [_MARK] * (2 * len(items) - 1)
    marked[::2] = items
    out = orjson.dumps(marked, option=_OPTS, default=json_default).split(_SEP)
    if len(out) != len(items):
        return [orjson.dumps(i, option=_OPTS, default=json_default) for i in items]
    out[0] = out[0][1:]
    out[-1] = out[-1][:-1]
    return out


def _keepable(kind: type) -> bool:
    """Items of this type are immutable values: frozen dataclasses and named tuples (the
    state's contract, SystemState.to_snapshot, is that what it hands over never changes)."""
    if dataclasses.is_dataclass(kind):
        return bool(kind.__dataclass_params__.frozen)  # type: ignore[attr-defined]
    return issubclass(kind, tuple) and hasattr(kind, "_fields")


class ItemCache:
    """The JSON of the items of the last snapshot's lists, by identity (`id`, with the object
    itself kept and compared by `is`, so an id reused by another object never matches).

    One per log, used by the thread writing a snapshot; snapshots are written one at a time,
    and one started while another is being written goes without the cache (the same bytes,
    only slower) rather than share it. After a snapshot is written the cache holds that
    snapshot's items only, so it keeps no incident the state has dropped; a snapshot file
    that fails to be written leaves the cache as it was. (The PostgreSQL store commits it
    once the body is built, before the row is stored: each item's bytes are its own JSON
    whether or not that row was stored.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # two dicts, not one of pairs: ints and bytes are not tracked by the garbage
        # collector, so the JSON costs it nothing
        self._objs: dict[int, object] = {}
        self._json: dict[int, bytes] = {}
        self._kinds: dict[type, bool] = {}
        self.hits = 0  # items of the last snapshot written from the cache
        self.misses = 0  # and serialized

    def __len__(self) -> int:
        return len(self._objs)

    @property
    def size(self) -> int:
        """Bytes of JSON held."""
        return sum(len(b) for b in self._json.values())

    @contextmanager
    def use(self, pause: Callable[[], object] = still) -> Iterator[_Pass | None]:
        """A pass for one snapshot (None while another holds one), which calls `pause`
        between pieces of its work; `commit()` it once the snapshot is written."""
        if not self._lock.acquire(blocking=False):
            yield None
            return
        try:
            yield _Pass(self, pause)
        finally:
            self._lock.release()


class _Pass:
    """One snapshot's use of an `ItemCache`: reads the last snapshot's items, gathers this
    one's."""

    __slots__ = ("cache", "hits", "json", "misses", "objs", "pause")

    def __init__(self, cache: ItemCache, pause: Callable[[], object]) -> None:
        self.cache = cache
        self.pause = pause
        self.objs: dict[int, object] = {}
        self.json: dict[int, bytes] = {}
        self.hits = 0
        self.misses = 0

    def keeps(self, item: object) -> bool:
        kinds = self.cache._kinds
        kind = type(item)
        keep = kinds.get(kind)
        if keep is None:
            keep = kinds[kind] = _keepable(kind)
        return keep

    def list_pieces(self, items: list[Any]) -> Iterator[bytes]:
        """`orjson.dumps(items)` in pieces of at most CHUNK items: the same bytes, each
        item's JSON from the cache when it `is` the object the last snapshot wrote, the
        others serialized (`_serialize`) a few at a time."""
        old_objs, old_json = self.cache._objs, self.cache._json
        objs, json = self.objs, self.json
        hits = misses = 0
        sep = b"["
        for j in range(0, len(items), CHUNK):
            part = items[j : j + CHUNK]
            out: list[bytes] = []
            missed: list[int] = []  # indexes in `part` (and `out`) to serialize
            for item in part:
                key = id(item)
                if old_objs.get(key) is item:
                    data = old_json[key]
                    objs[key] = item
                    json[key] = data
                    out.append(data)
                else:
                    missed.append(len(out))
                    out.append(b"")
            hits += len(part) - len(missed)
            for m in range(0, len(missed), MISS_RUN):
                if m:
                    self.pause()
                run = missed[m : m + MISS_RUN]
                for i, data in zip(run, _serialize([part[i] for i in run]), strict=True):
                    out[i] = data
                    item = part[i]
                    if self.keeps(item):
                        misses += 1
                        objs[id(item)] = item
                        json[id(item)] = data
            yield sep + b",".join(out)
            sep = b","
        yield b"]" if items else b"[]"
        self.hits += hits
        self.misses += misses

    def commit(self) -> None:
        """The snapshot was written: from now on the cache holds its items, and only them."""
        cache = self.cache
        cache._objs, cache._json = self.objs, self.json
        cache.hits, cache.misses = self.hits, self.misses


def _pieces(state: Any, cache: _Pass | None = None) -> Iterator[bytes]:
    """The JSON of `state` (`orjson.dumps(state)`, the same bytes) in pieces: a dictionary
    (of string keys) value by value, a list CHUNK items at a time (with a cache, its
    immutable items from it), a long string STR_PIECE characters at a time."""
    if type(state) is dict and all(type(k) is str for k in state):
        yield b"{"
        for i, (key, value) in enumerate(state.items()):
            yield (b"," if i else b"") + orjson.dumps(key) + b":"
            yield from _pieces(value, cache)
        yield b"}"
    elif isinstance(state, list) and cache is not None and state and cache.keeps(state[0]):
        yield from cache.list_pieces(state)
    elif isinstance(state, list) and len(state) > CHUNK:
        yield b"["
        for j in range(0, len(state), CHUNK):
            chunk = orjson.dumps(state[j : j + CHUNK], option=_OPTS, default=json_default)[1:-1]
            yield (b"," if j else b"") + chunk
        yield b"]"
    elif type(state) is str and len(state) > STR_PIECE:
        # (escaping in JSON is character by character: the pieces' inner parts are the whole's)
        yield b'"'
        for j in range(0, len(state), STR_PIECE):
            yield orjson.dumps(state[j : j + STR_PIECE])[1:-1]
        yield b'"'
    else:
        yield orjson.dumps(state, option=_OPTS, default=json_default)


def _paced(pieces: Iterator[bytes], pacer: Pacer) -> Iterator[bytes]:
    """`pieces`, with the pacer's `pause` after each."""
    for piece in pieces:
        yield piece
        pacer.pause()


def snapshot_pieces(
    state: Any, cache: ItemCache | None = None, pacer: Pacer | None = None
) -> list[bytes]:
    """The snapshot's JSON as a list of pieces, one after another (the PostgreSQL store
    sends them to its row a block at a time, pg_writer.py, never as one buffer: joining
    them, some 60-90 MB at 36,000 open incidents, would be one long call). Blocking: run it
    in a thread (`state` may be a function that builds it, see the module's docstring),
    with `pacer` the pauses of the whole write."""
    pacer = pacer or Pacer()
    state, built = _built(state, pacer)
    if cache is None:
        pieces = list(_paced(_pieces(state), pacer))
    else:
        with cache.use(pacer.pause) as got:
            pieces = list(_paced(_pieces(state, got), pacer))
            if got is not None:
                got.commit()
    if built and type(state) is dict:
        _let_go(state, pacer)
    return pieces


def snapshot_body(state: Any, cache: ItemCache | None = None) -> bytes:
    """The snapshot's JSON as one buffer (`snapshot_pieces` joined). Blocking."""
    return b"".join(snapshot_pieces(state, cache))


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


def write_snapshot(
    snap_dir: Path, seq: int, ts: datetime, state: Any, cache: ItemCache | None = None
) -> Path:
    """Blocking: run it in a thread. With `cache`, unchanged items are written from it (the
    same bytes). `state` may be a function that builds it (see the module's docstring)."""
    final = snap_dir / f"{seq:012d}{SUFFIX}"
    pacer = Pacer()
    state, built = _built(state, pacer)

    def checked(got: _Pass | None) -> Iterator[bytes]:  # the pieces, then their trailer
        digest = hashlib.sha256()
        size = 0
        for piece in _paced(_pieces(state, got), pacer):
            digest.update(piece)
            size += len(piece)
            yield piece
        trailer = orjson.dumps(
            {"v": 2, "seq": seq, "ts": ts, "sha256": digest.hexdigest(), "size": size},
            option=orjson.OPT_UTC_Z,
        )
        yield b"\n" + trailer + b"\n"

    if cache is None:
        write_atomically(final, checked(None))
    else:
        with cache.use(pacer.pause) as got:
            write_atomically(final, checked(got))
            if got is not None:
                got.commit()
    if built and type(state) is dict:
        _let_go(state, pacer)
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
