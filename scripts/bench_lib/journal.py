"""`scripts/bench journal`: the event log's targets.

- durable appends through `JsonlLog` (group commit, fdatasync on) with 1, 10 and 100
  concurrent appenders: appends/s, p50/p99 latency (target >= 20,000/s at 100);
- replay: `read_from(1)` (parse and check every line), and `load_state` (read, parse, fold
  into `SystemState`) of realistic incident events made by the core (target >= 250,000
  lines/s);
- the fold alone: `SystemState.apply` (decode + evolve) over records already read and
  parsed, no snapshot (target >= 150,000 lines/s; issue 10 quoted 38,000/s);
- start-up of a data folder of a million events, with and without a snapshot (target with
  a snapshot < 2 s): `JsonlLog.open` + `load_state`, and `run_pager` up to ready (which also
  compiles the rules, journals `config.applied` and spawns an actor per open incident).

Everything runs on a disk-backed scratch folder: durability is what the numbers are about.
"""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import orjson
import trio

from pager.config import load_config_text
from pager.core.events import SCHEMA_VERSION
from pager.core.state import SystemState
from pager.replay.load import load_state
from pager.service import Running, run_pager
from pager.store.base import Draft, Record, RetentionPolicy, RetentionReport
from pager.store.jsonl import JsonlLog
from pager.store.retention import apply as apply_retention
from pager.store.retention import disk_use
from pager.store.segments import last_record, list_segments

from .config import config_text
from .disk import percentile, probe_fdatasync
from .machine import filesystem_of, in_memory
from .table import Row, Table, fmt_ms, fmt_rate
from .workload import OPEN_EVERY, alert_data, drafts, lifecycle

__all__ = ["run_journal"]

APPEND_TARGET = 20_000
REPLAY_TARGET = 250_000
STARTUP_TARGET = 2.0
FOLD_TARGET = 150_000  # issue 10: a standby catching up folds this fast
FOLD_BEFORE = 38_000  # the fold's rate when issue 10 was filed (1M events in ~26 s)
# the fold's rate on main just before issue 10 item 6 (the per-event fold of item 2, before
# the fast copies and generated decoders): about 80,000/s on an idle machine here
FOLD_BEFORE_ITEM_6 = 80_000


@dataclass(frozen=True)
class Plan:
    append_seconds: float
    append_warmup: float
    fsync_probes: int
    events: int
    read_runs: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                append_seconds=0.3, append_warmup=0.05, fsync_probes=20, events=10_000, read_runs=1
            )
        return cls(
            append_seconds=5.0, append_warmup=0.5, fsync_probes=300, events=1_000_000, read_runs=3
        )


# --------------------------------------------------------------------------- appends


@dataclass
class AppendResult:
    appenders: int
    appends: int
    seconds: float
    p50: float
    p99: float
    batches: int

    @property
    def rate(self) -> float:
        return self.appends / self.seconds


async def _appends(
    folder: Path, appenders: int, seconds: float, warmup: float, fsync: bool = True
) -> AppendResult:
    log = JsonlLog.open(folder, fsync=fsync)  # fsync on: each batch is written and fdatasync'ed
    writes = 0
    real_write = log.write_fn

    def counting_write(fd: int, view: memoryview) -> int:
        nonlocal writes
        writes += 1
        return real_write(fd, view)

    log.write_fn = counting_write
    latencies: list[float] = []
    datas = [alert_data(i) for i in range(appenders)]
    measuring = False
    stop = False
    now = time.perf_counter

    async def appender(i: int) -> None:
        data = datas[i]
        subject = data["incident_id"]
        while not stop:
            d = Draft("alerts.updated", subject, datetime.now(UTC), data, SCHEMA_VERSION)
            t = now()
            await log.append([d])
            if measuring:
                latencies.append(now() - t)

    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        async with trio.open_nursery() as clients:
            for i in range(appenders):
                clients.start_soon(appender, i)
            await trio.sleep(warmup)
            measuring = True
            w0, t0 = writes, now()
            await trio.sleep(seconds)
            measuring = False
            elapsed = now() - t0
            batches = writes - w0
            stop = True
        await log.close()
    latencies.sort()
    return AppendResult(
        appenders,
        len(latencies),
        elapsed,
        percentile(latencies, 50),
        percentile(latencies, 99),
        batches,
    )


# --------------------------------------------------------------------------- data folder


