"""`scripts/bench ingest`: durable ingest over HTTP, driven by wrk.

pager runs as its own process (`.venv/bin/pager serve --config FILE`, fsync on, no per-key
rate limit as by default, a fresh data folder per measurement), pinned to one CPU while wrk runs on the
other, so each has a core. Every request carries a new key (see distinct.lua), so every
request opens an incident and is journaled before its 2xx.

- PagerDuty `POST /v2/enqueue`, one ~333-byte trigger per request, through the lean
  listener (`server.ingest_listen`) and through Quart/hypercorn (`server.listen`):
  requests/s, p50/p99 (targets, lean: >= 3,000 durable events/s with p99 < 40 ms);
- Alertmanager webhooks carrying 100 alerts each, through the lean listener: alerts/s
  (target >= 20,000/s);
- the same single-alert load against a real Alertmanager (`POST /api/v2/alerts`), when
  installed, as a yardstick: pager/Alertmanager.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import AM_KEY, PD_KEY, config_text, free_port
from .disk import FsyncWatcher
from .table import Row, Table, fmt_ms, fmt_rate

__all__ = ["run_ingest"]

EVENTS_TARGET = 3_000
KEYSPACE = 1_000  # dedup keys per wrk thread in the "firing again" runs
P99_TARGET = 0.040
ALERTS_TARGET = 20_000
AM_ALERTS_PER_WEBHOOK = 100
LUA = Path(__file__).with_name("distinct.lua")
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Plan:
    threads: int
    connections: int
    seconds: int
    warmup: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(threads=1, connections=4, seconds=1, warmup=0)
        return cls(threads=2, connections=64, seconds=10, warmup=2)

    def wrk_args(self, seconds: int | None = None) -> list[str]:
        return [
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds or self.seconds}s",
            "--latency",
            "--timeout",
            "10s",
        ]


# --------------------------------------------------------------------------- bodies


def pd_trigger_template() -> bytes:
    """A PagerDuty Events v2 trigger of about 333 bytes (with a typical key)."""
    ev = {
        "routing_key": PD_KEY,
        "event_action": "trigger",
        "dedup_key": "@KEY@",
        "payload": {
            "summary": "Disk usage above 95% on db-3.prod (/var/lib/postgresql)",
            "source": "db-3.prod.example.net",
            "severity": "critical",
            "component": "postgresql",
            "group": "prod-db",
            "class": "disk-full",
            "custom_details": {"used_pct": 97.3},
        },
    }
    return json.dumps(ev, separators=(",", ":")).encode()


def am_webhook_template(alerts: int = AM_ALERTS_PER_WEBHOOK) -> bytes:
    """An Alertmanager v4 webhook of one group with `alerts` firing alerts; the groupKey is
    the @KEY@, so every webhook is a new group (a new incident of `alerts` alerts)."""
    items = []
    for i in range(alerts):
        labels = {
            "alertname": "HighRequestLatency",
            "instance": f"web-{i}.prod:9100",
            "job": "checkout-web",
            "service": "checkout",
            "severity": "critical",
        }
        items.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "summary": f"p99 latency above 2s on web-{i}.prod",
                    "runbook_url": "https://runbooks.example.net/latency",
                },
                "startsAt": "2026-03-02T03:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.net:9090/graph?g0.expr=latency_p99+%3E+2",
                "fingerprint": f"{0x5EED0000 + i:016x}",
            }
        )
    msg = {
        "version": "4",
        "groupKey": '{}/{service="checkout"}:{alertname="HighRequestLatency", batch="@KEY@"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pager",
        "groupLabels": {"alertname": "HighRequestLatency"},
        "commonLabels": {
            "alertname": "HighRequestLatency",
            "job": "checkout-web",
            "service": "checkout",
            "severity": "critical",
        },
        "commonAnnotations": {"runbook_url": "https://runbooks.example.net/latency"},
        "externalURL": "http://alertmanager.example.net:9093",
        "alerts": items,
    }
    return json.dumps(msg, separators=(",", ":")).encode()


def am_alert_template() -> bytes:
    """One alert for Alertmanager's own API (`POST /api/v2/alerts`), about 333 bytes."""
    alert = [
        {
            "labels": {
                "alertname": "DiskFull",
                "instance": "db-3.prod:9100",
                "job": "node",
                "severity": "critical",
                "dedup": "@KEY@",
            },
            "annotations": {
                "summary": "Disk usage above 95% on db-3.prod (/var/lib/postgresql)",
                "runbook_url": "https://runbooks.example.net/disk-full",
            },
            "generatorURL": "http://prometheus.example.net:9090/graph?g0.expr=disk+%3E+95",
        }
    ]
    return json.dumps(alert, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- processes


def pinning() -> tuple[list[str], list[str], str]:
    """taskset prefixes for the server and for wrk: each gets a core of its own."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) >= 2 and shutil.which("taskset"):
        srv, load = cpus[-1], cpus[0]
        return (
            ["taskset", "-c", str(srv)],
            ["taskset", "-c", str(load)],
            f"server pinned to CPU {srv}, wrk to CPU {load} (taskset)",
        )
    return [], [], "not pinned (fewer than 2 CPUs or no taskset): server and wrk share CPUs"


def _cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a running process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (our own URL)
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    """A server process we started (pager or Alertmanager), its log in a file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, ready_url: str) -> None:
        self.name = name
        self.log_path = log_path
        self.ready_url = ready_url
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            list(argv), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if _get(self.ready_url, 1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout:g} s:\n{self.tail()}")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    " + ln for ln in text[-lines:])

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def launch_pager(
    folder: Path, pin: list[str], config: Callable[[int, int], str]
) -> tuple[Server, str, int]:
    """`pager serve` on free ports with `config(port, ingest_port)` (YAML), once it is
    ready: (server, main URL, ingest port). Blocking."""
    folder.mkdir(parents=True, exist_ok=True)
    port, ingest_port = free_port(), free_port()
    cfg = folder / "pager.yaml"
    cfg.write_text(config(port, ingest_port))
    main_url = f"http://127.0.0.1:{port}"
    server = Server(
        "pager",
        [*pin, str(VENV_BIN / "pager"), "serve", "--config", str(cfg)],
        folder / "pager.log",
        f"{main_url}/readyz",
    )
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server, main_url, ingest_port


