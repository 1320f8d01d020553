"""The collector's young threshold follows how fast the service makes objects: small when
it is quiet (short pauses), large in a storm (fewer collections), coming down slowly; in a
storm the new objects are frozen before a young collection scans them; a full collection
runs once what exists grew by a share since the last one (or a day passed), at a quiet
moment (no page due), never merely because an hour passed; and its pauses are counted for
/metrics."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio
import trio.testing

from pager.actors import collector
from pager.actors.collector import (
    ADAPT_EVERY,
    DECAY,
    FULL_AT_LEAST_EVERY,
    FULL_GROWTH,
    FULL_MIN_GROWTH,
    FULL_WAITS_AT_MOST,
    OLDER,
    QUIET_AHEAD,
    YOUNG_MAX,
    YOUNG_MIN,
    YOUNG_PER_SECOND,
    FullCollections,
    run_collector,
    young_threshold,
)
from pager.actors.messages import Ingest
from pager.actors.supervisor import quiet_moment
from pager.clock import TrioWallClock
from pager.config import load_config_text
from pager.core.commands import TriggerAlert
from pager.store.memory import MemoryLog

from ..harness import running_pager


@pytest.fixture
def gc_restored() -> Iterator[None]:
    """The tests change process-wide collector settings: put them back."""
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
        if collector.PAUSES in gc.callbacks:  # (installed by run_collector)
            gc.callbacks.remove(collector.PAUSES)


def test_quiet_service_gets_the_smallest_threshold() -> None:
    assert young_threshold(0) == YOUNG_MIN
    assert young_threshold(100 * YOUNG_PER_SECOND) == YOUNG_MIN


def test_threshold_gives_about_the_target_collections_a_second() -> None:
    assert young_threshold(10_000 * YOUNG_PER_SECOND) == 10_000


def test_storm_gets_the_largest_threshold_and_no_more() -> None:
    assert young_threshold(10_000_000) == YOUNG_MAX


def test_threshold_rises_at_once_but_comes_down_slowly() -> None:
    assert young_threshold(YOUNG_MAX * YOUNG_PER_SECOND, YOUNG_MIN) == YOUNG_MAX
    once = young_threshold(0, YOUNG_MAX)
    assert once == int(YOUNG_MAX * DECAY)
    t = YOUNG_MAX
    for _ in range(200):
        t = young_threshold(0, t)
    assert t == YOUNG_MIN


async def test_collector_raises_the_threshold_while_objects_pile_up_then_lowers_it(
    gc_restored: None, autojump_clock: trio.testing.MockClock
) -> None:
    collector.tune()
    assert gc.get_threshold() == (YOUNG_MIN, *OLDER)
    kept: list[list[int]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(run_collector)
        # a storm: 100,000 new container objects a second that stay alive
        with trio.move_on_after(10):
            while gc.get_threshold()[0] < YOUNG_MAX:
                kept.extend([i] for i in range(10_000))
                await trio.sleep(0.1)
        assert gc.get_threshold()[0] == YOUNG_MAX
        # quiet again: it comes down, not at once
        await trio.sleep(3 * ADAPT_EVERY)
        assert YOUNG_MIN < gc.get_threshold()[0] < YOUNG_MAX
        with trio.move_on_after(600):
            while gc.get_threshold()[0] > YOUNG_MIN:
                await trio.sleep(ADAPT_EVERY)
        assert gc.get_threshold()[0] == YOUNG_MIN
        nursery.cancel_scope.cancel()


async def test_rate_counts_new_objects_across_collections_and_a_freeze(
    gc_restored: None, autojump_clock: trio.testing.MockClock
) -> None:
    collector.tune(YOUNG_MIN)
    rate = collector._Rate()
    kept = [[i] for i in range(50_000)]  # 50,000 new tracked lists: ~25 young collections
    await trio.sleep(2)
    made = rate.take(YOUNG_MIN)
    assert 20_000 <= made <= 30_000  # 50,000 objects in 2 s, within a collection or two
    # freezing sets the young count back to 0: the rate keeps what was made until then
    # (reset), else the next look would see the drop as objects freed
    more = [[i] for i in range(1_500)]
    rate.reset(YOUNG_MIN)
    gc.freeze()
    more += [[i] for i in range(1_000)]
    await trio.sleep(1)
    assert 2_400 <= rate.take(YOUNG_MIN) <= 2_700
    assert len(kept) + len(more) == 52_500


async def _storm(seconds: float, per_tick: int) -> tuple[int, list[list[int]]]:
    """`per_tick` new long-lived objects every 0.05 s: the young collections meanwhile."""
    young = gc.get_stats()[0]["collections"]
    kept: list[list[int]] = []
    with trio.move_on_after(seconds):
        while True:
            kept.extend([i] for i in range(per_tick))
            await trio.sleep(0.05)
    return gc.get_stats()[0]["collections"] - young, kept


async def test_a_storm_is_frozen_before_a_young_collection_scans_it(
    gc_restored: None, autojump_clock: trio.testing.MockClock
) -> None:
    # 50,000 objects a second: without the collector looking, the threshold at its largest
    # lets 20,000 pile up and scans them (a young collection every 0.4 s)
    collector.tune(YOUNG_MAX)
    collections, kept = await _storm(4, 2_500)
    assert collections >= 8
    del kept
    collector.tune(YOUNG_MAX)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_collector)
        frozen = gc.get_freeze_count()
        collections, kept = await _storm(4, 2_500)
        assert collections == 0
        assert gc.get_freeze_count() - frozen >= len(kept)
        nursery.cancel_scope.cancel()


async def test_a_quiet_service_keeps_its_young_collections(
    gc_restored: None, autojump_clock: trio.testing.MockClock
) -> None:
    # 2,000 objects a second: the collector freezes them only every few seconds, so the
    # young collections (of 2,000 objects: short) go on and find cyclic garbage at once
    collector.tune()
    async with trio.open_nursery() as nursery:
        await nursery.start(run_collector)
        collections, kept = await _storm(4, 100)
        assert collections >= 2
        nursery.cancel_scope.cancel()
    assert len(kept) >= 7_000


def test_pauses_are_counted_by_generation() -> None:
    pauses = collector.Pauses()
    gc.callbacks.append(pauses)
    try:
        gc.collect(0)
        gc.collect()
    finally:
        gc.callbacks.remove(pauses)
    assert [sum(b) for b in pauses.buckets] == [1, 0, 1]
    assert pauses.seconds[2] > 0


# -- full collections: when they are due, and when they run


def test_a_full_collection_is_due_once_what_exists_grew_by_a_share() -> None:
    big = 10 * FULL_MIN_GROWTH  # 25% of it is more than the least growth
    full = FullCollections(big, 0.0)
    assert not full.due(big, 60.0)
    assert not full.due(big + int(FULL_GROWTH * big) - 1, 60.0)
    assert full.due(big + int(FULL_GROWTH * big), 60.0)
    # a small process: the least growth counts
    small = FullCollections(1000, 0.0)
    assert not small.due(1000 + FULL_MIN_GROWTH - 1, 60.0)
    assert small.due(1000 + FULL_MIN_GROWTH, 60.0)


def test_an_hour_without_growth_does_not_make_a_full_collection_due_but_a_day_does() -> None:
    full = FullCollections(1_000_000, 0.0)
    assert not full.due(1_000_000, 3600.0)  # what the hourly collection used to do
    assert not full.due(1_100_000, FULL_AT_LEAST_EVERY - 1)
    assert full.due(900_000, FULL_AT_LEAST_EVERY)  # the cycles of what died in place


def test_a_due_full_collection_waits_for_a_quiet_moment_but_not_for_ever() -> None:
    full = FullCollections(1000, 0.0)
    grown = 1000 + FULL_MIN_GROWTH

    def never() -> bool:
        return False

    def always() -> bool:
        return True

    assert not full.now(1000, 10.0, always)  # not due: quiet or not
    assert not full.now(grown, 20.0, never)  # due from 20 s on, busy
    assert not full.now(grown, 20.0 + FULL_WAITS_AT_MOST - 1, never)
    assert full.now(grown, 21.0, always)  # the first quiet moment
    assert full.now(grown, 20.0 + FULL_WAITS_AT_MOST, never)  # busy for too long: now
    full.ran(grown, 20.0 + FULL_WAITS_AT_MOST)
    assert not full.now(grown, 30.0 + FULL_WAITS_AT_MOST, always)  # it starts again
    # a wait ends when the growth is gone (freed before it ran): it starts afresh
    again = FullCollections(1000, 0.0)
    assert not again.now(grown, 100.0, never)
    assert not again.now(1000, 200.0, never)
    assert not again.now(grown, 100.0 + FULL_WAITS_AT_MOST, never)


@pytest.fixture
def fulls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The instants (trio time) of the collector's full collections."""
    at: list[float] = []
    real = collector.full_collection

    def counted() -> int:
        at.append(trio.current_time())
        return real()

    monkeypatch.setattr(collector, "full_collection", counted)
    return at


