"""The collector's young threshold follows how fast the service makes objects: small when
it is quiet (short pauses), large in a storm (fewer collections), coming down slowly."""

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
    # freezing sets the young count back to 0: without a recount the next look would
    # see the drop as objects freed and under-count what comes after it
    more = [[i] for i in range(1_500)]
    gc.freeze()
    rate.recount()
    more += [[i] for i in range(1_000)]
    await trio.sleep(1)
    assert 900 <= rate.take(YOUNG_MIN) <= 1_200
    assert len(kept) + len(more) == 52_500
