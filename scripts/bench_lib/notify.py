"""`scripts/bench notify`: how fast pager reaches a provider, beside Alertmanager, and how
many notifications per second each transport pushes out.

pager runs as its own process (`pager serve --config`, journal fsync on, a fresh data folder
per measurement), pinned to one CPU; this process, pinned to the other, runs the provider
stand-ins of `tests/standins/` (Slack, Twilio, Teams, a webhook receiver; aiosmtpd for email)
behind a lean HTTP/1.1 front (`standin.py`) and the load generator, on one trio loop and one
clock, so "request sent" and "provider request arrived" are comparable to the microsecond.

- Latency: PagerDuty triggers, each with a new dedup key (each opens an incident and pages a
  person whose first rule is `{after: 0m, via: slack}`), sent open-loop at 20, 100 and 1,000
  alerts/s to the lean listener (`server.ingest_listen`); per alert, from the moment its
  request is written to the moment the stand-in Slack has read pager's `chat.postMessage`
  for it (joined on a tag in the alert's summary, which is the incident's title), or the
  bundle that carries it in storm mode (joined through pager's journal). Between
  them pager journals the alert (fsync) before its 202, then the notification intent (fsync),
  then sends. At 20 and 100 alerts/s storm-mode bundling is out of the way, so each alert
  has a page of its own; target: p99 < 10 ms at 100 alerts/s. At 1,000 alerts/s for 10 s (a
  storm, on pager's one core) bundling is as configured by default; targets: every request
  answered 2xx and the storm's first page out within 1 s of its first alert; the rest go out
  in bundles, each as its lane allows (p50/p99 to the message that carries each alert are
  printed without a target).
- Alertmanager (when installed): the same open-loop loads on `POST /api/v2/alerts`, one
  alert per request, grouped by a per-alert label with `group_wait: 0s`; from the request to
  its webhook arriving at a receiver. Its figures are printed beside pager's.
- Throughput per channel: a burst of alerts for a service whose person is reached by one
  channel (32 connections, as fast as pager takes them), timed from the first alert sent to
  the last provider request arrived. Each channel's `rate_per_second` is set very high and
  storm-mode bundling is out of the way (`bundling.after` huge, no throttles), so the
  transports themselves are measured, not the providers' limits (which the notes name) nor
  the bundling that spares the person (measured by the storm above).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from .disk import FsyncWatcher, percentile
from .ingest import Server, launch_pager, pinning, read_metrics, start_alertmanager
from .standin import Arrival, closed_loop, http_request, open_loop, serve_asgi
from .table import Row, Table, fmt_ms, fmt_rate

__all__ = ["run_notify"]

REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO) not in sys.path:  # tests/standins is importable from the repository's root
    sys.path.insert(0, str(REPO))

P99_TARGET = 0.010
TARGET_RATE = 100
# The storm (issue 12): 1,000 new alerts a second for 10 s on one core, every one answered
# 2xx (nothing shed), and the storm's first page out within a second.
STORM_RATE = 1000
STORM_FIRST_PAGE = 1.0
# In storm mode a person's pages past the first few wait for their lane's next message (at
# most `bundling.after` per `bundling.window`, 1 minute by default): the last bundle of a
# 10 s storm can come a minute after it.
STORM_DRAIN = 100.0
# The VM disks this was built on stall now and then: an fdatasync takes 50 ms to 1 s, several
# times a minute some hours. No durable design answers within 10 ms while the disk does not,
# so at the target rate a run during which the disk's own fdatasync took longer than this is
# repeated (up to `Plan.tries` runs); every run is reported.
DISK_QUIET = 0.020
TOKEN = "bench-token-0123456789"  # noqa: S105 (the bench configuration's API token)
SLACK_TOKEN = "xoxb-bench-token"  # noqa: S105
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-bench-token"  # noqa: S105
FROM_NUMBER = "+15555550199"
SLACK_USER = "U0ONCALL"
WARM_USER = "U0WARMUP"  # the warm-up's pages go to another person: the storm finds a quiet lane
CHANNELS = ("slack", "sms", "voice", "teams", "webhook", "email")
KEYS = {ch: f"R0UT1NGKEY{ch.upper():0<22}"[:32] for ch in (*CHANNELS, "warm")}
TAG = re.compile(rb"bench-([A-Za-z0-9]+)-(\d+)")
BUNDLE = re.compile(rb'"block_id":\s*"bundle:([^"]+)"')
AM_MEASURED = "measured elsewhere: p50 1.5 ms, p99 3 ms at 20 alerts/s"


@dataclass(frozen=True)
class Plan:
    rates: tuple[tuple[int, float], ...]  # (alerts/s, seconds)
    tries: int  # runs at TARGET_RATE while the disk stalls (DISK_QUIET)
    warm: int
    burst: int
    burst_email: int
    connections: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(((20, 1.0), (100, 1.0), (1000, 0.5)), 1, 5, 50, 20, 8)
        return cls(((20, 15.0), (100, 10.0), (STORM_RATE, 10.0)), 4, 20, 2000, 500, 32)


# --------------------------------------------------------------------------- configuration


# The throughput runs measure the transports: each alert's page goes out alone (storm-mode
# bundling and its throttles out of the way, as the providers' rates are).
UNBUNDLED = (
    "bundling:\n  after: 100000000\n  throttle: "
    "{slack: [], sms: [], voice: [], email: [], teams: [], webhook: []}\n"
)


def pager_config(
    data_dir: Path,
    port: int,
    ingest_port: int,
    urls: dict[str, str],
    smtp: tuple[int, Path] | None,
    *,
    bundling: bool = True,
) -> str:
    users = [  # (name, contacts, method)
        ("slack", f"{{slack: {SLACK_USER}}}", "slack"),
        ("sms", '{sms: "+15555550100"}', "sms"),
        ("voice", '{voice: "+15555550101"}', "voice"),
        ("teams", f'{{teams: "{urls["teams"]}/workflows/oncall"}}', "teams"),
        ("webhook", f'{{webhook: "{urls["webhook"]}/oncall"}}', "webhook"),
        ("warm", f"{{slack: {WARM_USER}}}", "slack"),
    ]
    if smtp is not None:
        users.append(("email", "{email: oncall@example.com}", "email"))
    user_text = "".join(
        f"  - id: p-{ch}\n    contacts: {contacts}\n"
        f"    notification_rules: [{{after: 0m, via: {via}}}]\n"
        for ch, contacts, via in users
    )
    policies = "".join(
        f"  - id: pol-{ch}\n    levels:\n      - targets: [{{user: p-{ch}}}]\n"
        "        escalate_after: 1h\n"
        for ch, _, _ in users
    )
    services = "".join(
        f"  - id: svc-{ch}\n    escalation_policy: pol-{ch}\n"
        f"    integrations: [{{type: pagerduty, key: {KEYS[ch]}}}]\n"
        for ch, _, _ in users
    )
    fast = "rate_per_second: 1000000"
    email = ""
    if smtp is not None:
        port_, ca = smtp
        email = (
            f"  email: {{smtp_host: 127.0.0.1, smtp_port: {port_}, starttls: true, "
            f'username: pager, password: smtp-secret, from: "pager <pager@example.com>", '
            f"ca_file: {ca}, {fast}}}\n"
        )
    return f"""\
