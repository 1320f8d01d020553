"""The reporting actor: sends the scheduled on-call reports of the `reports` section
(docs/analytics.md) — the report of the week (or day) just ended, as text tables, to a Slack
channel and/or by email. Off unless the configuration has reports.

It sleeps until the next report is due (on the wall clock, in the report's time zone), makes
it from the analytics ledger (a copy, in a worker thread, as the API does), and hands it to
the Slack and email transports the delivery actors use. A send that fails is tried twice
more, a minute apart, then given up with a warning: a report is a convenience, never worth
holding anything up for. The configuration is read at each wake-up, so a reload's reports
take effect at once.

Each report sent is journaled (`report.sent`: a digest of the report's entry and the instant
it was due). At start-up (and when a standby takes over) a report whose last due instant
passed less than `LATE_LIMIT` ago without being journaled as sent goes out at once, late: a
restart, an upgrade or a failover at 09:00 on a Monday no longer loses the week's report, and
a failover after it went out does not send it twice (a kill between the send and its record
may). A report never sent before (a new entry, or one changed: its digest changes) starts
with its next due instant.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import trio

from pager.clock import trio_deadline
from pager.config.models_reports import SERVICE_CHANNEL, Report
from pager.config.models_schedules import parse_handoff
from pager.core.analytics import Directory, Ledger, Query, frozen, report
from pager.core.analytics.sending import covered, last_send, next_send
from pager.core.analytics.text import render_text
from pager.core.events import ReportSent
from pager.errors import LogUnavailable
from pager.transports.base import DeliveryError, Transport
from pager.transports.email import EmailTransport
from pager.transports.slack import SlackTransport

from .system import System

__all__ = ["ATTEMPTS", "LATE_LIMIT", "RETRY_AFTER", "Reporter", "report_key"]

log = logging.getLogger("pager.reports")

ATTEMPTS = 3
RETRY_AFTER = 60.0  # seconds between attempts
IDLE = timedelta(hours=1)  # wake at least this often: a reload may change the reports
LATE_LIMIT = timedelta(hours=24)  # a report missed longer ago than this is not sent late

T = TypeVar("T")
Send = Callable[[Report, datetime], Awaitable[None]]
TransportOf = Callable[[str], Transport | None]


def report_key(spec: Report) -> str:
    """The identity of a report in the log: a digest of its entry in the configuration."""
    text = spec.model_dump_json()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def in_worker_thread(fn: Callable[..., T], *args: object) -> T:
    """Where a report is made: a worker thread, off the event loop. Tests on trio's
    MockClock make it inline instead (the mock clock jumps ahead while a thread works)."""
    return await trio.to_thread.run_sync(fn, *args)


class Reporter:
    def __init__(self, system: System, transport_of: TransportOf, send: Send | None = None) -> None:
        """`transport_of(method)`: the transport the delivery actors use for "slack" or
        "email" (None when that channel is not configured)."""
        self.system = system
        self.transport_of = transport_of
        self.send = send or self.deliver  # tests may replace how a due report goes out
        self.sent = 0
        self.failed = 0

    def _due(self, after: datetime) -> tuple[datetime, list[Report]] | None:
        """The next instant any report is due after `after`, and the reports due then."""
        soonest: datetime | None = None
        due: list[Report] = []
        for spec in self.system.config.reports:
            at = next_send(spec.weekday, parse_handoff(spec.at)[1], spec.timezone, after)
            if soonest is None or at < soonest:
                soonest, due = at, [spec]
            elif at == soonest:
                due.append(spec)
        return None if soonest is None else (soonest, due)

    async def run(
        self, *, task_status: trio.TaskStatus[Reporter] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started(self)
        clock = self.system.clock
        after = clock.now()
        for spec, due in self._missed(after):
            log.warning("report due %s was not sent (pager was not running): sending it now",
                        due.isoformat())  # fmt: skip
            await self._attempts(spec, due)
        while True:
            found = self._due(after)
            wake = clock.now() + IDLE
            if found is not None:
                wake = min(wake, found[0])
            await trio.sleep_until(trio_deadline(clock, wake))
            if found is None or clock.now() < found[0]:
                continue  # woke to read the configuration again
            at, specs = found
            for spec in specs:
                await self._attempts(spec, at)
            after = at

    def _missed(self, now: datetime) -> list[tuple[Report, datetime]]:
        """The reports sent before whose last due instant (less than LATE_LIMIT before
        `now`) the log does not hold as sent, each with that instant."""
        sent = self.system.state.reports_sent
        out = []
        for spec in self.system.config.reports:
            last = sent.get(report_key(spec))
            if last is None:
                continue  # never sent: it starts with its next due instant
            due = last_send(spec.weekday, parse_handoff(spec.at)[1], spec.timezone, now)
            if due > last and now - due < LATE_LIMIT:
                out.append((spec, due))
        return out

    async def _attempts(self, spec: Report, at: datetime) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await self.send(spec, at)
                self.sent += 1
                await self._journal(spec, at)
                return
            except DeliveryError as e:
                log.warning("report due %s: attempt %d failed: %s", at.isoformat(), attempt, e)
                if attempt < ATTEMPTS:
                    await trio.sleep(RETRY_AFTER)
            except Exception:  # a report never takes pager down (e.g. transports closing)
                log.exception("report due %s failed", at.isoformat())
                break
        self.failed += 1
        log.warning("report due %s not sent after %d attempts", at.isoformat(), ATTEMPTS)

    async def _journal(self, spec: Report, due: datetime) -> None:
        event = ReportSent(report=report_key(spec), due=due)
        try:
            await self.system.journal.record([event], self.system.clock.now())
        except LogUnavailable as e:  # sent: at worst it is sent again after a restart
            log.warning("report due %s sent but not journaled: %s", due.isoformat(), e)

    def text(self, ledger: Ledger, spec: Report, at: datetime) -> tuple[str, str]:
        """(subject, text) of the report `spec` sent at `at`. Blocking: a worker thread."""
        start, end = covered(spec.weekday, at)
        zones = {u.id: u.timezone for u in self.system.config.users}
        d = Directory.from_rules(self.system.rules, zones)
        r = report(ledger, Query(start, end, service=spec.service), d)
        kind = "weekly" if spec.weekday is not None else "daily"
        scope = f" ({spec.service})" if spec.service else ""
        subject = f"pager {kind} on-call report{scope}: {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        return subject, render_text(r, title=f"pager {kind} on-call report")

    async def deliver(self, spec: Report, at: datetime) -> None:
        """Make the report and send it where `spec` says. Raises DeliveryError."""
        ledger = frozen(self.system.state.analytics)
        subject, text = await in_worker_thread(self.text, ledger, spec, at)
        channel = spec.slack_channel
        if channel is not None:
            slack = self.transport_of("slack")
            if not isinstance(slack, SlackTransport):
                raise DeliveryError("channels.slack is not configured", permanent=True)
            if channel == SERVICE_CHANNEL:
                svc = self.system.config.service(spec.service or "")
                channel = svc.chat.slack_channel if svc is not None else None
            if not channel:
                raise DeliveryError(
                    f"service {spec.service} has no chat.slack_channel", permanent=True
                )
            await slack.post_text(channel, f"*{subject}*\n```\n{text}```")
            log.info("report posted to Slack %s: %s", channel, subject)
        for address in spec.email:
            mail = self.transport_of("email")
            if not isinstance(mail, EmailTransport):
                raise DeliveryError("channels.email is not configured", permanent=True)
            await mail.send_text(address, subject, text)
            log.info("report mailed to %s: %s", address, subject)
