"""`scripts/bench escalation`: how many open incidents can be escalating at once, how late
their timers fire, and how fast "who is on call" is answered.

Timers (in a fresh subprocess, `python -m bench_lib.escalation --worker SPEC`, so nothing
an earlier section allocated counts): pager runs in-process (`run_pager`,
`serve_edges=False`, the JSON-lines log on the scratch disk with fsync off, console
notifications to /dev/null). N incidents are opened through `System.submit(Ingest(...,
TriggerAlert))`, 256 submitters at a time (the router, incident actors, journal and delivery
of the real service; no HTTP). Their policy pages one person per level; level 1 escalates
after `first_after` (longer than the opening takes, so no timer fires while incidents are
still being opened), later levels every 60 s, repeated, so every incident always has a timer.
With all N open: RSS (VmRSS after gc.collect). Then, while every incident's level-1 timer
fires (in the order and at the pace they were opened), the timer service's own lateness
(`router.timers.sample_lateness`: how late the heap hands a due deadline to its actor) and,
through a journal commit hook, how late the resulting `incident.escalated` is durable
(deadline -> escalation journaled), with the garbage collector's pauses as the likely cause
of the tail.

On call (`pager serve` in its own process, pinned to one CPU, wrk on the other): a schedule of
50 users in 3 layers (a weekly rotation of all 50, a daily business-hours layer restricted to
weekdays 09:00-17:00, a weekend layer) plus 52 overrides, in America/New_York (two DST
changes), started a year ago. `GET /api/v1/oncall?schedule=&at=` over HTTP/1.1 keep-alive at
instants spread over that year (wrk, one connection, closed loop: per-request latency); the
same lookup in-process (`pager.core.schedule.oncall_at`, and `oncall_json`, which the endpoint
runs); `GET /api/v1/schedules/{id}/shifts` for the whole year. The HTTP answers are checked
against `oncall_at`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from .config import free_port
from .disk import percentile
from .ingest import VENV_BIN, Server, pinning
from .table import Row, Table, fmt_ms, fmt_rate

__all__ = ["run_escalation"]

INCIDENTS_TARGET = 100_000
RSS_TARGET = 1_000_000_000  # bytes: "< 1 GB", read as 10^9
LATE_P99_TARGET = 0.100
TOKEN = "bench-token-0123456789"  # noqa: S105 (the bench configuration's API token)
PATHS_LUA = Path(__file__).with_name("paths.lua")
SCRIPTS = Path(__file__).resolve().parent.parent
REPO = SCRIPTS.parent
SUBMITTERS = 256


@dataclass(frozen=True)
class Plan:
    incidents: int
    first_after: int  # seconds: level 1's escalate_after
    window_cap: float  # seconds to wait for every level-1 timer to fire
    wrk_seconds: int
    warmup: int
    lookups: int  # in-process oncall_at calls
    json_lookups: int  # in-process oncall_json calls
    shift_runs: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(5_000, 8, 30.0, 1, 0, 2_000, 200, 1)
        return cls(100_000, 120, 200.0, 10, 1, 20_000, 2_000, 5)


def fmt_us(seconds: float) -> str:
    us = seconds * 1e6
    if us >= 1000:
        return fmt_ms(seconds)
    return f"{us:.1f} µs" if us < 100 else f"{us:.0f} µs"


def fmt_mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


# --------------------------------------------------------------------------- configurations


def timers_config(data_dir: Path, first_after: int) -> str:
    users = "\n".join(
        f"  - id: u{i:02d}\n    notification_rules: [{{after: 0m, via: console}}]" for i in range(3)
    )
    return f"""\
server:
  listen: 127.0.0.1:0
data_dir: {data_dir}
auth:
  api_tokens:
    - {{name: ops, token: "{TOKEN}"}}
users:
{users}
escalation_policies:
  - id: storm
    repeat: 100
    levels:
      - targets: [{{user: u00}}]
        escalate_after: {first_after}s
      - targets: [{{user: u01}}]
        escalate_after: 60s
      - targets: [{{user: u02}}]
        escalate_after: 60s
