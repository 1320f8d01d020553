"""How long writing a snapshot keeps the event loop waiting: `python -m bench_lib.snapshot_lag
[--store postgres|jsonl] [--incidents N] [--rounds K]` (run from scripts/, as scripts/bench
does; `PYTHONPATH=scripts .venv/bin/python -m bench_lib.snapshot_lag`).

The state: N open incidents (default 36,000), each as the real core makes it (opened by an
alert, escalated to the on-call person, the page requested and sent, the alert firing
again: `workload.core_events` with none resolved), folded into a `SystemState` as start-up
folds the log, so the analytics ledger has its rows too. Then K snapshots are written as the
snapshotter writes them (`state.capture()` on the event loop, `save_snapshot` building and
storing it in the log's worker thread), with 1% of the incidents changed between two (the
item cache writes the rest from the last snapshot's bytes), while a task on the loop sleeps
1 ms again and again and records how late each wake-up is. Printed per snapshot: the worst
lateness (what the loop waited for at most), the 99th percentile, the wake-ups later than
5 ms, the capture's time on the loop, the whole write's time and the body's size.

PostgreSQL: the server of tests/postgres.py (fsync on, as scripts/bench runs it), or
$PAGER_BENCH_DSN's.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import trio

from pager.core.events import SCHEMA_VERSION, encode
from pager.core.state import SystemState
from pager.store.base import LINE_OPTIONS, EventLog, new_record
from pager.store.jsonl import JsonlLog

from . import workload
from .disk import percentile

POOL = 1000  # incidents the core makes; the state holds them over and over, renumbered


def open_incident_records(n: int) -> Iterator[Any]:
    """The records of `n` open incidents (the pool of `workload.core_events`, renumbered)."""
    workload.OPEN_EVERY = 1  # (n % 1 == 0: none is acknowledged or resolved)
    base = [(at, ev, encode(ev)) for at, ev in workload.core_events(POOL)]
    span = base[-1][0] - base[0][0] + timedelta(seconds=1)
    seq = 0
    for copy in range((n + POOL - 1) // POOL):
        shift = span * copy
        for at, ev, data in base:
            if int(ev.subject[4:]) + POOL * copy > n:
                continue
            iid, d = workload.renumbered(ev, data, copy, POOL, shift)
            seq += 1
            d = orjson.loads(orjson.dumps(d, option=LINE_OPTIONS))  # as read from the log
            yield new_record(seq, at + shift, ev.TYPE, iid, d, SCHEMA_VERSION)


def build_state(n: int) -> SystemState:
    st = SystemState()
    for r in open_incident_records(n):
        st.apply(r)
    return st


def touch(st: SystemState, share: float, round_: int) -> None:
    """Change `share` of the open incidents (each a new value, as a fold makes one)."""
    ids = list(st.incidents)
    step = max(1, int(1 / share))
    for iid in ids[round_ % step :: step]:
        inc = st.incidents[iid]
        st.incidents[iid] = dataclasses.replace(inc, title=f"{inc.title} ({round_})")


@dataclasses.dataclass
class Lag:
    """A task's 1 ms sleeps, again and again: when each began and how late it woke."""

    late: list[tuple[float, float]] = dataclasses.field(default_factory=list)

    async def run(self) -> None:
        while True:
            t = time.perf_counter()
            await trio.sleep(0.001)
            self.late.append((t, time.perf_counter() - t - 0.001))


def figures(late: list[float]) -> dict[str, float]:
    late = sorted(late) or [0.0]
    return {
        "worst": late[-1],
        "p99": percentile(late, 99),
        "over5": sum(1 for x in late if x > 0.005),
        "wakeups": len(late),
    }


async def idle(seconds: float) -> dict[str, float]:
    """The lateness with nothing else to do: the machine's noise."""
    lag = Lag()
    with trio.move_on_after(seconds):
        await lag.run()
    return figures([x for _, x in lag.late])


