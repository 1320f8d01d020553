"""Applies `journal.retention` while pager runs: once a minute after start-up, then every
hour, the log archives or deletes the old segments a snapshot covers (pager/store/
retention.py), in a worker thread, so the loop that pages never waits on it. A failure is
logged and tried again at the next turn; the log itself is never at risk (a segment leaves
events/ only once its archived copy is durable)."""

from __future__ import annotations

import logging
from datetime import timedelta

import trio

from pager.clock import WallClock
from pager.core.state import SystemState
from pager.store.base import EventLog, RetentionPolicy, RetentionReport

__all__ = ["Retention"]

log = logging.getLogger("pager.retention")

FIRST_CHECK = 60.0  # seconds after start-up: start-up's own reading is done by then
EVERY = 3600.0


class Retention:
    def __init__(
        self,
        log_: EventLog,
        state: SystemState,
        clock: WallClock,
        *,
        keep: timedelta | None,
        delete: bool = False,
    ) -> None:
        self.log = log_
        self.state = state
        self.clock = clock
        self.keep = keep
        self.delete = delete
        self.last: RetentionReport | None = None

    def policy(self) -> RetentionPolicy | None:
        if self.keep is None:
            return None
        # an incident held whole (open, or resolved within the hour) may be rebuilt from its
        # first record: the segment holding that stays
        whole = [inc.opened_seq for inc in self.state.incidents.values()]
        return RetentionPolicy(
            keep=self.keep,
            now=self.clock.now(),
            delete=self.delete,
            keep_from_seq=min(whole) if whole else None,
        )

    async def apply(self) -> RetentionReport | None:
        policy = self.policy()
        if policy is None:
            return None
        try:
            report = await self.log.apply_retention(policy)
        except OSError as e:
            log.error("journal.retention failed (%s); will try again", e)
            return None
        if report is not None and report.segments:
            log.info(
                "journal.retention %s %d segment(s), %d bytes%s; the log now starts at record %d",
                "deleted" if self.delete else "archived",
                len(report.segments),
                report.bytes_before,
                "" if self.delete else f" into {report.bytes_after} in archive/",
                report.first_seq,
            )
        self.last = report
        return report

    async def run(
        self, *, task_status: trio.TaskStatus[Retention] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started(self)
        if self.keep is None:
            return
        await trio.sleep(FIRST_CHECK)
        while True:
            await self.apply()
            await trio.sleep(EVERY)
