"""Scheduled reports (the `reports` section): on trio's MockClock, a weekly report on Mondays
at 09:00 Europe/Berlin is posted to the service's Slack channel (the Slack stand-in) at 08:00
UTC in winter and 07:00 UTC once summer time began on 29 March, once a week, covering the 7
days before; nothing is sent without a `reports` section. On the real clock (smtplib runs in
a thread), a daily report goes by email to a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from pager.actors import reports as reports_actor
from pager.actors.messages import Ingest
from pager.actors.reports import Reporter
from pager.clock import SystemClock, TrioWallClock
from pager.config.models_reports import Report
from pager.core.commands import TriggerAlert
from pager.core.events import ReportSent
from pager.store.memory import MemoryLog
from pager.transports.registry import build_transports

from ..harness import EPOCH
from ..standins.scene import Providers, delivery_config, running
from ..standins.smtp import PASSWORD, USER, smtp_server

DAY = 86400.0


async def trigger(run: object, key: str) -> None:
    await run.system.submit(  # type: ignore[attr-defined]
        Ingest("checkout", key, "pagerduty", TriggerAlert(key=key, summary="db-1 disk full",
                                                          severity="critical")))  # fmt: skip


async def _inline(fn: Callable[..., object], *args: object) -> object:
    return fn(*args)


async def test_weekly_report_to_the_services_slack_channel_across_dst(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the report is made inline: the mock clock would jump ahead while a worker thread made
    # it (on a loaded machine, past the end of the test's 29 days: the last report was lost)
    monkeypatch.setattr(reports_actor, "in_worker_thread", _inline)
    providers = Providers()
    config = delivery_config(chat=True)
    weekly = Report(at="monday 09:00", timezone="Europe/Berlin", service="checkout",
                    slack_channel="service")  # fmt: skip
    config = config.model_copy(update={"reports": (weekly,)})
    with trio.fail_after(40 * DAY):
        async with running(
            config, event_log=MemoryLog(), clock=TrioWallClock(EPOCH),
            transports=build_transports(config, http=providers.http),
        ) as run:  # fmt: skip
            await trigger(run, "disk")
            await trio.sleep(29 * DAY)
    reports = [m for m in providers.slack.messages if "on-call report" in m.text]
    assert [m.channel for m in reports] == ["C0CHECKOUT"] * 5
    # each covers the 7 days before it was due; EPOCH is Monday 2026-03-02 03:00 UTC, so the
    # first is due that morning at 09:00 CET (08:00 UTC), the last at 09:00 CEST (07:00 UTC)
    ranges = [m.text.split("\n")[2] for m in reports]
    assert ranges == [
        "pager weekly on-call report: 2026-02-23 08:00 UTC to 2026-03-02 08:00 UTC (service checkout)",
        "pager weekly on-call report: 2026-03-02 08:00 UTC to 2026-03-09 08:00 UTC (service checkout)",
        "pager weekly on-call report: 2026-03-09 08:00 UTC to 2026-03-16 08:00 UTC (service checkout)",
        "pager weekly on-call report: 2026-03-16 08:00 UTC to 2026-03-23 08:00 UTC (service checkout)",
        "pager weekly on-call report: 2026-03-23 07:00 UTC to 2026-03-30 07:00 UTC (service checkout)",
    ], ranges
    first = reports[0].text
    assert "pager weekly on-call report (checkout): 2026-02-23 to 2026-03-02" in first
    assert "Incidents: 1 opened" in first and "```" in first
    assert "Incidents: 0 opened" in reports[1].text  # the next week had none


async def test_no_reports_section_sends_none(autojump_clock: trio.testing.MockClock) -> None:
    providers = Providers()
    config = delivery_config(chat=True)
    with trio.fail_after(10 * DAY):
        async with running(
            config, event_log=MemoryLog(), clock=TrioWallClock(EPOCH),
            transports=build_transports(config, http=providers.http),
        ) as run:  # fmt: skip
            await trigger(run, "disk")
            await trio.sleep(8 * DAY)
    assert not [m for m in providers.slack.messages if "on-call report" in m.text]


async def test_a_daily_report_by_email(certificate: tuple[Path, Path]) -> None:
    with smtp_server(*certificate) as server, trio.fail_after(30):
        email = (
            f"  email: {{smtp_host: 127.0.0.1, smtp_port: {server.port}, username: {USER}, "
            f'password: {PASSWORD}, from: "pager <pager@example.com>", '
            f'ca_file: "{server.ca_file}", timeout: 5s}}\n'
        )
        config = delivery_config(email=email)
        daily = Report(at="09:00", email=("ops@example.com",))
        config = config.model_copy(update={"reports": (daily,)})
        providers = Providers()
        transports = build_transports(config, http=providers.http)
        async with running(
            config, event_log=MemoryLog(), clock=SystemClock(), transports=transports,
        ) as run:  # fmt: skip
            await trigger(run, "disk")
            # what the actor does when the report is due (the schedule is tested above)
            reporter = Reporter(run.system, transports.get)
            await reporter.deliver(daily, datetime.now(UTC) + timedelta(seconds=1))
    (mail,) = server.mailbox.received
    assert mail.rcpt_tos == ["ops@example.com"] and mail.authenticated and mail.tls
    assert mail.message["Subject"].startswith("pager daily on-call report: ")
    body = mail.message.get_content()
    assert body.startswith("pager daily on-call report: ")
    assert "Incidents: 1 opened" in body and "Time to acknowledge:" in body


async def test_a_report_that_breaks_is_logged_not_fatal(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A failed send is tried ATTEMPTS times (DeliveryError) or given up at once (anything
    else, e.g. a transport closed at shutdown); either way pager goes on."""
    from pager.actors.reports import ATTEMPTS
    from pager.transports.base import DeliveryError

    calls: list[str] = []

    async def refused(spec: Report, at: datetime) -> None:
        calls.append("refused")
        raise DeliveryError("Slack chat.postMessage: channel_not_found")

    async def broken(spec: Report, at: datetime) -> None:
        calls.append("broken")
        raise RuntimeError("Cannot send a request, as the client has been closed.")

    spec = Report(slack_channel="C0OPS")
    reporter = Reporter(object(), lambda m: None, send=refused)  # type: ignore[arg-type]
    await reporter._attempts(spec, EPOCH)
    reporter.send = broken
    await reporter._attempts(spec, EPOCH)
    assert calls == ["refused"] * ATTEMPTS + ["broken"]
    assert (reporter.sent, reporter.failed) == (0, 2)