def _grow_past_due() -> list[list[int]]:
    """New small objects that stay alive, enough to make a full collection due."""
    start = collector.size()
    want = start + max(FULL_MIN_GROWTH, int(FULL_GROWTH * start)) + 10_000
    kept: list[list[int]] = []
    while collector.size() < want:
        kept.extend([i] for i in range(50_000))
    return kept


async def test_after_a_storm_one_full_collection_runs_when_quiet_then_none_an_hour_later(
    gc_restored: None, autojump_clock: trio.testing.MockClock, fulls: list[float]
) -> None:
    collector.tune()
    async with trio.open_nursery() as nursery:
        await nursery.start(run_collector)
        storm_end = trio.current_time() + 2
        kept = _grow_past_due()  # a storm's new incidents, all at once (no time passes)
        await trio.sleep_until(storm_end)
        await trio.sleep(120)
        # the storm made the threshold rise: the full collection waited for it to come down
        # (about 45 s), then ran once
        assert len(fulls) == 1
        assert fulls[0] - storm_end > 10
        gc_pauses = sum(collector.PAUSES.buckets[2])
        await trio.sleep(3600 + 60)  # nothing grew since: no full collection
        assert len(fulls) == 1
        assert sum(collector.PAUSES.buckets[2]) == gc_pauses
        nursery.cancel_scope.cancel()
    assert kept