async def measure(log: EventLog, st: SystemState, rounds: int) -> list[dict[str, Any]]:
    gc.freeze()
    out: list[dict[str, Any]] = [{"idle": await idle(2.0)}]
    for k in range(rounds):
        if k:
            touch(st, 0.01, k)
        gc.freeze()  # as the service does (pager.actors.collector): the state is frozen
        lag = Lag()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lag.run)
            await trio.sleep(0.05)
            lag.late.clear()
            t0 = time.perf_counter()
            capture = st.capture()
            t1 = time.perf_counter()
            assert st.last_ts is not None
            await log.save_snapshot(st.last_seq + k, st.last_ts, capture.to_snapshot)
            total = time.perf_counter() - t0
            await trio.sleep(0.005)
            nursery.cancel_scope.cancel()
        out.append(
            {
                "all": figures([x for _, x in lag.late]),
                # the wake-ups of sleeps begun once the capture was done: the write alone
                "write": figures([x for t, x in lag.late if t >= t1]),
                "capture": t1 - t0,
                "total": total,
            }
        )
    return out


async def run_postgres(st: SystemState, rounds: int, scratch: Path) -> list[dict[str, Any]]:
    from .postgres import _writer, database

    with database(scratch, "pager_snapshot_lag") as dsn:
        async with trio.open_nursery() as nursery:
            log = await _writer(dsn, nursery)
            try:
                return await measure(log, st, rounds)
            finally:
                with log._reader.lock:
                    size = (
                        log._reader.get()
                        .execute(
                            "SELECT length(body) FROM pager_snapshots ORDER BY seq DESC LIMIT 1"
                        )
                        .fetchone()
                    )
                print(f"body: {size[0] / 1e6:.1f} MB" if size else "no snapshot stored")
                await log.close()


async def run_jsonl(st: SystemState, rounds: int, scratch: Path) -> list[dict[str, Any]]:
    log = JsonlLog.open(scratch / "data", fsync=True)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            try:
                return await measure(log, st, rounds)
            finally:
                await log.close()
    finally:
        log.release()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", choices=("postgres", "jsonl"), default="postgres")
    p.add_argument("--incidents", type=int, default=36_000)
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    t = time.perf_counter()
    st = build_state(args.incidents)
    print(
        f"state: {len(st.open_by_key):,} open incidents, {len(st.notifications.by_id):,} "
        f"notifications, {st.last_seq:,} records folded in {time.perf_counter() - t:.1f} s"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="pager-snapshot-lag-") as scratch:
        run = run_postgres if args.store == "postgres" else run_jsonl
        results = trio.run(run, st, args.rounds, Path(scratch))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak memory (max RSS): {rss / 1024:.0f} MB with the state, {peak / 1024:.0f} MB "
          "after the snapshots")  # fmt: skip
    print(f"{args.store}: event loop lateness (a 1 ms sleep, again and again) while a snapshot "
          "is written")  # fmt: skip
    noise = results.pop(0)["idle"]
    print(
        f"  idle loop, 2 s, no snapshot: worst {noise['worst'] * 1e3:.1f} ms, p99 "
        f"{noise['p99'] * 1e3:.1f} ms, {noise['over5']} of {noise['wakeups']} wake-ups > 5 ms"
    )
    for k, r in enumerate(results):
        a, w = r["all"], r["write"]
        print(
            f"  snapshot {k + 1} ({'cold cache' if k == 0 else 'warm, 1% changed'}): "
            f"capture on the loop {r['capture'] * 1e3:.1f} ms; while written (after the "
            f"capture) worst {w['worst'] * 1e3:.1f} ms, p99 {w['p99'] * 1e3:.1f} ms, "
            f"{w['over5']} of {w['wakeups']} wake-ups > 5 ms; with the capture worst "
            f"{a['worst'] * 1e3:.1f} ms; whole write {r['total']:.2f} s"
        )


if __name__ == "__main__":
    main()
