"""`scripts/bench journal --store postgres` and `scripts/bench ingest --store postgres`: the
PostgreSQL store's figures.

- durable appends through `PostgresLog` (group commit: one fenced INSERT per batch, one
  commit) with 1, 10 and 100 concurrent appenders: appends/s, p50/p99 latency (target
  >= 10,000/s at 100 appenders), beside the floor, one commit of one row;
- a standby's catch-up: records/s read back and folded by a follower;
- `pager replay --verify` over the same records in the database and in a data folder (a
  process each: records/s and its peak memory, which must not grow with the log);
- ingest through the lean listener with the log on PostgreSQL, beside the same measurement
  on the JSON-lines log (scripts/bench_lib/ingest.py does the measuring).

The server is Debian's PostgreSQL, started by the bench in its scratch folder (tests/
postgres.py) with fsync on and `synchronous_commit = on`, so a commit is durable; or the
database at $PAGER_BENCH_DSN when set (it must be empty: the bench makes its own tables).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import trio

from pager.core.events import SCHEMA_VERSION
from pager.store.base import Draft
from pager.store.lease import Lease
from pager.store.postgres import PostgresLog
from tests.postgres import Cluster, available

from .config import config_text
from .disk import percentile
from .journal import AppendResult, Plan, _write_folder
from .table import Row, Table, fmt_ms, fmt_rate
from .workload import alert_data, drafts

__all__ = ["database", "run_journal_postgres"]

APPEND_TARGET = 10_000


@contextmanager
def database(scratch: Path, name: str) -> Iterator[str]:
    """A DSN of a new, empty database: on a server the bench starts (fsync on), or on
    $PAGER_BENCH_DSN's server."""
    given = os.environ.get("PAGER_BENCH_DSN")
    if given:
        with psycopg.connect(given, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        yield psycopg.conninfo.make_conninfo(given, dbname=name)
        return
    if not available():
        raise RuntimeError("PostgreSQL is not installed (scripts/setup --test installs it)")
    # in a folder of its own under $TMPDIR: the server runs as an unprivileged user, who
    # cannot enter the bench's private scratch folder
    cluster = Cluster(fsync=True).init(
        "synchronous_commit = on", "wal_sync_method = fdatasync", "max_connections = 50"
    )
    try:
        cluster.start()
        yield cluster.create_database(name)
    finally:
        cluster.remove()


def _commit_probe(dsn: str, n: int) -> tuple[float, float]:
    """p50/p99 of one INSERT of one row, committed: the floor of a batch."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_probe (i int, b text)")
        times = []
        for i in range(n):
            t = time.perf_counter()
            conn.execute("INSERT INTO bench_probe VALUES (%s, %s)", (i, "x" * 300))
            times.append(time.perf_counter() - t)
        conn.execute("DROP TABLE bench_probe")
    times.sort()
    return percentile(times, 50), percentile(times, 99)


async def _writer(dsn: str, nursery: trio.Nursery) -> PostgresLog:
    """A log that holds the lease (given back when the writer closes)."""
    log = PostgresLog.open(dsn, node="bench")
    lease = Lease(dsn, "bench", timedelta(minutes=10))
    epoch = lease.acquire()
    if epoch is None:
        lease.close()
        raise RuntimeError("the bench's database has a lease held by someone else")

    async def run(*, task_status: trio.TaskStatus[None]) -> None:
        try:
            await log.run(task_status=task_status)
        finally:
            lease.release(epoch)
            lease.close()

    await nursery.start(run)
    await log.activate(epoch)
    return log


async def _appends(dsn: str, appenders: int, seconds: float, warmup: float) -> AppendResult:
    latencies: list[float] = []
    datas = [alert_data(i) for i in range(appenders)]
    measuring = False
    stop = False
    now = time.perf_counter

    async with trio.open_nursery() as nursery:
        log = await _writer(dsn, nursery)

        async def appender(i: int) -> None:
            data = datas[i]
            subject = data["incident_id"]
            while not stop:
                d = Draft("alerts.updated", subject, datetime.now(UTC), data, SCHEMA_VERSION)
                t = now()
                await log.append([d])
                if measuring:
                    latencies.append(now() - t)

        async with trio.open_nursery() as clients:
            for i in range(appenders):
                clients.start_soon(appender, i)
            await trio.sleep(warmup)
            measuring = True
            b0, t0 = log.batches, now()
            await trio.sleep(seconds)
            measuring = False
            elapsed = now() - t0
            batches = log.batches - b0
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


async def _fill(dsn: str, events: int) -> None:
    async with trio.open_nursery() as nursery:
        log = await _writer(dsn, nursery)
        for chunk in drafts(events, 5_000):
            await log.append(chunk)
        await log.close()


async def _follow(dsn: str, events: int) -> float:
    """Seconds a follower takes to read and fold `events` records (a standby's catch-up)."""
    from pager.core.state import SystemState

    state = SystemState()
    log = PostgresLog.open(dsn, node="follower")
    log._last_seq = 0
    log.add_commit_hook(lambda recs: [state.apply(r) for r in recs])
    t = time.perf_counter()
    n = await log.catch_up()
    took = time.perf_counter() - t
    log.release()
    if n != events:
        raise RuntimeError(f"the follower applied {n} records, not {events}")
    return took


def run_journal_postgres(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    plan = Plan.of(quick)
    table = Table("journal: PostgresLog durable appends (store: postgres)")
    scratch.mkdir(parents=True, exist_ok=True)
    where = os.environ.get("PAGER_BENCH_DSN")
    table.notes.append(
        "server: "
        + (
            "$PAGER_BENCH_DSN"
            if where
            else "Debian's PostgreSQL on 127.0.0.1, started by the bench"
        )
        + "; fsync on, synchronous_commit on: a commit is durable on its disk"
    )
    with database(scratch, "bench_journal") as dsn:
        p50, p99 = _commit_probe(dsn, plan.fsync_probes)
        table.add(
            Row(
                "commit of one 300 B row, p50 / p99",
                f"{fmt_ms(p50)} / {fmt_ms(p99)}",
                note=f"floor of one durable batch; at most ~{1 / p50:,.0f} batches/s",
            )
        )
        for k in (1, 10, 100):
            say(f"PostgreSQL durable appends, {k} appenders, {plan.append_seconds:g} s ...")
            r = trio.run(_appends, dsn, k, plan.append_seconds, plan.append_warmup)
            target = k == 100
            table.add(
                Row(
                    f"durable appends/s, {k} appender{'s' if k > 1 else ''}",
                    fmt_rate(r.rate),
                    f">= {APPEND_TARGET:,}/s" if target else "-",
                    r.rate >= APPEND_TARGET if target else None,
                    f"{r.appends:,} appends in {r.seconds:.1f} s, {r.batches:,} commits, "
                    f"{r.appends / max(r.batches, 1):.1f} appends per commit, "
                    f"{r.seconds / max(r.batches, 1) * 1e3:.2f} ms per batch",
                )
            )
            table.add(
                Row(
                    f"  append latency p50 / p99, {k} appender{'s' if k > 1 else ''}",
                    f"{fmt_ms(r.p50)} / {fmt_ms(r.p99)}",
                )
            )
    events = 20_000 if quick else 200_000
    with database(scratch, "bench_follow") as dsn:
        say(f"a standby catching up on {events:,} records ...")
        trio.run(_fill, dsn, events)
        took = trio.run(_follow, dsn, events)
        table.add(
            Row(
                "standby catch-up: read and fold",
                fmt_rate(events / took, " records/s"),
                note=f"{events:,} realistic incident records in {took:.1f} s (what a new standby, "
                "or a takeover after a long gap, does)",
            )
        )
        for row in _replay_verify(scratch, dsn, events, say):
            table.add(row)
    return table


def _verify_in_a_process(*argv: str) -> tuple[float, float, str]:
    """`pager replay --verify --quiet ARGV` in a process of its own: seconds, its peak
    resident memory in MB, its output."""
    t = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "pager", "replay", "--verify", "--quiet", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"pager replay --verify failed: {out}")
    return took, usage.ru_maxrss / 1024, out


def _replay_verify(scratch: Path, dsn: str, events: int, say: Callable[[str], None]) -> list[Row]:
    """`pager replay --verify` over the database's `events` records, then over the same
    records written to a data folder by JsonlLog."""
    cfg = scratch / "replay-postgres.yaml"
    cfg.write_text(
        config_text(scratch / "replay-unused") + f'store: {{type: postgres, dsn: "{dsn}"}}\n'
    )
    folder = scratch / "replay-folder"
    trio.run(_write_folder, folder, events)
    rows = []
    for name, argv in (
        ("PostgreSQL", ("--config", str(cfg))),
        ("data folder", ("--data-dir", str(folder))),
    ):
        say(f"pager replay --verify over {events:,} records in the {name} ...")
        took, peak, out = _verify_in_a_process(*argv)
        if f"{events} records in " not in out or not out.endswith("clean\n"):
            raise RuntimeError(f"pager replay --verify said: {out}")
        rows.append(
            Row(
                f"pager replay --verify, {name}",
                fmt_rate(events / took, " records/s"),
                note=f"{events:,} records in {took:.1f} s (a process: start-up, read, check, "
                f"fold), peak memory {peak:,.0f} MB",
            )
        )
    return rows


def run_ingest_postgres(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    """PagerDuty events through the lean listener, the log on PostgreSQL, beside the same
    run on the JSON-lines log."""
    from . import ingest as ing

    plan = ing.Plan.of(quick)
    scratch.mkdir(parents=True, exist_ok=True)
    table = Table("ingest: durable HTTP ingest, lean listener, PostgreSQL beside JSON lines")
    if not ing.shutil.which("wrk"):
        table.alarms.append("wrk is not installed: nothing measured (scripts/setup --test)")
        return table
    srv_pin, load_pin, pin_note = ing.pinning()
    table.notes.append(
        f"wrk -t{plan.threads} -c{plan.connections} -d{plan.seconds}s --latency --timeout 10s, "
        f"after a {plan.warmup} s warm-up; {pin_note}; a fresh `pager serve` and data folder "
        "(or database) per measurement; PostgreSQL on the same machine (fsync on, "
        "synchronous_commit on), so it shares the cores with pager and wrk"
    )
    pd = scratch / "pd.json"
    pd.write_bytes(ing.pd_trigger_template())
    for keyspace, kind in ((ing.KEYSPACE, "firing again"), (0, "new incident each")):
        for store in ("jsonl", "postgres"):
            label = f"PagerDuty /v2/enqueue, lean, {kind}, {store}"
            say(f"{label} ...")
            folder = scratch / f"pd-{store}-{keyspace}"
            folder.mkdir(parents=True, exist_ok=True)
            with (
                database(folder, f"bench_ingest_{keyspace}")
                if store == "postgres"
                else _none() as dsn
            ):
                extra = (
                    f'store: {{type: postgres, dsn: "{dsn}", lease_ttl: 10s, node_name: bench}}\n'
                    if dsn
                    else ""
                )
                try:
                    server, main_url, ingest_port = ing.launch_pager(
                        folder,
                        srv_pin,
                        lambda port, ingest, extra=extra, folder=folder: (
                            ing.config_text(folder / "data", port=port, ingest_port=ingest) + extra
                        ),
                    )
                except (RuntimeError, OSError) as e:
                    table.alarms.append(f"'{label}': pager did not start: {e}")
                    ing._failed_row(table, label)
                    continue
                url = f"http://127.0.0.1:{ingest_port}"
                m, bad = ing._run_on(
                    table,
                    label,
                    server,
                    lambda url=url, folder=folder, server=server, main_url=main_url, ks=keyspace: (
                        ing._measure(
                            plan,
                            load_pin,
                            server,
                            url,
                            "/v2/enqueue",
                            pd,
                            folder,
                            "pd",
                            main_url,
                            ks,
                        )
                    ),
                )
            if m is None:
                ing._failed_row(table, label)
                continue
            w = m.wrk
            table.add(
                Row(
                    f"{label}: durable events/s",
                    fmt_rate(w.ok_rate),
                    note=ing._notes(m, 1),
                    error=bad,
                )
            )
            table.add(
                Row(
                    "  latency p50 / p99",
                    f"{fmt_ms(w.p50)} / {fmt_ms(w.p99)}",
                    note=f"p90 {fmt_ms(w.p90)}, p99.9 {fmt_ms(w.p999)}, max {fmt_ms(w.max)}",
                    error=bad,
                )
            )
    return table


@contextmanager
def _none() -> Iterator[None]:
    yield None