async def test_a_full_collection_waits_while_the_service_is_not_quiet(
    gc_restored: None, autojump_clock: trio.testing.MockClock, fulls: list[float]
) -> None:
    collector.tune()
    quiet = False
    async with trio.open_nursery() as nursery:
        await nursery.start(run_collector, lambda: quiet)
        kept = _grow_past_due()
        await trio.sleep(600)
        assert fulls == []  # due, the threshold back down, but pages are due
        quiet = True
        at = trio.current_time()
        await trio.sleep(2 * ADAPT_EVERY)
        assert len(fulls) == 1 and fulls[0] - at <= ADAPT_EVERY + 0.2
        nursery.cancel_scope.cancel()
    assert kept


async def test_a_service_never_quiet_gets_its_full_collection_after_the_longest_wait(
    gc_restored: None, autojump_clock: trio.testing.MockClock, fulls: list[float]
) -> None:
    collector.tune()
    async with trio.open_nursery() as nursery:
        await nursery.start(run_collector, lambda: False)
        start = trio.current_time()
        kept = _grow_past_due()
        await trio.sleep(FULL_WAITS_AT_MOST + 10)
        assert len(fulls) == 1
        assert FULL_WAITS_AT_MOST <= fulls[0] - start <= FULL_WAITS_AT_MOST + 2
        nursery.cancel_scope.cancel()
    assert kept


async def test_a_full_collection_runs_once_a_day_without_growth(
    gc_restored: None,
    autojump_clock: trio.testing.MockClock,
    fulls: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day = 1200.0  # shortened
    monkeypatch.setattr(collector, "FULL_AT_LEAST_EVERY", day)
    collector.tune()
    async with trio.open_nursery() as nursery:
        await nursery.start(run_collector)
        start = trio.current_time()
        await trio.sleep(day + 10)
        assert len(fulls) == 1 and day <= fulls[0] - start <= day + 2
        nursery.cancel_scope.cancel()


def test_freeze_collects_the_young_first_so_tuples_of_atoms_are_untracked(
    gc_restored: None,
) -> None:
    collector.tune(YOUNG_MAX)  # no automatic collection meanwhile: all of it stays young
    gc.collect(0)
    now = datetime(2026, 12, 7, tzinfo=UTC)
    entries = [(i, now, "incident.escalated", ("ann", i)) for i in range(1000)]  # a timeline
    cycle: list[object] = []
    cycle.append(cycle)
    garbage = gc.get_stats()[0]["collected"]
    del cycle
    collector.freeze()
    assert not any(gc.is_tracked(e[3]) for e in entries)  # one level a collection
    assert gc.get_count()[0] == 0
    assert gc.get_stats()[0]["collected"] > garbage  # freed, not frozen
    frozen = gc.get_freeze_count()
    gc.freeze()
    assert gc.get_freeze_count() == frozen  # frozen already


QUIET_CONFIG = """
data_dir: {data}
users:
  - id: ann
    notification_rules:
      - {{after: 0m, via: console}}
      - {{after: 1m, via: console}}
escalation_policies:
  - id: one
    levels:
      - targets: [{{user: ann}}]
        escalate_after: 10m
services:
  - id: web
    escalation_policy: one
    integrations: [{{type: generic, key: k}}]
channels:
  console: {{}}
"""


async def test_the_service_is_quiet_when_no_page_is_due_soon(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = load_config_text(QUIET_CONFIG.format(data=tmp_path / "unused"))
    clock = TrioWallClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    with trio.fail_after(3600):
        async with running_pager(
            config, event_log=MemoryLog(), clock=clock, serve_edges=False
        ) as run:
            quiet = quiet_moment(run.system, run.actors.router)
            assert quiet()  # nothing open
            await run.system.submit(
                Ingest(
                    "web",
                    "a",
                    "generic",
                    TriggerAlert(key="a", summary="down", severity="critical"),
                )
            )
            await trio.sleep(1)  # ann's first page went out; her next rule is 1 min on
            assert quiet()
            await trio.sleep(60 - 1 - QUIET_AHEAD + 0.5)  # it is due within QUIET_AHEAD
            assert not quiet()
            await trio.sleep(QUIET_AHEAD + 1)  # sent; next: the escalation at 10 min
            assert quiet()