services:
  - id: storm
    escalation_policy: storm
    integrations:
      - {{type: pagerduty, key: R0UT1NGKEYST0RM000000000000000000}}
channels:
  console: {{}}
journal:
  fsync: false
"""


SCHEDULE_USERS = 50


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def oncall_config(data_dir: Path, port: int, start: date) -> str:
    users = "\n".join(
        f"  - {{id: u{i:02d}, notification_rules: [{{after: 0m, via: console}}]}}"
        for i in range(SCHEDULE_USERS)
    )
    everyone = ", ".join(f"u{i:02d}" for i in range(SCHEDULE_USERS))
    office = ", ".join(f"u{i:02d}" for i in range(10, 20))
    weekend = ", ".join(f"u{i:02d}" for i in range(20, 28))
    base = datetime(start.year, start.month, start.day, tzinfo=UTC)
    overrides = []
    for k in range(52):  # one a week, 12 hours, Wednesday evenings (UTC)
        o_start = base + timedelta(weeks=k, days=2, hours=18)
        overrides.append(
            f"      - {{user: u{(30 + k) % SCHEDULE_USERS:02d}, start: {_iso(o_start)}, "
            f"end: {_iso(o_start + timedelta(hours=12))}}}"
        )
    return f"""\
server:
  listen: 127.0.0.1:{port}
data_dir: {data_dir}
auth:
  api_tokens:
    - {{name: ops, token: "{TOKEN}"}}
users:
{users}
schedules:
  - id: primary
    timezone: America/New_York
    layers:
      - name: weekly
        users: [{everyone}]
        rotation: {{every: 1w, handoff: "monday 09:00", start: {start.isoformat()}}}
      - name: business-hours
        users: [{office}]
        rotation: {{every: 1d, handoff: "09:00", start: {start.isoformat()}}}
        restrictions:
          - {{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}}
      - name: weekend
        users: [{weekend}]
        rotation: {{every: 1w, handoff: "saturday 00:00", start: {start.isoformat()}}}
        restrictions:
          - {{days: [sat, sun], start: "00:00", end: "24:00"}}
    overrides:
{chr(10).join(overrides)}
journal:
  fsync: false