def start_pager(folder: Path, pin: list[str]) -> tuple[Server, str, str]:
    """pager on the bench's configuration: (server, main URL, ingest URL)."""
    server, main_url, ingest_port = launch_pager(
        folder,
        pin,
        lambda port, ingest: config_text(folder / "data", port=port, ingest_port=ingest),
    )
    return server, main_url, f"http://127.0.0.1:{ingest_port}"


BLACKHOLE = (
    "route:\n  receiver: blackhole\n  group_by: [alertname]\nreceivers:\n  - name: blackhole\n"
)


def start_alertmanager(
    folder: Path, pin: list[str], binary: str, config: str = BLACKHOLE
) -> tuple[Server, str]:
    """A real Alertmanager on a free port with `config`, once it is ready: (server, url)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg = folder / "alertmanager.yml"
    cfg.write_text(config)
    url = f"http://127.0.0.1:{port}"
    server = Server(
        "alertmanager",
        [
            *pin,
            binary,
            f"--config.file={cfg}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        folder / "alertmanager.log",
        f"{url}/-/ready",
    )
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server, url


def read_metrics(main_url: str) -> dict[str, float]:
    """pager's /metrics, as {name{labels}: value}."""
    out: dict[str, float] = {}
    try:
        status, body = _get(f"{main_url}/metrics", 10.0)
    except OSError:
        return out
    if status != 200:
        return out
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[name] = float(value)
    return out


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non2xx: int
    connect: int
    read: int
    write: int
    timeout: int
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    wrk_cpu: float
    raw: str

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors

    @property
    def ok(self) -> int:
        return self.requests - self.non2xx

    @property
    def ok_rate(self) -> float:
        return self.ok / self.seconds

    def error_text(self) -> str:
        return (
            f"non-2xx {self.non2xx:,}, socket errors {self.socket_errors:,} (connect "
            f"{self.connect}, read {self.read}, write {self.write}, timeout {self.timeout})"
        )