server:
  listen: 127.0.0.1:{port}
  ingest_listen: 127.0.0.1:{ingest_port}
  public_url: http://127.0.0.1:{port}
data_dir: {data_dir}
auth:
  api_tokens:
    - {{name: ops, token: "{TOKEN}"}}
  link_secret: bench-link-secret
users:
{user_text}escalation_policies:
{policies}services:
{services}channels:
  slack: {{api_url: "{urls["slack"]}/api/", token: {SLACK_TOKEN}, signing_secret: bench-signing, {fast}}}
  twilio: {{api_url: "{urls["twilio"]}", account_sid: {TWILIO_SID}, auth_token: {TWILIO_TOKEN}, from_number: "{FROM_NUMBER}", {fast}}}
  teams: {{{fast}}}
  webhook: {{secret: whsec-bench, {fast}}}
{email}{"" if bundling else UNBUNDLED}journal:
  fsync: true
"""


def pd_trigger(channel: str, tag: str, i: int) -> bytes:
    ev = {
        "routing_key": KEYS[channel],
        "event_action": "trigger",
        "dedup_key": f"bench-{tag}-{i}",
        "payload": {
            "summary": f"bench-{tag}-{i} disk usage above 95% on db-3.prod",
            "source": "db-3.prod.example.net",
            "severity": "critical",
        },
    }
    return json.dumps(ev, separators=(",", ":")).encode()


def am_alert(tag: str, i: int) -> bytes:
    alert = [
        {
            "labels": {
                "alertname": "DiskFull",
                "instance": "db-3.prod:9100",
                "severity": "critical",
                "dedup": f"bench-{tag}-{i}",
            },
            "annotations": {"summary": f"bench-{tag}-{i} disk usage above 95% on db-3.prod"},
        }
    ]
    return json.dumps(alert, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- the stand-ins


@dataclass
class Providers:
    """The stand-ins of tests/standins, served by the lean front; every request they get is
    recorded here with its arrival time."""

    slack: Any
    twilio: Any
    teams: Any
    hooks: Any
    am: Any
    urls: dict[str, str] = field(default_factory=dict)
    arrivals: dict[str, list[Arrival]] = field(default_factory=lambda: defaultdict(list))
    mail_times: list[float] = field(default_factory=list)
    mailbox: Any = None

    @classmethod
    def make(cls) -> Providers:
        from tests.standins.slack import SlackStandIn
        from tests.standins.teams import TeamsStandIn, WebhookReceiver
        from tests.standins.twilio import TwilioStandIn

        return cls(
            slack=SlackStandIn(SLACK_TOKEN, channels=set(), users={SLACK_USER, WARM_USER}),
            twilio=TwilioStandIn(TWILIO_SID, TWILIO_TOKEN, FROM_NUMBER),
            teams=TeamsStandIn(),
            hooks=WebhookReceiver(),
            am=WebhookReceiver(),
        )

    async def serve(self, nursery: trio.Nursery) -> None:
        for name in ("slack", "twilio", "teams", "webhook", "am"):
            app = getattr(self, "hooks" if name == "webhook" else name)
            self.urls[name] = await serve_asgi(nursery, app, self.arrivals[name].append)

    def provider_of(self, channel: str) -> str:
        return "twilio" if channel in ("sms", "voice") else channel

    def arrived(self, channel: str, since: float) -> list[float]:
        """Arrival times (2xx answers) of requests for `channel` after `since`."""
        if channel == "email":
            return [t for t in self.mail_times if t >= since]
        path = {"sms": "Messages.json", "voice": "Calls.json"}.get(channel)
        return [
            a.at
            for a in self.arrivals[self.provider_of(channel)]
            if a.at >= since and 200 <= a.status < 300 and (path is None or a.path.endswith(path))
        ]

    def accepted(self, channel: str) -> int:
        """What the stand-in took as a valid provider request, so far."""
        if channel == "slack":
            return len(self.slack.messages)
        if channel == "sms":
            return len(self.twilio.sms)
        if channel == "voice":
            return len(self.twilio.calls)
        if channel == "teams":
            return len(self.teams.cards)
        if channel == "webhook":
            return len(self.hooks.accepted)
        return len(self.mailbox.received) if self.mailbox is not None else 0

    def problems(self, channel: str) -> str:
        if channel == "slack":
            return "; ".join(self.slack.problems[-3:])
        bad = [a for a in self.arrivals[self.provider_of(channel)] if a.status >= 300]
        return "; ".join(f"{a.path} -> {a.status}: {a.body[:120]!r}" for a in bad[-3:])


@contextlib.contextmanager
def _mail_server(folder: Path, times: list[float]) -> Any:
    """aiosmtpd from tests/standins/smtp.py (STARTTLS and AUTH required), each accepted mail
    timed; None when it cannot run (no openssl, no aiosmtpd)."""
    try:
        from tests.standins.smtp import self_signed, smtp_server

        cert, key = self_signed(folder)
    except (ImportError, RuntimeError, OSError, subprocess.SubprocessError):
        yield None
        return
    with smtp_server(cert, key) as server:
        mailbox = server.mailbox
        handle = mailbox.handle_DATA

        async def timed(*args: Any) -> str:
            answer: str = await handle(*args)
            times.append(time.perf_counter())
            return answer

        mailbox.handle_DATA = timed
        yield server


# --------------------------------------------------------------------------- helpers


async def _start_pager(
    folder: Path,
    pin: list[str],
    providers: Providers,
    smtp: tuple[int, Path] | None,
    *,
    bundling: bool = True,
) -> tuple[Server, str, int]:
    def config(port: int, ingest_port: int) -> str:
        return pager_config(
            folder / "data", port, ingest_port, providers.urls, smtp, bundling=bundling
        )

    return await trio.to_thread.run_sync(launch_pager, folder, pin, config)


async def _wait_for(count: Callable[[], int], n: int, limit: float, every: float = 0.01) -> bool:
    deadline = time.perf_counter() + limit
    while count() < n:
        if time.perf_counter() > deadline:
            return False
        await trio.sleep(every)
    return True


Bundles = Callable[[], dict[str, list[int]]]


def _first_by_index(
    arrivals: list[Arrival], tag: str, bundles: dict[str, list[int]] | None = None
) -> dict[int, float]:
    """Alert index -> when the first message that pages for it arrived: its own page (the
    tag in its title), or a bundle that carries it (storm mode; `bundles` maps a bundle id to
    the alerts it carries)."""
    out: dict[int, float] = {}
    want = tag.encode()
    for a in arrivals:
        if not 200 <= a.status < 300:
            continue
        b = BUNDLE.search(a.body) if bundles else None
        if b is not None:
            for i in (bundles or {}).get(b.group(1).decode(), ()):
                out.setdefault(i, a.at)
            continue
        m = TAG.search(a.body)
        if m is not None and m.group(1) == want:
            out.setdefault(int(m.group(2)), a.at)
    return out


def bundles_in_log(data_dir: Path, tag: str) -> dict[str, list[int]]:
    """Bundle id -> the indexes of this run's alerts it carries, read from pager's journal
    as it stands (incident.opened names the dedup key, notification.bundled the incidents);
    a line in mid-write is skipped."""
    want = f"bench-{tag}-".encode()
    index: dict[str, int] = {}
    carried: dict[str, list[str]] = {}
    for seg in sorted((data_dir / "events").glob("*.jsonl")):
        with open(seg, "rb") as f:
            for line in f:
                if b'"incident.opened"' in line and want in line:
                    try:
                        d = json.loads(line)["data"]
                    except (ValueError, KeyError):
                        continue
                    key = str(d.get("dedup_key", ""))
                    if key.startswith(want.decode()):
                        index[d["incident_id"]] = int(key.rsplit("-", 1)[1])
                elif b'"notification.bundled"' in line:
                    try:
                        d = json.loads(line)["data"]
                    except (ValueError, KeyError):
                        continue
                    carried[d["bundle_id"]] = list(d.get("incident_ids", ()))
    return {b: [index[i] for i in ids if i in index] for b, ids in carried.items()}


def _notification_trouble(main_url: str) -> str:
    """pager's own view: notifications that failed or are being retried."""
    found = []
    for status in ("failed", "retrying"):
        code, body = _get_auth(f"{main_url}/api/v1/notifications?status={status}&limit=1000")
        if code != 200:
            found.append(f"GET notifications?status={status}: HTTP {code}")
            continue
        items = json.loads(body).get("notifications", [])
        if items:
            found.append(f"{len(items)} {status} (e.g. {items[-1].get('last_error')})")
    return "; ".join(found)


