"""A small builder of event logs for the analytics tests: events with their instants, as the
journal would stamp them, folded into a `Ledger` one at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pager.core.analytics import Ledger
from pager.core.events import (
    AlertsUpdated,
    Attribution,
    Event,
    IncidentAcknowledged,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
)
from pager.core.vocabulary import NotificationKind

__all__ = ["Log", "utc"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Log:
    def __init__(self) -> None:
        self.records: list[tuple[Event, datetime]] = []
        self._n: dict[str, int] = {}

    def add(self, at: datetime, event: Event) -> Log:
        self.records.append((event, at))
        return self

    def ledger(self, upto: int | None = None) -> Ledger:
        led = Ledger()
        for seq, (ev, at) in enumerate(self.records[:upto], 1):
            led.apply(ev, seq, at)
        return led

    # ---------------------------------------------------------------- shorthands

    def open(
        self,
        iid: str,
        at: datetime,
        *,
        service: str = "web",
        key: str | None = None,
        title: str = "Something broke",
        labels: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> Log:
        alert: dict[str, Any] = {"key": key or iid, "summary": title, "severity": "critical"}
        if labels:
            alert["labels"] = labels
        n = int(iid.rsplit("-", 1)[-1]) if iid.rsplit("-", 1)[-1].isdigit() else 1
        return self.add(
            at,
            IncidentOpened(
                incident_id=iid, number=n, short_code=f"C{n}", service_id=service,
                dedup_key=key or iid, integration="pagerduty", title=title,
                severity="critical", urgency="high", paging=reason is None, reason=reason,
                alerts=(alert,),
            ),
        )  # fmt: skip

    def fire(self, iid: str, at: datetime, key: str, summary: str, **labels: str) -> Log:
        f: dict[str, Any] = {"key": key, "summary": summary, "severity": "critical"}
        if labels:
            f["labels"] = labels
        return self.add(at, AlertsUpdated(incident_id=iid, fired=(f,)))

    def escalate(
        self,
        iid: str,
        at: datetime,
        level: int,
        paged: tuple[str, ...],
        *,
        policy: str = "p",
        rnd: int = 0,
        by: str | None = None,
        via: str | None = None,
        last: bool = False,
    ) -> Log:
        return self.add(
            at,
            IncidentEscalated(
                incident_id=iid, policy_id=policy, level=level, round=rnd,
                next_at=None if last else at + timedelta(minutes=5), targets=paged,
                paged=paged, first_after=tuple(0.0 for _ in paged),
                attribution=Attribution(by, via),
            ),
        )  # fmt: skip

    def notify(
        self,
        iid: str,
        at: datetime,
        user: str,
        method: str,
        *,
        sent_after: float | None = 0.0,
        fail: bool = False,
        receipt: tuple[float, str] | None = None,
    ) -> str:
        """A page notification: requested at `at`, then sent `sent_after` seconds later (or
        failed for good); with `receipt`, a provider receipt that many seconds after sending.
        Returns its id."""
        k = self._n[iid] = self._n.get(iid, 0) + 1
        nid = f"{iid}-n{k}"
        self.add(
            at,
            NotificationRequested(
                incident_id=iid, notification_id=nid, kind=NotificationKind.PAGE, method=method,
                address="x", user_id=user, step=0, urgency="high",
            ),
        )  # fmt: skip
        if fail:
            self.add(
                at,
                NotificationFailed(
                    incident_id=iid, notification_id=nid, attempt=1, error="bad number",
                    permanent=True,
                ),
            )  # fmt: skip
        elif sent_after is not None:
            sent = at + timedelta(seconds=sent_after)
            self.add(
                sent,
                NotificationSent(
                    incident_id=iid, notification_id=nid, attempt=1, provider_id=nid,
                    method=method,
                ),
            )  # fmt: skip
            if receipt is not None:
                self.add(
                    sent + timedelta(seconds=receipt[0]),
                    NotificationDelivered(incident_id=iid, notification_id=nid, status=receipt[1]),
                )
        return nid

    def ack(self, iid: str, at: datetime, by: str | None, via: str) -> Log:
        return self.add(at, IncidentAcknowledged(incident_id=iid, attribution=Attribution(by, via)))

    def resolve(
        self,
        iid: str,
        at: datetime,
        by: str | None = None,
        via: str = "api",
        reason: str | None = None,
    ) -> Log:
        return self.add(
            at, IncidentResolved(incident_id=iid, attribution=Attribution(by, via), reason=reason)
        )