def run_wrk(
    plan: Plan,
    pin: list[str],
    url: str,
    path: str,
    template: Path,
    prefix: str,
    out: Path,
    seconds: int | None = None,
    keyspace: int = 0,
) -> WrkResult:
    argv = [
        *pin,
        "wrk",
        *plan.wrk_args(seconds),
        "-s",
        str(LUA),
        f"{url}{path}",
        "--",
        path,
        str(template),
        prefix,
        str(keyspace),
    ]
    with open(out, "wb") as f:
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    raw = out.read_text(errors="replace")
    m = re.search(r"^BENCH_RESULT (\{.*\})$", raw, re.M)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {' '.join(argv)}\n{raw}")
    d = json.loads(m.group(1))
    seconds_run = d["duration_us"] / 1e6
    return WrkResult(
        requests=d["requests"],
        seconds=seconds_run,
        non2xx=d["status"],
        connect=d["connect"],
        read=d["read"],
        write=d["write"],
        timeout=d["timeout"],
        p50=d["p50_us"] / 1e6,
        p90=d["p90_us"] / 1e6,
        p99=d["p99_us"] / 1e6,
        p999=d["p999_us"] / 1e6,
        max=d["max_us"] / 1e6,
        wrk_cpu=(usage.ru_utime + usage.ru_stime) / seconds_run,
        raw=raw,
    )


# --------------------------------------------------------------------------- scenarios


@dataclass
class Measured:
    wrk: WrkResult
    server_cpu: float  # cores used by the server during the measured run
    records: float | None  # records journaled during the measured run (pager only)
    accepted: float | None  # requests pager counted as accepted during the measured run
    disk: str  # what a small fdatasync cost on the scratch disk during the run


def _measure(
    plan: Plan,
    load_pin: list[str],
    server: Server,
    url: str,
    path: str,
    template: Path,
    out_dir: Path,
    name: str,
    main_url: str | None,
    keyspace: int = 0,
) -> Measured:
    if plan.warmup:
        run_wrk(plan, load_pin, url, path, template, "warm", out_dir / f"{name}.warmup.txt",
                seconds=plan.warmup, keyspace=keyspace)  # fmt: skip
    before = read_metrics(main_url) if main_url else {}
    cpu0 = server.cpu()
    with FsyncWatcher(out_dir) as disk:
        res = run_wrk(
            plan, load_pin, url, path, template, "warm" if keyspace else "run",
            out_dir / f"{name}.wrk.txt", keyspace=keyspace,
        )  # fmt: skip
    cpu = (server.cpu() - cpu0) / res.seconds
    records = accepted = None
    if main_url:
        after = read_metrics(main_url)
        key_r, key_a = (
            "pager_journal_records_total",
            'pager_ingest_requests_total{outcome="accepted"}',
        )
        if key_r in after and key_r in before:
            records = after[key_r] - before[key_r]
        if key_a in after and key_a in before:
            accepted = after[key_a] - before[key_a]
    return Measured(res, cpu, records, accepted, disk.summary())


def _notes(m: Measured, per_request: int) -> str:
    w = m.wrk
    parts = [f"{w.requests:,} requests in {w.seconds:.1f} s", f"errors {w.errors:,}"]
    if m.records is not None and m.accepted:
        parts.append(
            f"pager accepted {m.accepted:,.0f}, journaled {m.records:,.0f} records "
            f"({m.records / m.accepted:.2f}/request)"
        )
    parts.append(f"server CPU {m.server_cpu:.2f} cores, wrk {w.wrk_cpu:.2f}")
    if w.ok_rate > 0:
        # steadier than the rate on a shared machine: what one request costs the server
        parts.append(f"{m.server_cpu / w.ok_rate * 1000:.3f} ms of server CPU per request")
    if per_request > 1:
        parts.append(f"{w.ok_rate:,.0f} webhooks/s")
    return "; ".join(parts)