async def _write_folder(folder: Path, events: int) -> int:
    """A data folder of `events` realistic records, written by `JsonlLog` itself (so the
    format is exactly the service's) with fsync off and 10,000 records per batch."""
    log = JsonlLog.open(folder, fsync=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        for chunk in drafts(events, 10_000):
            await log.append(chunk)
        await log.close()
    os.sync()  # durable before it is measured, so the folder is as a service would leave it
    return log.last_seq


def _folder_size(folder: Path) -> tuple[int, int]:
    segs = list((folder / "events").glob("*.jsonl"))
    return sum(p.stat().st_size for p in segs), len(segs)


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _read_all(folder: Path) -> int:
    log = JsonlLog.open(folder)
    try:
        n = 0
        for _ in log.read_from(1):
            n += 1
        return n
    finally:
        log.release()


def _read_records(folder: Path) -> list[Record]:
    log = JsonlLog.open(folder)
    try:
        return list(log.read_from(1))
    finally:
        log.release()


def _fold(records: list[Record]) -> tuple[float, float]:
    """Seconds to fold `records` (decode + evolve) into a fresh state, the collector paused
    as load_state pauses it: wall time, and this process's CPU time (the figure to compare
    on a machine that other work shares)."""
    state = SystemState()
    apply = state.apply
    gc.collect()
    gc.disable()
    try:
        t, cpu = time.perf_counter(), time.process_time()
        for rec in records:
            apply(rec)
        return time.perf_counter() - t, time.process_time() - cpu
    finally:
        gc.enable()


def _open_and_load(folder: Path, use_snapshot: bool) -> tuple[SystemState, int]:
    log = JsonlLog.open(folder)
    try:
        state, report = load_state(log, use_snapshot=use_snapshot)
        return state, report.replayed
    finally:
        log.release()


def _snapshot_parts(folder: Path) -> tuple[float, float, int]:
    """Seconds to read+verify+parse the snapshot file, seconds to build the state from it,
    and the file's size."""
    log = JsonlLog.open(folder)
    try:
        t = time.perf_counter()
        snap = log.load_snapshot()
        t_read = time.perf_counter() - t
        assert snap is not None
        t = time.perf_counter()
        SystemState.from_snapshot(snap.state)
        t_build = time.perf_counter() - t
    finally:
        log.release()
    size = max(p.stat().st_size for p in (folder / "snapshots").glob("*.snap"))
    return t_read, t_build, size


async def _save_snapshot(folder: Path, state: SystemState) -> float:
    log = JsonlLog.open(folder)
    try:
        t = time.perf_counter()
        # as the snapshotter does: the capture here, the snapshot built in the log's thread
        await log.save_snapshot(state.last_seq, datetime.now(UTC), state.capture().to_snapshot)
        return time.perf_counter() - t
    finally:
        log.release()


async def _run_pager_startup(folder: Path) -> tuple[float, int, float]:
    """Seconds from calling run_pager to ready (serve_edges=False), the actors it spawned,
    and the seconds shutdown took (it writes a last snapshot)."""
    config = load_config_text(config_text(folder), source="bench")
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        gc.collect()
        t = time.perf_counter()
        running: Running = await nursery.start(
            partial(run_pager, config, shutdown=shutdown, serve_edges=False, manage_gc=True)
        )
        ready = time.perf_counter() - t
        router = running.actors.router
        actors = router.actor_count if router is not None else 0
        t = time.perf_counter()
        shutdown.set()
    return ready, actors, time.perf_counter() - t


def _run_pager_startup_in_a_process(folder: Path) -> tuple[float, int, float]:
    """`_run_pager_startup` in a new interpreter, as a service starts: nothing this
    benchmark process built (a million records, a big state) is around to slow it."""
    code = (
        "import sys, json, trio, contextlib, os\n"
        "from pathlib import Path\n"
        "from bench_lib.journal import _run_pager_startup\n"
        "with open(os.devnull, 'w') as quiet, contextlib.redirect_stdout(quiet):\n"
        "    r = trio.run(_run_pager_startup, Path(sys.argv[1]))\n"
        "print(json.dumps(r))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    ready, actors, stop = json.loads(out.stdout.strip().splitlines()[-1])
    return float(ready), int(actors), float(stop)


# --------------------------------------------------------------------------- the section


def run_journal(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    plan = Plan.of(quick)
    table = Table("journal: JsonlLog durable appends, replay, start-up")
    scratch.mkdir(parents=True, exist_ok=True)
    if in_memory(str(scratch)):
        table.alarms.append(
            f"{scratch} is on a memory filesystem ({filesystem_of(str(scratch))}): fsync costs "
            "nothing there, so the durable-append figures mean nothing. Use --scratch DIR on a disk."
        )

    p50, p99 = probe_fdatasync(scratch, plan.fsync_probes)
    table.add(
        Row(
            "disk: write 300 B + fdatasync, p50 / p99",
            f"{fmt_ms(p50)} / {fmt_ms(p99)}",
            note=f"floor of one durable batch; at most ~{1 / p50:,.0f} batches/s",
        )
    )

    for k in (1, 10, 100):
        say(f"durable appends, {k} appenders, {plan.append_seconds:g} s ...")
        r = trio.run(_appends, scratch / f"appends-{k}", k, plan.append_seconds, plan.append_warmup)
        target = k == 100
        table.add(
            Row(
                f"durable appends/s, {k} appender{'s' if k > 1 else ''}",
                fmt_rate(r.rate),
                f">= {APPEND_TARGET:,}/s" if target else "-",
                r.rate >= APPEND_TARGET if target else None,
                f"{r.appends:,} appends in {r.seconds:.1f} s, {r.batches:,} fsyncs, "
                f"{r.appends / max(r.batches, 1):.1f} appends per fsync, "
                f"{r.seconds / max(r.batches, 1) * 1e3:.2f} ms per batch",
            )
        )
        table.add(
            Row(
                f"  append latency p50 / p99, {k} appender{'s' if k > 1 else ''}",
                f"{fmt_ms(r.p50)} / {fmt_ms(r.p99)}",
            )
        )

    say("appends with fsync off, 100 appenders (the CPU ceiling) ...")
    r = trio.run(
        _appends, scratch / "appends-nofsync", 100, plan.append_seconds, plan.append_warmup, False
    )
    table.add(
        Row(
            "  for comparison: 100 appenders, fsync off",
            fmt_rate(r.rate),
            note=f"the writer's CPU ceiling (not durable); {r.appends / max(r.batches, 1):.1f} "
            f"appends per write, p50 {fmt_ms(r.p50)}, p99 {fmt_ms(r.p99)}",
        )
    )

    sample = orjson.dumps(
        Record(
            123_456, datetime.now(UTC), "alerts.updated", "inc-57", alert_data(57), SCHEMA_VERSION
        ).to_json(),
        option=orjson.OPT_UTC_Z,
    )
    table.notes.append(
        f"appends: each appender awaits `append([Draft(...)])` of one alerts.updated record "
        f"({len(sample)} B line) in a loop for {plan.append_seconds:g} s after a "
        f"{plan.append_warmup:g} s warm-up; a fresh log each, fsync on"
    )

    folder = scratch / "data-1m"
    say(f"writing a data folder of {plan.events:,} events ...")
    t_gen = time.perf_counter()
    n = trio.run(_write_folder, folder, plan.events)
    t_gen = time.perf_counter() - t_gen
    size, segs = _folder_size(folder)
    table.notes.append(
        f"data folder: {n:,} events ({size / 1e6:,.0f} MB, {segs} segments, avg "
        f"{size / n:.0f} B/line) made by the real core; each incident: {lifecycle()}; 1 "
        f"incident in {OPEN_EVERY} left open; written in {t_gen:.1f} s; page cache warm for "
        f"every read below"
    )

    say(f"replay: read_from(1), best of {plan.read_runs} ...")
    t_read = math.inf
    for _ in range(plan.read_runs):
        t, count = _timed(lambda: _read_all(folder))
        assert count == n, (count, n)
        t_read = min(t_read, t)
    table.add(
        Row(
            "replay read_from(1): read+parse+check, lines/s",
            fmt_rate(n / t_read),
            f">= {REPLAY_TARGET:,}/s",
            n / t_read >= REPLAY_TARGET,
            f"{n:,} lines in {t_read:.2f} s (best of {plan.read_runs})",
        )
    )

    say("replay: load_state without snapshot ...")
    t_fold, (state, replayed) = _timed(lambda: _open_and_load(folder, False))  # type: ignore[misc]
    assert replayed == n, (replayed, n)
    table.add(
        Row(
            "replay load_state: read+parse+fold, lines/s",
            fmt_rate(n / t_fold),
            f">= {REPLAY_TARGET:,}/s",
            n / t_fold >= REPLAY_TARGET,
            f"{n:,} lines in {t_fold:.2f} s (JsonlLog.open + load_state, no snapshot)",
        )
    )
    say(f"replay: the fold alone (decode+evolve), best of {plan.read_runs} ...")
    records = _read_records(folder)
    runs = [_fold(records) for _ in range(plan.read_runs)]
    t_only = min(wall for wall, _ in runs)
    t_cpu = min(cpu for _, cpu in runs)
    del records
    table.add(
        Row(
            "replay fold alone: decode+evolve into state, lines/s",
            fmt_rate(n / t_only),
            f">= {FOLD_TARGET:,}/s",
            n / t_only >= FOLD_TARGET,
            f"was {FOLD_BEFORE_ITEM_6:,}/s before issue 10 item 6; issue 10 quoted "
            f"{FOLD_BEFORE:,}/s (1M events folded in ~26 s at start-up); "
            f"SystemState.apply over {n:,} records already read, no snapshot, best of "
            f"{plan.read_runs}; {fmt_rate(n / t_cpu)} by CPU time",
        )
    )
    table.add(
        Row(
            f"start-up, {n:,} events, no snapshot",
            f"{t_fold:.2f} s",
            note=f"the load_state run above; {len(state.incidents):,} incidents, "
            f"{len(state.open_by_key):,} open",
        )
    )

    say("writing a snapshot ...")
    t_snap = trio.run(_save_snapshot, folder, state)
    del state
    say("start-up with the snapshot ...")
    t_start, (_, tail) = _timed(lambda: _open_and_load(folder, True))  # type: ignore[misc]
    t_sread, t_sbuild, snap_size = _snapshot_parts(folder)
    table.add(
        Row(
            f"start-up, {n:,} events, with snapshot",
            f"{t_start:.2f} s",
            f"< {STARTUP_TARGET:g} s",
            t_start < STARTUP_TARGET,
            f"JsonlLog.open + load_state; snapshot {snap_size / 1e6:,.0f} MB: read+sha256+"
            f"parse {t_sread:.2f} s, from_snapshot {t_sbuild:.2f} s; {tail} records after it",
        )
    )
    table.notes.append(f"writing that snapshot took {t_snap:.2f} s (capture + save_snapshot)")

    say("start-up of run_pager (serve_edges=False) with the snapshot, in a fresh process ...")
    t_ready, actors, t_stop = _run_pager_startup_in_a_process(folder)
    table.add(
        Row(
            f"start-up to ready: run_pager, {n:,} events + snapshot",
            f"{t_ready:.2f} s",
            f"< {STARTUP_TARGET:g} s",
            t_ready < STARTUP_TARGET,
            f"open, load, compile rules, journal config.applied, spawn {actors:,} incident "
            f"actors (shutdown then took {t_stop:.1f} s)",
        )
    )
    _disk_use(folder, n, table, say)
    return table


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _disk_use(folder: Path, n: int, table: Table, say: Callable[[str], None]) -> None:
    """What the long run left on disk, then journal.retention (archive mode) over it: every
    segment the snapshot covers compressed into archive/, and replay reading through it."""
    use = disk_use(folder)
    table.add(
        Row(
            f"disk use after {n:,} events",
            _mb(sum(use.values())),
            note=f"events/ {_mb(use['events'])}, snapshots/ {_mb(use['snapshots'])}, "
            f"archive/ {_mb(use['archive'])}",
        )
    )
    last = last_record(list_segments(folder / "events")[-1])
    assert last is not None
    say("journal.retention, archive mode, over that folder ...")
    t, report = _timed(
        lambda: apply_retention(
            folder, RetentionPolicy(keep=timedelta(seconds=1), now=last.ts + timedelta(days=1))
        )
    )
    assert isinstance(report, RetentionReport)
    after = disk_use(folder)
    ratio = report.bytes_before / max(report.bytes_after, 1)
    table.add(
        Row(
            "  after journal.retention (archive: gzip)",
            _mb(sum(after.values())),
            note=f"{len(report.segments)} of the segments the snapshot covers archived in "
            f"{t:.1f} s ({report.bytes_before / 1e6 / max(t, 1e-9):,.0f} MB/s): "
            f"{_mb(report.bytes_before)} -> {_mb(report.bytes_after)}, {ratio:.1f}x smaller; "
            f"events/ {_mb(after['events'])}, archive/ {_mb(after['archive'])}",
        )
    )
    say("replay read_from(1) through the archive ...")
    t_read, count = _timed(lambda: _read_all(folder))
    assert isinstance(count, int) and count >= n, (count, n)
    table.add(
        Row(
            "  replay read_from(1) through the archive, lines/s",
            fmt_rate(count / t_read),
            note=f"{count:,} lines in {t_read:.2f} s, gzip-decompressed where archived",
        )
    )
