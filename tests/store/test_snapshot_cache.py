"""Snapshots written through the log's cache of unchanged items (store/snapshots.py
`ItemCache`): the same bytes as without it, on a real state (the replay fixture's, its open
incident and notifications cloned into many), before and after incidents change, arrive
and leave; a changed incident written anew; the cache holding only the last snapshot's
items; a snapshot written while the cache is taken, or one that fails, leaving it as it was; the
same through the PostgreSQL log."""

from __future__ import annotations

import gc
import shutil
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trio

from pager.core.archive import summarize
from pager.core.model import Incident, Status
from pager.core.state import SystemState
from pager.replay.load import load_state
from pager.store import snapshots
from pager.store.jsonl import JsonlLog
from pager.store.snapshots import ItemCache, read_snapshot, snapshot_body, write_snapshot

from ..fixtures.replay.make import DATA
from .conftest import T0, active_postgres_log, draft

N = 40  # open incidents; CHUNK is made 7 so their list goes out in several pieces


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "CHUNK", 7)


@pytest.fixture
def state(tmp_path: Path) -> SystemState:
    return cloned_state(tmp_path)


def cloned_state(tmp_path: Path) -> SystemState:
    """The fixture's state, its open incident (and its notifications) cloned N times."""
    data = tmp_path / "fixture"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("LOCK"))
    log = JsonlLog.open(data)
    try:
        st, _ = load_state(log, use_snapshot=False)
    finally:
        log.release()
    (model,) = [i for i in st.incidents.values() if i.status is not Status.RESOLVED]
    notes = [n for n in st.notifications.by_id.values() if n.incident_id == model.id]
    assert notes and st.archive == {} and len(st.incidents) == 3
    for k in range(N):
        add_incident(st, model, 100 + k)
    for n in list(notes):
        for k in range(N):
            clone = replace(n, id=f"{n.id}-{k}", incident_id=f"inc-{100 + k}")
            st.notifications.by_id[clone.id] = clone
    # archived summaries too (a named tuple, serialized through json_default)
    st.archive = {iid: summarize(st.incidents.pop(iid)) for iid in ("inc-1", "inc-2")}
    return st


def add_incident(st: SystemState, model: Incident, number: int) -> Incident:
    inc = replace(model, id=f"inc-{number}", number=number, dedup_key=f"key-{number}")
    st.incidents[inc.id] = inc
    return inc


def plain(tmp_path: Path, snap: dict[str, object], seq: int = 7) -> bytes:
    """The snapshot file as written without a cache."""
    folder = tmp_path / "plain"
    folder.mkdir(exist_ok=True)
    return write_snapshot(folder, seq, T0, snap).read_bytes()


def cached(tmp_path: Path, snap: dict[str, object], cache: ItemCache) -> bytes:
    folder = tmp_path / "cached"
    folder.mkdir(exist_ok=True)
    return write_snapshot(folder, 7, T0, snap, cache).read_bytes()


def items(snap: dict[str, Any]) -> int:
    """How many items of the snapshot the cache takes (its lists' immutable items, in
    dictionaries inside it too: the changes recorded of each service, storm mode's
    bundles)."""
    return (
        sum(len(snap[k]) for k in ("incidents", "archive", "notifications", "maintenance"))
        + sum(len(changes) for changes in snap["changes"].values())
        + len(snap["bundles"]["bundles"])
    )


def test_the_bytes_are_those_written_without_the_cache(state: SystemState, tmp_path: Path) -> None:
    cache = ItemCache()
    snap = state.to_snapshot()
    assert len(snap["incidents"]) == N + 1 and len(snap["archive"]) == 2
    first = cached(tmp_path, snap, cache)
    assert first == plain(tmp_path, snap)
    assert (cache.hits, cache.misses) == (0, items(snap)) and len(cache) == items(snap)

    # nothing changed: every item from the cache, the same bytes
    snap = state.to_snapshot()
    assert cached(tmp_path, snap, cache) == first
    assert (cache.hits, cache.misses) == (items(snap), 0)

    # one incident changed, one added, one resolved and dropped, a notification changed
    model = state.incidents["inc-105"]
    changed = replace(model, title="Disk full, now on every replica", updated_at=T0)
    state.incidents["inc-105"] = changed
    added = add_incident(state, model, 900)
    gone = state.incidents.pop("inc-110")
    note = next(n for n in state.notifications.by_id.values() if n.incident_id == "inc-107")
    state.notifications.by_id[note.id] = replace(note, attempts=note.attempts + 5)
    snap = state.to_snapshot()
    again = cached(tmp_path, snap, cache)
    assert again == plain(tmp_path, snap)
    assert again != first
    assert cache.misses == 3 and cache.hits == items(snap) - 3
    assert len(cache) == items(snap)  # the dropped incident is no longer held

    loaded = read_snapshot(tmp_path / "cached" / f"{7:012d}.snap").state
    by_id = {i["id"]: i for i in loaded["incidents"]}
    assert by_id["inc-105"]["title"] == "Disk full, now on every replica"
    assert "inc-900" in by_id and gone.id not in by_id and added.number == 900
    # and what start-up builds from it is the state
    assert SystemState.from_snapshot(loaded).incidents["inc-105"] == changed


def test_a_changed_incident_is_written_anew_not_from_its_old_bytes(
    state: SystemState, tmp_path: Path
) -> None:
    cache = ItemCache()
    cached(tmp_path, state.to_snapshot(), cache)
    state.incidents["inc-100"] = replace(state.incidents["inc-100"], title="renamed")
    raw = cached(tmp_path, state.to_snapshot(), cache)
    assert b'"title":"renamed"' in raw
    assert raw == plain(tmp_path, state.to_snapshot())