def _check_errors(table: Table, label: str, m: Measured, server: Server) -> bool:
    w = m.wrk
    bad = False
    if w.errors:
        bad = True
        table.alarms.append(
            f"ERRORS in '{label}': {w.errors:,} of {w.requests:,} requests failed: {w.error_text()}"
        )
    if m.accepted is not None and m.accepted < 0.99 * w.ok:
        bad = True
        table.alarms.append(
            f"'{label}': wrk saw {w.ok:,} answers under 400 but pager counted only "
            f"{m.accepted:,.0f} accepted: answers that are not acceptances"
        )
    if not server.alive:
        bad = True
        table.alarms.append(f"{server.name} DIED during '{label}':\n{server.tail()}")
    return bad


def _run_on(
    table: Table, label: str, server: Server, measure: Callable[[], Measured]
) -> tuple[Measured | None, bool]:
    """Run `measure` against `server`, then stop the server; (result, whether it went
    wrong). A failure is recorded as an alarm, never raised."""
    m: Measured | None = None
    try:
        m = measure()
    except (RuntimeError, OSError) as e:
        table.alarms.append(f"'{label}' could not be measured: {e}")
    finally:
        bad = _check_errors(table, label, m, server) if m is not None else True
        server.stop()
    return m, bad


def _failed_row(table: Table, label: str) -> None:
    table.add(Row(label, "FAILED", note="see the !!! lines below", error=True))