def _get_auth(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 (our own URL)
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@dataclass
class Latency:
    label: str
    rate: int
    sent: int = 0
    ok: int = 0
    errors: list[str] = field(default_factory=list)
    achieved: float = 0.0
    p50: float = float("nan")
    p90: float = float("nan")
    p99: float = float("nan")
    max: float = float("nan")
    ack_p50: float = float("nan")
    ack_p99: float = float("nan")
    lag_p99: float = 0.0
    lag_max: float = 0.0
    missing: int = 0
    server_cpu: float = float("nan")
    accepted_rate: float = 0.0
    shed: list[str] = field(default_factory=list)  # 503s, connections refused: backpressure
    not_2xx: int = 0  # requests not answered 2xx: shed (503, closed unanswered) or refused
    first_page: float = float("nan")  # from the first alert sent to the first page arriving
    connections: int = 0
    disk: str = ""
    disk_max: float = float("nan")  # the slowest fdatasync of the disk watcher meanwhile


async def _open_loop_run(
    res: Latency,
    host: str,
    port: int,
    requests: list[bytes],
    arrivals: Callable[[], list[Arrival]],
    tag: str,
    server: Server,
    drain: float | None = None,
    bundles: Bundles | None = None,
) -> None:
    cpu0 = server.cpu()
    t_cpu = time.perf_counter()
    sent, res.connections = await open_loop(host, port, requests, res.rate)
    # CPU while the alerts came in (a storm's last bundles may go out a minute later)
    res.server_cpu = (server.cpu() - cpu0) / (time.perf_counter() - t_cpu)
    ok = [s for s in sent if s.error is None and 200 <= s.status < 300]
    res.sent = len(sent)
    busy = [s for s in sent if s.error is None and s.status in (429, 503)]
    bad_status = [s for s in sent if s.error is None and not 200 <= s.status < 300]
    bad_status = [s for s in bad_status if s not in busy]
    socket_err = [s for s in sent if s.error is not None]
    res.not_2xx = len(sent) - len(ok)
    if busy:
        res.shed.append(f"{len(busy):,} answered {sorted({s.status for s in busy})} (busy)")
    if bad_status:
        codes = sorted({s.status for s in bad_status})
        res.errors.append(f"{len(bad_status):,} answers not 2xx ({codes})")
    if socket_err:
        # with the server alive, a connection closed unanswered is its connection limit
        target = res.shed if server.alive else res.errors
        target.append(
            f"{len(socket_err):,} connections closed unanswered (e.g. {socket_err[0].error})"
        )
    starts = sorted(s.at for s in sent if s.at)
    if len(starts) > 1:
        res.achieved = (len(starts) - 1) / (starts[-1] - starts[0])
        res.accepted_rate = len(ok) / (starts[-1] - starts[0])
    lags = sorted(s.at - s.planned for s in sent if s.at)
    if lags:
        res.lag_p99, res.lag_max = percentile(lags, 99), lags[-1]
    acks = sorted(s.done - s.at for s in ok)
    if acks:
        res.ack_p50, res.ack_p99 = percentile(acks, 50), percentile(acks, 99)
    want = {s.i for s in ok}
    # pages of a storm may queue behind each other: a longer wait for the last of them
    limit = drain if drain is not None else 10.0 + len(want) / 500

    def paged() -> dict[int, float]:
        return _first_by_index(arrivals(), tag, bundles() if bundles is not None else None)

    every = 0.01 if bundles is None else 0.5  # reading the journal costs more than a look
    await _wait_for(lambda: len(paged()), len(want), limit, every)
    first = paged()
    lat = sorted(first[s.i] - s.at for s in ok if s.i in first)
    res.ok = len(lat)
    res.missing = len(want - first.keys())
    if res.missing:
        res.errors.append(f"{res.missing:,} accepted alerts never reached the provider")
    if lat:
        res.p50, res.p90 = percentile(lat, 50), percentile(lat, 90)
        res.p99, res.max = percentile(lat, 99), lat[-1]
    if ok and first:
        res.first_page = min(first.values()) - min(s.at for s in sent if s.at)


# --------------------------------------------------------------------------- measurements


async def _pager_latency(
    plan: Plan,
    folder: Path,
    pin: list[str],
    providers: Providers,
    rate: int,
    seconds: float,
    run: int = 1,
) -> Latency:
    res = Latency("pager", rate)
    # the storm meets storm mode as configured by default; the other runs measure each
    # alert's own page (bundling out of the way, as in the throughput runs)
    storm = rate == STORM_RATE
    server, main_url, ingest_port = await _start_pager(folder, pin, providers, None, bundling=storm)
    try:
        tag = f"w{rate}x{run}"  # each run's alerts are told apart at the stand-in
        warm = [pd_trigger("warm", tag, i) for i in range(plan.warm)]
        warm_reqs = [
            http_request(
                "127.0.0.1",
                ingest_port,
                "POST",
                "/v2/enqueue",
                b,
                [("content-type", "application/json")],
            )
            for b in warm
        ]
        await closed_loop("127.0.0.1", ingest_port, warm_reqs, 4)
        await _wait_for(
            lambda t=tag: len(
                _first_by_index(providers.arrivals["slack"], t, bundles_in_log(folder / "data", t))
            ),
            plan.warm,
            10,
            0.2,
        )
        tag = f"r{rate}x{run}"
        n = max(2, round(rate * seconds))
        reqs = [
            http_request(
                "127.0.0.1",
                ingest_port,
                "POST",
                "/v2/enqueue",
                pd_trigger("slack", tag, i),
                [("content-type", "application/json")],
            )
            for i in range(n)
        ]
        before = read_metrics(main_url)
        with FsyncWatcher(folder) as disk:
            await _open_loop_run(
                res, "127.0.0.1", ingest_port, reqs, lambda: providers.arrivals["slack"], tag,
                server, drain=STORM_DRAIN if storm else None,
                bundles=(lambda: bundles_in_log(folder / "data", tag)) if storm else None,
            )  # fmt: skip
        res.disk, res.disk_max = disk.summary(), disk.max()
        after = read_metrics(main_url)
        key = 'pager_ingest_requests_total{outcome="accepted"}'
        if key in after and key in before:
            accepted = after[key] - before[key]
            if accepted < res.ok:
                res.errors.append(
                    f"pager counted {accepted:,.0f} accepted, the stand-in saw {res.ok:,} pages"
                )
        trouble = await trio.to_thread.run_sync(_notification_trouble, main_url)
        if trouble:
            res.errors.append(f"pager's notifications: {trouble}")
        problems = providers.problems("slack")
        if problems:
            res.errors.append(f"the Slack stand-in refused requests: {problems}")
    finally:
        alive = server.alive
        await trio.to_thread.run_sync(server.stop)
        if not alive:
            res.errors.append(f"pager DIED:\n{server.tail()}")
    return res


def _alertmanager_config(receiver: str) -> str:
    return f"""\
route:
  receiver: bench
  group_by: [dedup]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: bench
    webhook_configs:
      - url: {receiver}/am
        send_resolved: false
"""


async def _am_latency(
    plan: Plan,
    folder: Path,
    pin: list[str],
    providers: Providers,
    binary: str,
    rate: int,
    seconds: float,
) -> Latency:
    res = Latency("alertmanager", rate)
    server, url = await trio.to_thread.run_sync(
        start_alertmanager, folder, pin, binary, _alertmanager_config(providers.urls["am"])
    )
    port = int(url.rsplit(":", 1)[1])
    try:
        arrivals = providers.arrivals["am"]

        def reqs(tag: str, n: int) -> list[bytes]:
            return [
                http_request(
                    "127.0.0.1",
                    port,
                    "POST",
                    "/api/v2/alerts",
                    am_alert(tag, i),
                    [("content-type", "application/json")],
                )
                for i in range(n)
            ]

        tag = f"amw{rate}"
        await closed_loop("127.0.0.1", port, reqs(tag, plan.warm), 4)
        await _wait_for(lambda: len(_first_by_index(arrivals, tag)), plan.warm, 10)
        tag = f"am{rate}"
        await _open_loop_run(
            res,
            "127.0.0.1",
            port,
            reqs(tag, max(2, round(rate * seconds))),
            lambda: arrivals,
            tag,
            server,
        )
    finally:
        alive = server.alive
        await trio.to_thread.run_sync(server.stop)
        if not alive:
            res.errors.append(f"alertmanager DIED:\n{server.tail()}")
    return res


@dataclass
class Throughput:
    channel: str
    n: int
    delivered: int = 0
    accepted: int = 0
    seconds: float = float("nan")
    ingest_seconds: float = float("nan")
    server_cpu: float = float("nan")
    own_cpu: float = float("nan")
    errors: list[str] = field(default_factory=list)


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _throughput(
    plan: Plan,
    folder: Path,
    pin: list[str],
    providers: Providers,
    smtp: tuple[int, Path] | None,
    say: Callable[[str], None],
) -> list[Throughput]:
    out: list[Throughput] = []
    server, main_url, ingest_port = await _start_pager(folder, pin, providers, smtp, bundling=False)
    try:
        for ch in CHANNELS:
            if ch == "email" and smtp is None:
                continue
            n = plan.burst_email if ch == "email" else plan.burst
            say(f"throughput: {n:,} alerts for {ch} ...")
            res = Throughput(ch, n)
            out.append(res)
            reqs = [
                http_request(
                    "127.0.0.1",
                    ingest_port,
                    "POST",
                    "/v2/enqueue",
                    pd_trigger(ch, f"t{ch}", i),
                    [("content-type", "application/json")],
                )
                for i in range(n)
            ]
            accepted0 = providers.accepted(ch)
            t0 = time.perf_counter()
            cpu0, own0 = server.cpu(), _own_cpu()
            sent = await closed_loop("127.0.0.1", ingest_port, reqs, plan.connections)
            ok = [s for s in sent if s.error is None and 200 <= s.status < 300]
            if len(ok) < n:
                bad = [s for s in sent if s not in ok]
                res.errors.append(
                    f"{len(bad):,} alerts not accepted (e.g. {bad[0].error or bad[0].status})"
                )
            res.ingest_seconds = max((s.done for s in ok), default=t0) - t0
            await _wait_for(lambda ch=ch, t0=t0: len(providers.arrived(ch, t0)), len(ok), 120)
            times = sorted(providers.arrived(ch, t0))
            res.delivered = len(times)
            elapsed = max(1e-9, time.perf_counter() - t0)
            res.server_cpu = (server.cpu() - cpu0) / elapsed
            res.own_cpu = (_own_cpu() - own0) / elapsed
            res.accepted = providers.accepted(ch) - accepted0
            if times:
                res.seconds = times[-1] - t0
            if res.delivered < len(ok):
                res.errors.append(f"only {res.delivered:,} of {len(ok):,} reached the provider")
            if res.accepted < res.delivered:
                res.errors.append(
                    f"the stand-in refused {res.delivered - res.accepted:,}: "
                    f"{providers.problems(ch)}"
                )
            trouble = await trio.to_thread.run_sync(_notification_trouble, main_url)
            if trouble:
                res.errors.append(f"pager's notifications: {trouble}")
    finally:
        alive = server.alive
        await trio.to_thread.run_sync(server.stop)
        if not alive and out:
            out[-1].errors.append(f"pager DIED:\n{server.tail()}")
    return out


# --------------------------------------------------------------------------- the section


def _p99_target(r: Latency) -> float | None:
    """pager's p99 target at this rate (Alertmanager runs beside, as a yardstick)."""
    if r.label != "pager":
        return None
    return {TARGET_RATE: P99_TARGET}.get(r.rate)


def _beside(r: Latency | None, what: str) -> str:
    return f"; Alertmanager at the same rate: {what}" if r is not None and r.ok else ""


def _latency_row(table: Table, r: Latency, what: str, am: Latency | None = None) -> None:
    """The row of one latency run (with `am`, Alertmanager's run at the same rate, beside
    it), and at the storm's rate the rows of its other targets."""
    label = f"{what} at {r.rate:,} alerts/s: p50 / p99"
    if r.ok == 0:
        table.add(Row(label, "FAILED", error=True, note="; ".join(r.errors)))
        if r.errors:
            table.alarms.append(f"{label}: " + "; ".join(r.errors))
        return
    answer = "202" if r.label == "pager" else "200"
    note = f"sent {r.sent:,} at {r.achieved:,.1f}/s"
    if r.shed:
        note += (
            f"; {r.label} took {r.ok:,} ({r.accepted_rate:,.0f}/s) and SHED the rest: "
            + ", ".join(r.shed)
            + f" ({r.connections:,} connections opened)"
        )
    else:
        note += f", {r.ok:,} reached the provider"
    note += (
        f"; p90 {fmt_ms(r.p90)}, max {fmt_ms(r.max)}; the {answer} came back after p50 "
        f"{fmt_ms(r.ack_p50)} / p99 {fmt_ms(r.ack_p99)}; sends late by p99 {fmt_ms(r.lag_p99)}; "
        f"{r.label} CPU {r.server_cpu:.2f} cores"
    )
    if r.disk:
        note += f"; {r.disk}"
    note += _beside(am, f"p50 {fmt_ms(am.p50)} / p99 {fmt_ms(am.p99)}" if am else "")
    if r.errors:
        note += "; ERRORS: " + "; ".join(e.splitlines()[0] for e in r.errors)
        table.alarms.append(f"{label}: " + "; ".join(r.errors))
    target = _p99_target(r)
    table.add(
        Row(
            label,
            f"{fmt_ms(r.p50)} / {fmt_ms(r.p99)}",
            "-" if target is None else f"p99 < {fmt_ms(target)}",
            None if target is None else r.p99 < target,
            note,
            error=bool(r.errors),
        )
    )
    if r.rate != STORM_RATE:
        return
    mine = r.label == "pager"
    table.add(
        Row(
            "  requests answered 2xx",
            f"{r.sent - r.not_2xx:,} of {r.sent:,}",
            "all" if mine else "-",
            (r.not_2xx == 0) if mine else None,
            (", ".join(r.shed) if r.shed else "nothing shed")
            + _beside(am, f"{am.sent - am.not_2xx:,} of {am.sent:,}" if am else ""),
            error=bool(r.errors),
        )
    )
    table.add(
        Row(
            "  the storm's first page: from its first alert sent",
            fmt_ms(r.first_page),
            f"< {fmt_ms(STORM_FIRST_PAGE)}" if mine else "-",
            (r.first_page < STORM_FIRST_PAGE) if mine else None,
            "the first alert's page at the stand-in Slack"
            + _beside(am, f"{fmt_ms(am.first_page)} to its first webhook" if am else ""),
            error=bool(r.errors),
        )
    )


def _limits_note() -> str:
    from pager.transports.slack import SlackTransport
    from pager.transports.twilio_sms import TwilioSmsTransport
    from pager.transports.twilio_voice import TwilioVoiceTransport

    def rate(cls: Any) -> str:
        r = cls.default_rate
        return "none" if r is None else f"{r:g}/s"

    return (
        "the limits that apply without `rate_per_second` (set to 1,000,000 here, so the "
        f"transports are measured): slack {rate(SlackTransport)} per DM or channel (Slack's "
        f"~1 message/s per channel): one person's pages queue behind each other; sms "
        f"{rate(TwilioSmsTransport)} and voice {rate(TwilioVoiceTransport)} per sending number "
        "(`channels.twilio.from_number`, Twilio's default for a long code): every SMS and call "
        "pager makes shares it, so an alert storm paging 100 people by SMS takes 100 s; teams, "
        "webhook, email: no limit of pager's own. The throughput runs also set storm-mode "
        "bundling out of the way (every page alone); the latency runs keep its defaults"
    )


async def _notify_async(
    scratch: Path,
    plan: Plan,
    table: Table,
    say: Callable[[str], None],
    srv_pin: list[str],
    am: tuple[str, str] | None,
) -> None:
    providers = Providers.make()
    async with trio.open_nursery() as nursery:
        await providers.serve(nursery)
        # -- latency, pager
        pager_res: list[Latency] = []
        stalled: list[Latency] = []
        for rate, seconds in plan.rates:
            tries = plan.tries if rate == TARGET_RATE else 1
            for attempt in range(1, tries + 1):
                say(f"latency: pager at {rate:,} alerts/s for {seconds:g} s (run {attempt}) ...")
                try:
                    r = await _pager_latency(
                        plan,
                        scratch / f"lat-{rate}-{attempt}",
                        srv_pin,
                        providers,
                        rate,
                        seconds,
                        attempt,
                    )
                except (RuntimeError, OSError) as e:
                    r = Latency("pager", rate, errors=[f"could not be measured: {e}"])
                if attempt < tries and r.disk_max > DISK_QUIET and not r.errors:
                    stalled.append(r)
                    continue
                pager_res.append(r)
                break
        # -- latency, Alertmanager: the same loads, as a yardstick
        am_res: dict[int, Latency] = {}
        if am is None:
            table.notes.append(
                "Alertmanager is not installed: no comparison (scripts/setup --test)"
            )
        else:
            binary, version = am
            for rate, seconds in plan.rates:
                say(f"latency: Alertmanager at {rate:,} alerts/s for {seconds:g} s ...")
                try:
                    r = await _am_latency(
                        plan, scratch / f"am-{rate}", srv_pin, providers, binary, rate, seconds
                    )
                except (RuntimeError, OSError) as e:
                    r = Latency("alertmanager", rate, errors=[f"could not be measured: {e}"])
                am_res[rate] = r
            table.notes.append(
                f"Alertmanager: {version}; route group_by [dedup] (one group per alert), "
                f"group_wait 0s, webhook receiver on the same lean front; {AM_MEASURED}"
            )
        for r in pager_res:
            what = "ingest -> stand-in Slack chat.postMessage"
            if r.rate == TARGET_RATE and stalled:
                n = len(stalled) + 1
                if r.disk_max <= DISK_QUIET:
                    what += f" (run {n}, the first with a quiet disk)"
                elif r.disk_max > DISK_QUIET:
                    what += f" (run {n}; the disk stalled in every run)"
            _latency_row(table, r, what, am_res.get(r.rate))
            if r.rate in am_res:
                _latency_row(table, am_res[r.rate], "Alertmanager POST /api/v2/alerts -> webhook")
        if stalled:
            table.notes.append(
                f"runs at {TARGET_RATE} alerts/s repeated because the disk stalled (the "
                f"watcher's fdatasync took over {DISK_QUIET * 1000:g} ms at least once): "
                + "; ".join(
                    f"run {i}: p50 {fmt_ms(r.p50)} / p99 {fmt_ms(r.p99)} (max {fmt_ms(r.max)}), "
                    f"{r.ok:,} of {r.sent:,} alerts reached the provider"
                    + (f", shed {', '.join(r.shed)}" if r.shed else "")
                    + f", with {r.disk.removeprefix('disk ')}"
                    for i, r in enumerate(stalled, 1)
                )
            )
        # -- throughput per channel
        mail_folder = scratch / "smtp"
        mail_folder.mkdir(parents=True, exist_ok=True)
        with _mail_server(mail_folder, providers.mail_times) as mail:
            smtp = None
            if mail is None:
                table.notes.append("email: no local SMTP server (aiosmtpd or openssl missing)")
            else:
                providers.mailbox = mail.mailbox
                smtp = (mail.port, mail.ca_file)
            try:
                results = await _throughput(
                    plan, scratch / "throughput", srv_pin, providers, smtp, say
                )
            except (RuntimeError, OSError) as e:
                table.alarms.append(f"throughput could not be measured: {e}")
                results = []
        channel_what = {
            "slack": "slack (chat.postMessage, Block Kit)",
            "sms": "sms (Twilio Messages.json)",
            "voice": "voice (Twilio Calls.json)",
            "teams": "teams (Adaptive Card to a workflow)",
            "webhook": "webhook (signed JSON)",
            "email": "email (SMTP, STARTTLS + AUTH, a session per mail)",
        }
        for t in results:
            label = f"delivery throughput, {channel_what[t.channel]}"
            if t.delivered == 0:
                table.add(Row(label, "FAILED", error=True, note="; ".join(t.errors)))
                table.alarms.append(f"{label}: " + "; ".join(t.errors))
                continue
            note = (
                f"{t.delivered:,} of {t.n:,} notifications in {t.seconds:.2f} s from the first "
                f"alert sent (taking the {t.n:,} alerts in took {t.ingest_seconds:.2f} s, "
                f"{plan.connections} connections); pager CPU {t.server_cpu:.2f} cores, "
                f"stand-ins and load {t.own_cpu:.2f}"
            )
            if t.errors:
                note += "; ERRORS: " + "; ".join(e.splitlines()[0] for e in t.errors)
                table.alarms.append(f"{label}: " + "; ".join(t.errors))
            table.add(
                Row(label, fmt_rate(t.delivered / t.seconds), note=note, error=bool(t.errors))
            )
        nursery.cancel_scope.cancel()
    table.notes.append(_limits_note())


def run_notify(scratch: Path, quick: bool, say: Callable[[str], None]) -> Table:
    plan = Plan.of(quick)
    scratch.mkdir(parents=True, exist_ok=True)
    table = Table("notify: ingest -> provider latency, beside Alertmanager; throughput per channel")
    table.notes.append(
        "latency: PagerDuty triggers (a new dedup key each: an incident and a page each) sent "
        "open-loop (fixed instants, not waiting for answers) to pager's lean listener; "
        "measured from writing the request to the stand-in Slack reading the first "
        "chat.postMessage that pages for that alert. At 20 and 100 alerts/s each alert has its "
        "own page (bundling out of the way); in the storm (1,000/s) storm mode runs with its "
        "defaults: past the first pages one message carries many incidents, as the lane's "
        "bundling.window allows (which incidents a bundle carries is read from pager's "
        "journal), and the warm-up pages another person so that the storm meets a quiet lane. "
        "pager journals the incident, its escalation and the notification intent in one durable append (one fdatasync) before its 202; the Slack "
        "delivery actor is woken by that commit. Only accepted alerts count; past pager's "
        "capacity the lean listener sheds load (503, or beyond 1,000 connections a close)"
    )
    srv_pin, load_pin, pin_note = pinning()
    table.notes.append(
        "pager: `pager serve`, journal fsync on, a fresh process and data folder per latency "
        "run (one for all throughput runs); "
        + pin_note.replace("wrk", "this process (stand-ins and load generator)")
    )
    am = None
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is not None:
        v = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        am = (binary, ((v.stdout or v.stderr).strip().splitlines() or ["alertmanager"])[0])
    old = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if load_pin and old is not None:
        os.sched_setaffinity(0, {int(load_pin[-1])})
    try:
        trio.run(_notify_async, scratch, plan, table, say, srv_pin, am)
    finally:
        if old is not None:
            os.sched_setaffinity(0, old)
    return table