"""


# --------------------------------------------------------------------------- the worker


def _rss() -> int:
    """VmRSS of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class GcWatch:
    """The collector's pauses (seconds) by generation, through gc.callbacks."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._t = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._t))

    def summary(self) -> dict[str, Any]:
        full = [p for g, p in self.pauses if g == 2]
        return {
            "count": len(self.pauses),
            "total": sum(p for _, p in self.pauses),
            "max": max((p for _, p in self.pauses), default=0.0),
            "full": len(full),
            "full_total": sum(full),
            "full_max": max(full, default=0.0),
        }

    def reset(self) -> None:
        self.pauses = []


def _pcts(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "p999": percentile(values, 99.9),
        "max": values[-1],
    }


async def _timers_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import trio

    from pager.actors.messages import Ingest
    from pager.config import load_config_text
    from pager.core.commands import TriggerAlert
    from pager.core.incident import next_deadline
    from pager.errors import Unavailable
    from pager.service import run_pager

    n = int(spec["incidents"])
    folder = Path(spec["folder"])
    out: dict[str, Any] = {"incidents": n, "first_after": spec["first_after"]}
    config = load_config_text(
        timers_config(folder / "data", int(spec["first_after"])), source="bench escalation"
    )
    watch = GcWatch()
    shutdown = trio.Event()
    result_path = Path(spec["out"])

    def save() -> None:
        result_path.write_text(json.dumps(out))

    async with trio.open_nursery() as nursery:
        running = await nursery.start(
            partial(run_pager, config, shutdown=shutdown, serve_edges=False, manage_gc=True)
        )
        system = running.system
        router = running.actors.router
        gc.collect()
        out["rss_base"] = _rss()
        watch.reset()

        # -- open n incidents
        busy = 0
        nxt = 0
        t0 = time.perf_counter()
        cpu0 = _cpu()
        step = max(1, n // 10)

        async def submitter() -> None:
            nonlocal nxt, busy
            while nxt < n:
                i = nxt
                nxt += 1
                if i % step == 0:
                    print(
                        f"opening: {i:,} of {n:,} after {time.perf_counter() - t0:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                cmd = TriggerAlert(
                    key=f"storm-{i}",
                    summary=f"Disk usage above 95% on db-{i % 97}.prod (/var/lib/postgresql)",
                    severity="critical",
                    source=f"db-{i % 97}.prod.example.net",
                )
                while True:
                    try:
                        await system.submit(Ingest("storm", f"storm-{i}", "pagerduty", cmd))
                        break
                    except Unavailable:
                        busy += 1
                        await trio.sleep(0.05)

        async with trio.open_nursery() as submitters:
            for _ in range(SUBMITTERS):
                submitters.start_soon(submitter)
        out["open_seconds"] = time.perf_counter() - t0
        out["open_cpu"] = _cpu() - cpu0
        out["open_busy"] = busy
        out["open_gc"] = watch.summary()
        out["fired_while_opening"] = router.timers.fired
        save()

        # -- memory with all of them open
        t = time.perf_counter()
        gc.collect()
        out["gc_collect_seconds"] = time.perf_counter() - t
        out["rss_open"] = _rss()
        out["gc_objects"] = len(gc.get_objects())
        out["open_incidents"] = len(system.state.open_by_key)
        out["actors"] = router.actor_count
        out["timers_armed"] = len(router.timers)
        save()

        # -- every incident's next timer fires; how late?
        due: dict[str, datetime] = {}
        for iid in system.state.open_by_key.values():
            d = next_deadline(system.state.incidents[iid])
            if d is not None:
                due[iid] = d
        out["due"] = len(due)
        if not due:
            return out
        first_due, last_due = min(due.values()), max(due.values())
        out["due_span"] = (last_due - first_due).total_seconds()
        now = system.clock.now()
        out["first_due_in"] = (first_due - now).total_seconds()
        lags: list[float] = []
        pending = dict(due)
        clock = system.clock

        def escalated(records: Any) -> None:
            stamp = None
            for r in records:
                if r.type != "incident.escalated":
                    continue
                d = pending.pop(r.subject, None)
                if d is None:
                    continue
                stamp = stamp or clock.now()
                lags.append((stamp - d).total_seconds())

        system.log.add_commit_hook(escalated)
        timers = router.timers
        timers.lateness.clear()
        fired0 = timers.fired
        watch.reset()
        timers.sample_lateness = True
        cpu0 = _cpu()
        start = time.perf_counter()
        wait_until = start + max(0.0, (last_due - now).total_seconds()) + float(spec["window_cap"])
        first_fire = last_fire = None
        while time.perf_counter() < wait_until:
            await trio.sleep(0.05)
            fired = timers.fired - fired0
            if fired and first_fire is None:
                first_fire = time.perf_counter()
                cpu0 = _cpu()
            if fired >= len(due) and not pending:
                last_fire = time.perf_counter()
                break
        timers.sample_lateness = False
        end = time.perf_counter()
        out["window_seconds"] = end - start
        out["fire_seconds"] = (last_fire or end) - (first_fire or start)
        out["fire_cpu"] = _cpu() - cpu0
        out["fired"] = timers.fired - fired0
        out["lateness"] = _pcts(list(timers.lateness))
        out["escalated"] = _pcts(lags)
        out["not_escalated"] = len(pending)
        out["window_gc"] = watch.summary()
        save()
        gc.collect()
        out["rss_after"] = _rss()
        out["gc_objects_after"] = len(gc.get_objects())
        out["notifications"] = len(system.state.notifications.by_id)
        save()

        # -- shutdown with them all open (the last snapshot, every actor stopping)
        t = time.perf_counter()
        shutdown.set()
    out["shutdown_seconds"] = time.perf_counter() - t
    save()
    return out


def _worker_main(argv: list[str]) -> int:
    import trio

    p = argparse.ArgumentParser(prog="bench_lib.escalation")
    p.add_argument("--worker", required=True, help="JSON: incidents, first_after, folder, out")
    args = p.parse_args(argv)
    spec = json.loads(args.worker)
    trio.run(_timers_worker, spec)
    return 0


# --------------------------------------------------------------------------- timers (parent)


def _measure_timers(table: Table, scratch: Path, plan: Plan, say: Callable[[str], None]) -> None:
    folder = scratch / "timers"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "result.json"
    spec = {
        "incidents": plan.incidents,
        "first_after": plan.first_after,
        "window_cap": plan.window_cap,
        "folder": str(folder),
        "out": str(out),
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SCRIPTS), str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    )
    log_path = folder / "worker.log"
    say(
        f"timers: opening {plan.incidents:,} incidents in a fresh process, then waiting for "
        f"their level-1 timers ({plan.first_after} s after each opened) ..."
    )
    budget = plan.first_after + plan.window_cap + 600
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench_lib.escalation", "--worker", json.dumps(spec)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the console transport prints every page
            stderr=log,
        )
        try:
            rc = proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
    tail = "\n".join("    " + ln for ln in log_path.read_text(errors="replace").splitlines()[-20:])
    try:
        r = json.loads(out.read_text())
    except (OSError, ValueError):
        r = {}
    if rc != 0:
        what = f"was killed after {budget} s" if rc is None else f"exited with {rc}"
        table.alarms.append(f"the timers worker {what}:\n{tail}")
    if "open_seconds" not in r:
        table.add(Row("open incidents escalating at once", "FAILED", error=True,
                      note="see the !!! lines below"))  # fmt: skip
        return
    n = r["incidents"]
    bad = rc != 0
    opened = r.get("open_incidents", 0)
    table.add(
        Row(
            "open incidents, each with an escalation timer",
            f"{opened:,}",
            f">= {INCIDENTS_TARGET:,}",
            opened >= INCIDENTS_TARGET and r.get("timers_armed", 0) >= INCIDENTS_TARGET,
            f"{r.get('timers_armed', 0):,} timers armed, {r.get('actors', 0):,} incident actors",
            error=bad or opened != n,
        )
    )
    og = r["open_gc"]
    busy = r.get("open_busy", 0)
    table.add(
        Row(
            "  opening them (System.submit, 256 at a time)",
            f"{r['open_seconds']:.1f} s",
            note=f"{fmt_rate(n / r['open_seconds'])} incidents opened, "
            f"{r['open_cpu'] / r['open_seconds']:.2f} cores; GC paused {og['total']:.1f} s "
            f"of it ({og['full']} full collections, longest {fmt_ms(og['full_max'])})"
            + (f"; {busy:,} submits answered busy (503) and retried" if busy else ""),
        )
    )
    if "rss_open" in r:
        per = (r["rss_open"] - r["rss_base"]) / max(1, opened)
        table.add(
            Row(
                "  RSS with them all open (VmRSS after gc.collect)",
                fmt_mb(r["rss_open"]),
                "< 1 GB",
                r["rss_open"] < RSS_TARGET,
                f"{per / 1000:.1f} kB per incident over {fmt_mb(r['rss_base'])} at start; "
                f"{r['gc_objects']:,} objects the collector tracks; gc.collect() took "
                f"{r['gc_collect_seconds']:.1f} s",
            )
        )
    if "lateness" not in r:
        table.add(Row("timers late by", "FAILED", error=True, note="see the !!! lines below"))
        return
    lat = r["lateness"]
    fired = r["fired"]
    span = r.get("fire_seconds") or 1.0
    wg = r["window_gc"]
    early = r.get("fired_while_opening", 0)
    if lat.get("n"):
        table.add(
            Row(
                "timers late by p50 / p99 / max",
                f"{fmt_ms(lat['p50'])} / {fmt_ms(lat['p99'])} / {fmt_ms(lat['max'])}",
                f"p99 < {LATE_P99_TARGET * 1000:g} ms",
                lat["p99"] < LATE_P99_TARGET,
                f"p90 {fmt_ms(lat['p90'])}, p99.9 {fmt_ms(lat['p999'])}; Timers.lateness: due "
                "instant -> the heap hands it to the incident actor",
                error=bad,
            )
        )
    else:
        table.add(Row("timers late by", "none fired", error=True))
    extra = fired - r["due"]
    table.add(
        Row(
            "  timers fired in the window",
            f"{fired:,}",
            note=f"over {span:.1f} s ({fmt_rate(fired / span)}): the {r['due']:,} level-1 "
            "timers (due at the pace the incidents were opened)"
            + (
                f" and {extra:,} level-2 timers that came due before the last level-1 "
                "escalation was journaled"
                if extra > 0
                else ""
            )
            + "; pager used "
            f"{r['fire_cpu'] / span:.2f} cores meanwhile; "
            f"GC paused {wg['total']:.1f} s ({wg['count']:,} collections, {wg['full']} full, "
            f"longest {fmt_ms(wg['max'])})"
            + (f"; {early:,} fired while incidents were still being opened" if early else ""),
            error=bad or fired < r["due"],
        )
    )
    if "rss_after" in r:
        grown = (r["rss_after"] - r["rss_open"]) / max(1, r["escalated"].get("n", 0))
        table.add(
            Row(
                "  RSS once every incident has escalated (after gc.collect)",
                fmt_mb(r["rss_after"]),
                "< 1 GB",
                r["rss_after"] < RSS_TARGET,
                f"+{grown / 1000:.1f} kB per escalation (RSS: what the state keeps, three "
                "timeline entries, a page and a notification with its outcome, and what the "
                "allocator freed but kept); "
                f"{r['notifications']:,} notifications held; "
                f"{r['gc_objects_after']:,} objects the collector tracks",
            )
        )
    esc = r["escalated"]
    if esc.get("n"):
        table.add(
            Row(
                "  deadline -> incident.escalated journaled, p50 / p99 / max",
                f"{fmt_ms(esc['p50'])} / {fmt_ms(esc['p99'])} / {fmt_ms(esc['max'])}",
                note=f"{esc['n']:,} escalations; includes the actor's turn, decide, the "
                "journal append (fsync off) and its commit; p90 "
                f"{fmt_ms(esc['p90'])}"
                + (
                    f"; {r['not_escalated']:,} due escalations never journaled"
                    if r["not_escalated"]
                    else ""
                ),
                error=bad or r["not_escalated"] > 0,
            )
        )
    if "shutdown_seconds" in r:
        table.notes.append(
            f"shutdown with {opened:,} incidents open (last snapshot, every actor stopped): "
            f"{r['shutdown_seconds']:.1f} s"
        )


# --------------------------------------------------------------------------- on call


def _run_wrk_get(pin: list[str], url: str, paths: Path, seconds: int, out: Path) -> dict[str, Any]:
    argv = [*pin, "wrk", "-t1", "-c1", f"-d{seconds}s", "--latency", "--timeout", "10s",
            "-s", str(PATHS_LUA), url, "--", str(paths), TOKEN]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    out.write_text(proc.stdout + proc.stderr)
    m = re.search(r"^BENCH_RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(
            f"wrk failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout}{proc.stderr}"
        )
    d: dict[str, Any] = json.loads(m.group(1))
    return d


def _get_json(url: str) -> tuple[int, Any, int, float]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})  # noqa: S310
    t = time.perf_counter()
    status, body = _get_auth(req)
    elapsed = time.perf_counter() - t
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status, doc, len(body), elapsed


def _get_auth(req: urllib.request.Request) -> tuple[int, bytes]:
    import urllib.error

    try:
        with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 (our own URL)
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _measure_oncall(table: Table, scratch: Path, plan: Plan, say: Callable[[str], None]) -> None:
    from pager.config import load_config_text
    from pager.config.compile import compile_rules
    from pager.core import schedule as sched
    from pager.web.api_schedules import oncall_json

    folder = scratch / "oncall"
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    year_ago = now - timedelta(days=365)
    start = year_ago.date()
    port = free_port()
    text = oncall_config(folder / "data", port, start)
    (folder / "pager.yaml").write_text(text)
    rules = compile_rules(load_config_text(text, source="bench escalation"))
    s = rules.schedules["primary"]
    names = {u.id: u.name or u.id for u in rules.users.values()}
    rnd = random.Random(4)
    span = (now - year_ago).total_seconds()
    instants = [year_ago + timedelta(seconds=rnd.uniform(0, span)) for _ in range(plan.lookups)]
    table.notes.append(
        f"schedule: {SCHEDULE_USERS} users; layers weekly (all 50, Monday 09:00), "
        "business-hours (10 users, daily 09:00, weekdays 09:00-17:00 only), weekend (8 users, "
        f"Saturday 00:00, weekends only); 52 overrides; America/New_York; started {start}; "
        f"lookups at {plan.lookups:,} instants spread over the year since"
    )

    # -- in-process
    say("on call: in-process lookups ...")
    clock = time.perf_counter_ns
    times: list[float] = []
    for at in instants:
        t = clock()
        sched.oncall_at(s, at)
        times.append((clock() - t) / 1e9)
    times.sort()
    jtimes: list[float] = []
    for at in instants[: plan.json_lookups]:
        t = clock()
        oncall_json(s, at, names)
        jtimes.append((clock() - t) / 1e9)
    jtimes.sort()
    t = time.perf_counter()
    for _ in range(plan.shift_runs):
        year_shifts = sched.shifts(s, year_ago, now)
        sched.gaps(s, year_ago, now)
    shifts_inproc = (time.perf_counter() - t) / plan.shift_runs

    # -- over HTTP
    srv_pin, load_pin, pin_note = pinning()
    say("on call: GET /api/v1/oncall over HTTP (pager serve, wrk -c1) ...")
    server = Server(
        "pager",
        [*srv_pin, str(VENV_BIN / "pager"), "serve", "--config", str(folder / "pager.yaml")],
        folder / "pager.log",
        f"http://127.0.0.1:{port}/readyz",
    )
    base = f"http://127.0.0.1:{port}"
    http: dict[str, Any] | None = None
    mismatches: list[str] = []
    shift_http: list[float] = []
    shift_doc: Any = None
    shift_bytes = 0
    try:
        server.wait_ready()
        # cross-check: what the API says against oncall_at
        for at in instants[:50]:
            status, doc, _, _ = _get_json(f"{base}/api/v1/oncall?schedule=primary&at={_iso(at)}")
            want = sched.oncall_at(s, at.replace(microsecond=0))
            got = doc["oncall"][0].get("user") if status == 200 and doc else f"HTTP {status}"
            if got != want:
                mismatches.append(f"{_iso(at)}: API {got!r}, oncall_at {want!r}")
        paths = folder / "oncall-paths.txt"
        paths.write_text(
            "".join(f"/api/v1/oncall?schedule=primary&at={_iso(at)}\n" for at in instants[:2000])
        )
        if plan.warmup:
            _run_wrk_get(load_pin, base, paths, plan.warmup, folder / "wrk-warmup.txt")
        http = _run_wrk_get(load_pin, base, paths, plan.wrk_seconds, folder / "wrk.txt")
        say("on call: GET /api/v1/schedules/primary/shifts for a year ...")
        url = f"{base}/api/v1/schedules/primary/shifts?from={_iso(year_ago)}&to={_iso(now)}"
        for _ in range(plan.shift_runs):
            status, shift_doc, shift_bytes, elapsed = _get_json(url)
            if status != 200:
                mismatches.append(f"shifts: HTTP {status}: {str(shift_doc)[:200]}")
                break
            shift_http.append(elapsed)
    except (RuntimeError, OSError) as e:
        table.alarms.append(f"on call over HTTP could not be measured: {e}")
    finally:
        alive = server.alive
        server.stop()
        if not alive:
            table.alarms.append(f"pager DIED during the on-call measurement:\n{server.tail()}")
    if mismatches:
        table.alarms.append(
            f"GET /api/v1/oncall disagrees with oncall_at at {len(mismatches)} of 50 instants: "
            + "; ".join(mismatches[:5])
        )

    if http is not None:
        errors = http["status"] + http["connect"] + http["read"] + http["write"] + http["timeout"]
        secs = http["duration_us"] / 1e6
        table.add(
            Row(
                "GET /api/v1/oncall (HTTP, keep-alive) p50 / p99",
                f"{fmt_ms(http['p50_us'] / 1e6)} / {fmt_ms(http['p99_us'] / 1e6)}",
                note=f"{http['requests']:,} requests in {secs:.1f} s "
                f"({fmt_rate(http['requests'] / secs)}), one at a time; errors {errors}; "
                f"p90 {fmt_ms(http['p90_us'] / 1e6)}, max {fmt_ms(http['max_us'] / 1e6)}; "
                f"{pin_note}",
                error=errors > 0 or bool(mismatches),
            )
        )
    else:
        table.add(Row("GET /api/v1/oncall (HTTP)", "FAILED", error=True,
                      note="see the !!! lines below"))  # fmt: skip
    table.add(
        Row(
            "  in-process oncall_at p50 / p99 per call",
            f"{fmt_us(percentile(times, 50))} / {fmt_us(percentile(times, 99))}",
            note=f"{len(times):,} calls; max {fmt_us(times[-1])}",
        )
    )
    table.add(
        Row(
            "  in-process oncall_json (what the endpoint runs) p50 / p99",
            f"{fmt_us(percentile(jtimes, 50))} / {fmt_us(percentile(jtimes, 99))}",
            note=f"{len(jtimes):,} calls; it computes the shifts of +-(longest rotation + 1 "
            "day) to find the current one",
        )
    )
    if shift_http:
        shift_http.sort()
        n_shifts = len(shift_doc.get("shifts", [])) if isinstance(shift_doc, dict) else 0
        table.add(
            Row(
                "GET /api/v1/schedules/{id}/shifts, a whole year",
                fmt_ms(percentile(shift_http, 50)),
                note=f"median of {len(shift_http)}, max {fmt_ms(shift_http[-1])}; "
                f"{n_shifts:,} shifts, {shift_bytes / 1000:,.0f} kB of JSON; in-process "
                f"shifts()+gaps() {fmt_ms(shifts_inproc)} ({len(year_shifts):,} shifts)",
                error=bool(mismatches),
            )
        )


# --------------------------------------------------------------------------- section


def run_escalation(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    plan = Plan.of(quick)
    scratch.mkdir(parents=True, exist_ok=True)
    table = Table("escalation: open incidents with timers, timer lateness, on-call lookups")
    table.notes.append(
        f"timers: a fresh process runs pager in-process (run_pager, serve_edges=False; "
        f"JSON-lines log on the scratch disk, fsync off; console pages to /dev/null) and "
        f"opens {plan.incidents:,} incidents through System.submit ({SUBMITTERS} submitters; "
        "no HTTP: see `bench ingest` for that). Policy: 3 levels of one user each, level 1 "
        f"escalates after {plan.first_after} s (longer than opening takes), later levels "
        "every 60 s, repeat 100. The window lasts until every incident's level-1 timer has "
        "fired: they come due at the pace the incidents were opened"
    )
    try:
        _measure_timers(table, scratch, plan, say)
    except (RuntimeError, OSError) as e:
        table.alarms.append(f"timers could not be measured: {e}")
    try:
        _measure_oncall(table, scratch, plan, say)
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        table.alarms.append(f"on call could not be measured: {type(e).__name__}: {e}")
    return table


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