def run_ingest(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    plan = Plan.of(quick)
    scratch.mkdir(parents=True, exist_ok=True)
    table = Table("ingest: durable HTTP ingest (wrk, keep-alive, a new key in every request)")
    if not shutil.which("wrk"):
        table.alarms.append(
            "wrk is not installed: nothing measured (scripts/setup --test installs it)"
        )
        return table
    srv_pin, load_pin, pin_note = pinning()
    table.notes.append(
        f"wrk -t{plan.threads} -c{plan.connections} -d{plan.seconds}s --latency --timeout 10s "
        f"-s {LUA.name}, after a {plan.warmup} s warm-up; {pin_note}; pager: `pager serve`, "
        f"journal fsync on, a fresh process and data folder per measurement"
    )
    pd = scratch / "pd.json"
    pd.write_bytes(pd_trigger_template())
    am = scratch / "am-webhook.json"
    am.write_bytes(am_webhook_template())
    single = scratch / "am-alert.json"
    single.write_bytes(am_alert_template())
    sample = len(pd.read_bytes().replace(b"@KEY@", b"run-1-12345"))
    table.notes.append(
        f"bodies: PagerDuty trigger {sample} B; Alertmanager webhook "
        f"{am.stat().st_size:,} B ({AM_ALERTS_PER_WEBHOOK} alerts); Alertmanager API alert "
        f"{single.stat().st_size} B"
    )

    lean_rate: float | None = None
    table.notes.append(
        f"'firing again': each wrk thread cycles through {KEYSPACE:,} dedup keys, opened during "
        "the warm-up, so each request is a trigger for an open incident (one alerts.updated "
        "record, nobody paged anew): an alert storm. 'new incident each': a new dedup key per "
        "request, so each opens an incident and pages someone (3 records: opened, escalated, a "
        "page asked for; in a storm the pages go out bundled)"
    )

    # -- PagerDuty through the lean listener and through Quart/hypercorn
    scenarios = [
        (True, KEYSPACE, "firing again"),
        (True, 0, "new incident each"),
        (False, KEYSPACE, "firing again"),
    ]
    for lean, keyspace, kind in scenarios:
        label = f"PagerDuty /v2/enqueue, {'lean listener' if lean else 'Quart/hypercorn'}, {kind}"
        say(f"{label} ...")
        folder = scratch / f"pd-{'lean' if lean else 'quart'}-{keyspace}"
        try:
            server, main_url, ingest_url = start_pager(folder, srv_pin)
        except (RuntimeError, OSError) as e:
            table.alarms.append(f"'{label}': pager did not start: {e}")
            _failed_row(table, f"{label}: durable events/s")
            continue
        url = ingest_url if lean else main_url
        m, bad = _run_on(
            table,
            label,
            server,
            lambda url=url, folder=folder, server=server, main_url=main_url, ks=keyspace: _measure(
                plan, load_pin, server, url, "/v2/enqueue", pd, folder, "pd", main_url, ks
            ),
        )
        if m is None:
            _failed_row(table, f"{label}: durable events/s")
            continue
        w = m.wrk
        if lean and keyspace:
            lean_rate = w.ok_rate
        table.add(
            Row(
                f"{label}: durable events/s",
                fmt_rate(w.ok_rate),
                f">= {EVENTS_TARGET:,}/s" if lean else "-",
                (w.ok_rate >= EVENTS_TARGET) if lean else None,
                _notes(m, 1),
                error=bad,
            )
        )
        table.add(
            Row(
                "  latency p50 / p99",
                f"{fmt_ms(w.p50)} / {fmt_ms(w.p99)}",
                f"p99 < {P99_TARGET * 1000:g} ms" if lean else "-",
                (w.p99 < P99_TARGET) if lean else None,
                f"p90 {fmt_ms(w.p90)}, p99.9 {fmt_ms(w.p999)}, max {fmt_ms(w.max)}; {m.disk}",
                error=bad,
            )
        )

    # -- Alertmanager webhooks of 100 alerts through the lean listener
    label = f"Alertmanager webhook ({AM_ALERTS_PER_WEBHOOK} alerts), lean listener"
    say(f"{label} ...")
    folder = scratch / "am-webhook"
    path = f"/integrations/alertmanager/{AM_KEY}"
    try:
        server, main_url, ingest_url = start_pager(folder, srv_pin)
    except (RuntimeError, OSError) as e:
        table.alarms.append(f"'{label}': pager did not start: {e}")
        m = None
    else:
        m, bad = _run_on(
            table,
            label,
            server,
            lambda: _measure(plan, load_pin, server, ingest_url, path, am, folder, "am", main_url),
        )
    if m is None:
        _failed_row(table, f"{label}: alerts/s")
    else:
        w = m.wrk
        alerts = w.ok_rate * AM_ALERTS_PER_WEBHOOK
        table.add(
            Row(
                f"{label}: alerts/s",
                fmt_rate(alerts),
                f">= {ALERTS_TARGET:,}/s",
                alerts >= ALERTS_TARGET,
                _notes(m, AM_ALERTS_PER_WEBHOOK),
                error=bad,
            )
        )
        table.add(
            Row(
                "  latency p50 / p99 (per webhook)",
                f"{fmt_ms(w.p50)} / {fmt_ms(w.p99)}",
                note=f"p90 {fmt_ms(w.p90)}, p99.9 {fmt_ms(w.p999)}, max {fmt_ms(w.max)}; {m.disk}",
                error=bad,
            )
        )

    # -- a real Alertmanager under the single-alert load, as a yardstick
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        table.notes.append("Alertmanager not installed: no comparison (scripts/setup --test)")
        return table
    v = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    version = ((v.stdout or v.stderr).strip().splitlines() or ["alertmanager"])[0]
    label = "real Alertmanager, POST /api/v2/alerts (1 alert)"
    say(f"{label} ...")
    folder = scratch / "alertmanager"
    try:
        am_server, am_url = start_alertmanager(folder, srv_pin, binary)
    except (RuntimeError, OSError) as e:
        table.alarms.append(f"'{label}': Alertmanager did not start: {e}")
        _failed_row(table, f"{label}: alerts/s")
        return table
    m, bad = _run_on(
        table,
        label,
        am_server,
        lambda: _measure(
            plan, load_pin, am_server, am_url, "/api/v2/alerts", single, folder, "amreal", None
        ),
    )
    if m is None:
        _failed_row(table, f"{label}: alerts/s")
        return table
    w = m.wrk
    table.add(
        Row(
            f"{label}: alerts/s",
            fmt_rate(w.ok_rate),
            note=f"{version}; keeps alerts in memory (no fsync per alert); "
            + _notes(m, 1)
            + f"; p50 {fmt_ms(w.p50)}, p99 {fmt_ms(w.p99)}",
            error=bad,
        )
    )
    if lean_rate is not None and w.ok_rate > 0:
        table.add(
            Row(
                "ratio pager (lean, PagerDuty) / Alertmanager",
                f"{lean_rate / w.ok_rate:.2f}x",
                note="requests/s under the same single-alert wrk load",
            )
        )
    return table
