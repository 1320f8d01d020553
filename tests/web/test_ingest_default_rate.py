"""A storm is accepted by default (issue 12 item 1): with no `rate_limit` configured every
alert that can be made durable gets a 2xx and an incident; a configured limit is opt-in and
holds across a restart within its window (its buckets are recomputed from the log).

The real pager on 127.0.0.1 port 0, both ingest listeners, under an absolute fail_after."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from ..harness import pd_trigger
from .test_ingest_wire import (
    AM,
    GEN,
    GENERIC,
    LISTENERS,
    PD,
    ROUTING_KEY,
    pager,
    seed_am,
    throttled,
)

STORM = 300


@pytest.mark.parametrize("listener", LISTENERS)
async def test_default_configuration_takes_300_distinct_alerts(
    tmp_path: Path, listener: str
) -> None:
    answers: list[int] = []
    with trio.fail_after(30):
        async with pager(tmp_path, listener) as p:
            limiter = trio.CapacityLimiter(20)

            async def send(i: int) -> None:
                async with limiter:
                    answers.append((await p.post(PD, pd_trigger(f"storm-{i}"))).status_code)

            async with trio.open_nursery() as n:
                for i in range(STORM):
                    n.start_soon(send, i)
            assert answers == [202] * STORM
            opened = [
                i for i in p.run.system.state.incidents.values() if i.service_id == "checkout"
            ]
            assert len(opened) == STORM
    # the storm of issue 12: 300 triggers, 20 at a time, as fast as pager answers; the old
    # default limit (120 a minute per key) refused 166 of them. How fast is measured by
    # `scripts/bench ingest`, not asserted here: a timer failed this test on a loaded machine.


@pytest.mark.parametrize("listener", LISTENERS)
async def test_a_configured_limit_still_answers_429_after_a_restart(
    tmp_path: Path, listener: str
) -> None:
    with trio.fail_after(30):
        async with pager(tmp_path, listener, rate=3) as p:
            assert (await p.post(PD, pd_trigger("a"))).status_code == 202
            # a change event counts against its routing key too
            change = {"routing_key": ROUTING_KEY, "payload": {"summary": "deploy"}}
            assert (await p.post("/v2/change/enqueue", change)).status_code == 202
            assert (await p.post(PD, pd_trigger("b"))).status_code == 202
            throttled(await p.post(PD, pd_trigger("c")), 429)
            assert (await p.post(GENERIC, GEN | {"dedup_key": "g1"})).status_code == 202
        async with pager(tmp_path, listener, rate=3) as p:  # the same data folder: a restart
            seq = p.last_seq
            throttled(await p.post(PD, pd_trigger("c")), 429)
            assert p.journaled_since(seq) == []
            # each key keeps its own count: the generic key used one of its three
            for key in ("g2", "g3"):
                assert (await p.post(GENERIC, GEN | {"dedup_key": key})).status_code == 202
            throttled(await p.post(GENERIC, GEN | {"dedup_key": "g4"}), 429)
            # the Alertmanager key had no event before the restart: its allowance is whole
            for group in ("m1", "m2", "m3"):
                r = await p.post(AM, seed_am(groupKey=group))
                assert r.status_code == 200, r.text