def test_the_cache_lets_go_of_items_no_longer_in_a_snapshot(tmp_path: Path) -> None:
    @dataclass(frozen=True)  # not slots: it can have weak references
    class Item:
        n: int

    cache = ItemCache()
    kept, dropped = Item(1), Item(2)
    ref = weakref.ref(dropped)
    snap: dict[str, object] = {"items": [kept, dropped]}
    assert cached(tmp_path, snap, cache) == plain(tmp_path, snap)
    del snap, dropped
    gc.collect()
    assert ref() is not None  # held by the cache while it is the last snapshot's
    snap = {"items": [kept, Item(3)]}
    assert cached(tmp_path, snap, cache) == plain(tmp_path, snap)
    assert cache.hits == 1
    gc.collect()
    assert ref() is None


def test_mutable_items_and_short_or_empty_lists_are_written_as_before(tmp_path: Path) -> None:
    @dataclass  # not frozen: never kept
    class Loose:
        n: int

    @dataclass(frozen=True)
    class Fixed:
        n: int

    loose = Loose(1)
    cache = ItemCache()
    summary_like = {
        "mixed": [Fixed(1), loose, Fixed(2)] * 4,
        "a": [],
        "b": [[1, T0]] * 20,
        "c": [loose, Loose(2)] * 5,
        "d": {"x": [1]},
        "e": "s",
    }
    assert cached(tmp_path, summary_like, cache) == plain(tmp_path, summary_like)
    assert len(cache) == 2  # the two Fixed ones (each listed four times)
    loose.n = 5  # a mutable item changed in place: written anew
    assert cached(tmp_path, summary_like, cache) == plain(tmp_path, summary_like)
    assert b'{"n":5}' in cached(tmp_path, summary_like, cache)


def test_a_snapshot_written_while_the_cache_is_taken_goes_without_it(
    state: SystemState, tmp_path: Path
) -> None:
    cache = ItemCache()
    cached(tmp_path, state.to_snapshot(), cache)
    held = len(cache)
    state.incidents["inc-101"] = replace(state.incidents["inc-101"], title="other")
    snap = state.to_snapshot()
    with cache.use() as taken:  # as another thread writing a snapshot would
        assert taken is not None
        assert cached(tmp_path, snap, cache) == plain(tmp_path, snap)
        assert snapshot_body(snap, cache) + b"\n" in plain(tmp_path, snap)
    assert (cache.hits, cache.misses, len(cache)) == (0, held, held)  # untouched


def test_a_failed_snapshot_leaves_the_cache_as_it_was(state: SystemState, tmp_path: Path) -> None:
    cache = ItemCache()
    cached(tmp_path, state.to_snapshot(), cache)
    held = len(cache)
    state.incidents.pop("inc-100")
    with pytest.raises(OSError):
        write_snapshot(tmp_path / "missing", 7, T0, state.to_snapshot(), cache)
    assert len(cache) == held
    snap = state.to_snapshot()
    assert cached(tmp_path, snap, cache) == plain(tmp_path, snap)
    assert len(cache) == items(snap) < held


async def test_the_log_keeps_its_cache_across_snapshots(state: SystemState, tmp_path: Path) -> None:
    with trio.fail_after(20):
        lg = JsonlLog.open(tmp_path / "data")
        try:
            await lg.save_snapshot(0, T0, state.to_snapshot())
            state.incidents["inc-102"] = replace(state.incidents["inc-102"], title="again")
            snap = state.to_snapshot()
            await lg.save_snapshot(0, T0, snap)
            assert lg.snapshot_cache.misses == 1
            assert lg.snapshot_cache.hits == items(snap) - 1
            loaded = lg.load_snapshot()
        finally:
            lg.release()
    written = (tmp_path / "data" / "snapshots" / f"{0:012d}.snap").read_bytes()
    assert written == plain(tmp_path, snap, seq=0)
    assert loaded is not None
    assert SystemState.from_snapshot(loaded.state).incidents["inc-102"].title == "again"


async def test_postgres_stores_the_same_body_through_its_cache(
    state: SystemState, pg_dsn: str, nursery: trio.Nursery
) -> None:
    with trio.fail_after(30):
        writer = await active_postgres_log(pg_dsn, nursery, node="writer")
        try:
            await writer.append([draft(1), draft(2)])
            await writer.save_snapshot(1, T0, state.to_snapshot())
            state.incidents["inc-103"] = replace(state.incidents["inc-103"], title="pg")
            snap = state.to_snapshot()
            await writer.save_snapshot(2, T0, snap)
            assert writer.snapshot_cache.misses == 1
            assert writer.snapshot_cache.hits == items(snap) - 1
            with psycopg.connect(pg_dsn) as conn:
                row = conn.execute("SELECT body FROM pager_snapshots WHERE seq = 2").fetchone()
            assert row is not None and bytes(row[0]) == snapshot_body(snap)
            loaded = writer.load_snapshot()
            assert loaded is not None and loaded.seq == 2
            assert SystemState.from_snapshot(loaded.state).incidents["inc-103"].title == "pg"
        finally:
            await writer.close()


def test_an_item_holding_the_marker_between_serialized_items_is_still_written_right(
    tmp_path: Path,
) -> None:
    @dataclass(frozen=True)
    class Item:
        tags: tuple[str, ...]

    tricky = [Item(("a", snapshots._MARK, "b")), Item((snapshots._MARK,)), Item(())]
    snap: dict[str, object] = {"items": tricky * 3}
    cache = ItemCache()
    assert cached(tmp_path, snap, cache) == plain(tmp_path, snap)
    assert cache.misses == 9 and len(cache) == 3  # each listed three times
    assert cached(tmp_path, snap, cache) == plain(tmp_path, snap)
    assert cache.hits == 9