async def test_a_report_missed_while_down_is_sent_late_once_and_not_after_a_day(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The week's report due while pager was not running (a restart, an upgrade, a standby
    taking over at 09:00 on a Monday) goes out at start-up when that was less than a day
    ago, once: the log holds which due instant went out. One missed by more than a day is
    not sent late; the next goes out on time."""
    monkeypatch.setattr(reports_actor, "in_worker_thread", _inline)
    providers = Providers()
    weekly = Report(at="monday 09:00", timezone="Europe/Berlin", service="checkout",
                    slack_channel="service")  # fmt: skip
    config = delivery_config(chat=True).model_copy(update={"reports": (weekly,)})
    log = MemoryLog()
    clock = TrioWallClock(EPOCH)  # one wall clock across the restarts: EPOCH at trio's 0
    hour = 3600.0

    def ranges() -> list[str]:
        return [
            m.text.split("\n")[2][len("pager weekly on-call report: ") :]
            for m in providers.slack.messages
            if "on-call report" in m.text
        ]

    async def up_until(t: float) -> None:  # pager runs from now until `t` (hours after EPOCH)
        async with running(
            config, event_log=log, clock=clock,
            transports=build_transports(config, http=providers.http),
        ) as run:  # fmt: skip
            await trio.sleep_until(t * hour)
            assert run.system.state.reports_sent  # (the log's record of what went out)

    week = 7 * 24.0
    with trio.fail_after(40 * DAY):
        await up_until(7)  # EPOCH is Monday 03:00 UTC: the report due at 08:00 UTC goes out
        assert ranges() == ["2026-02-23 08:00 UTC to 2026-03-02 08:00 UTC (service checkout)"]
        await trio.sleep_until((week + 6.5) * hour)  # down at 08:00 UTC the next Monday
        await up_until(week + 8)  # up at 09:30: sent at once, late, covering the same week
        assert ranges()[1:] == ["2026-03-02 08:00 UTC to 2026-03-09 08:00 UTC (service checkout)"]
        await up_until(week + 9)  # a restart after it went out: not sent again
        assert len(ranges()) == 2
        # down from Monday 16 March 07:00 UTC until Tuesday 09:30: missed by more than a day
        await trio.sleep_until((2 * week + 4) * hour)
        await trio.sleep_until((2 * week + 24 + 6.5) * hour)
        await up_until(3 * week + 6)  # ... not sent late; the next, on 23 March, on time
    assert ranges()[2:] == ["2026-03-16 08:00 UTC to 2026-03-23 08:00 UTC (service checkout)"]
    sent = [r.event for r in log.read_from(1) if r.type == "report.sent"]
    assert [e.due for e in sent if isinstance(e, ReportSent)] == [
        datetime(2026, 3, d, 8, tzinfo=UTC) for d in (2, 9, 23)
    ]
