"""The collector's young threshold follows how fast the service makes objects: small when
it is quiet (short pauses), large in a storm (fewer collections), coming down slowly; in a
storm the new objects are frozen before a young collection scans them; and its pauses are
counted for /metrics."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import trio
import trio.testing

from pager.actors import collector
from pager.actors.collector import (
    ADAPT_EVERY,
    DECAY,
    OLDER,
    YOUNG_MAX,
    YOUNG_MIN,
    YOUNG_PER_SECOND,
    run_collector,
    young_threshold,
)


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
