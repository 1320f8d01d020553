"""The analytics ledger: the facts the reports are made of, folded from the log one record
at a time.

`Ledger.apply(event, seq, at)` is called for every journaled record, in order (the read
model, `SystemState`, calls it), so the running service keeps it up to date for a few
microseconds an event, and start-up and `pager replay` rebuild the same one by the same fold.
It keeps, per incident, what the reports ask about (when it opened, was first acknowledged,
resolved; by whom and how; its escalations), per notification its method and outcome, every
page of a person and every alert firing, and the maintenance windows. Queries
(`pager.core.analytics.report`) read it for any time range.

It also keeps a few running aggregates for Prometheus (`Aggregates`), updated as events
arrive; `keeping.recount` computes the same from the columns, which is what start-up does
after a snapshot and what the tests compare them with. `keeping` also has its snapshots.

Past ~400 lines on purpose: the fold is one method per event type over the same columns,
and is read as a whole when a column is added; the queries, snapshots and text live apart.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..events import (
    AlertsUpdated,
    Event,
    IncidentAcknowledged,
    IncidentEdited,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    IncidentSnoozed,
    IncidentUnacknowledged,
    MaintenanceEnded,
    MaintenanceStarted,
    NoteAdded,
    NotificationCancelled,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
)
from .columns import NONE, Names, Table, is_none
from .metrics import Aggregates
from .vocabulary import (
    ACKNOWLEDGED,
    BY_PERSON,
    BY_SOURCE,
    BY_TIMEOUT,
    CANCELLED,
    DELIVERED,
    FAILED,
    FAILED_RECEIPTS,
    INTERRUPTING,
    KINDS,
    PENDING,
    RECEIPT_METHODS,
    RESOLVED,
    RETRYING,
    SENT,
    TRIGGERED,
    UNDELIVERED,
)

__all__ = [
    "FIRE_COLUMNS",
    "INCIDENT_COLUMNS",
    "LEDGER_VERSION",
    "NOTIFICATION_COLUMNS",
    "PAGE_COLUMNS",
    "Ledger",
]

LEDGER_VERSION = 1

# an incident's row
INCIDENT_COLUMNS = {
    "opened": "d",  # instants: float seconds since the epoch, NaN for none
    "acked": "d",  # the first acknowledgement (or snooze of a triggered incident)
    "resolved": "d",
    "acted": "d",  # the first action of a person (ack, snooze, note, edit, escalate, resolve)
    "reopen": "d",  # seconds since the previous incident of the same key resolved
    "number": "i",
    "service": "i",  # codes (Names), -1 for none
    "dedup": "i",
    "title": "i",
    "alertname": "i",
    "urgency": "i",
    "policy": "i",
    "level": "i",  # the highest level reached (0-based)
    "exhausted": "i",  # 1: the policy ran out (a step with no next one)
    "esc_timeout": "i",
    "esc_manual": "i",
    "retriggered": "i",  # back to triggered: ack timed out or snooze ended
    "alerts": "i",  # alert firings
    "ack_by": "i",
    "ack_via": "i",
    "res_by": "i",
    "res_via": "i",
    "how": "i",  # HOW: how it resolved
    "state": "i",  # STATES
    "quiet": "i",  # 1: opened in maintenance (paged nobody then)
}
NOTIFICATION_COLUMNS = {
    "requested": "d",
    "sent": "d",  # the first time the provider took it
    "receipt": "d",  # the provider's receipt (delivered or not)
    "inc": "i",  # the incident's row
    "method": "i",
    "user": "i",
    "kind": "i",  # KINDS
    "outcome": "i",  # OUTCOMES
    "attempts": "i",
    "dup": "i",  # 1: sent as a further page of a bundle already counted (not a new interruption)
}
PAGE_COLUMNS = {"at": "d", "inc": "i", "user": "i", "level": "i"}
FIRE_COLUMNS = {"at": "d", "inc": "i", "name": "i"}


_KIND_CODES = {kind: i for i, kind in enumerate(KINDS)}


def _ts(at: datetime) -> float:
    return at.timestamp()


class Ledger:
    """The facts of the whole log so far (see the module's docstring)."""

    def __init__(self) -> None:
        self.names = Names()
        self.incidents = Table(INCIDENT_COLUMNS)
        self.incident_ids: list[str] = []
        self.incident_row: dict[str, int] = {}
        self.notifications = Table(NOTIFICATION_COLUMNS)
        # notifications that may still change (not yet final), by id; a final one leaves
        self.open_notifications: dict[str, int] = {}
        self.pages = Table(PAGE_COLUMNS)
        self.fires = Table(FIRE_COLUMNS)
        self.windows: dict[str, list[Any]] = {}  # id -> [service code, start, end]
        self.last_resolved: dict[tuple[int, int], float] = {}  # (service, key) -> instant
        self.outcome_events: dict[tuple[int, str], int] = {}  # (method, outcome) -> events
        self.bundles_sent: set[str] = set()  # bundles (storm mode) with a page sent already
        self.aggregates = Aggregates()
        self.last_seq = 0
        # the instants rows were added at never went back (the wall clock may step back):
        # while so, a table's time column is sorted and a range is found by bisection
        self.in_order = True
        self.last_t = float("-inf")
        # a ledger from a snapshot written before analytics existed lacks the records up to
        # here: start-up folds them in from the log (pager.replay.load)
        self.missing_through = 0
        self._apply: dict[type, Callable[[Any, float], None]] = {
            IncidentOpened: self._opened,
            AlertsUpdated: self._alerts,
            IncidentAcknowledged: self._acknowledged,
            IncidentSnoozed: self._snoozed,
            IncidentUnacknowledged: self._unacknowledged,
            IncidentEscalated: self._escalated,
            IncidentResolved: self._resolved,
            NoteAdded: self._acted,
            IncidentEdited: self._acted,
            NotificationRequested: self._requested,
            NotificationSent: self._sent,
            NotificationFailed: self._failed,
            NotificationDelivered: self._delivered,
            NotificationCancelled: self._cancelled,
            MaintenanceStarted: self._maintenance_started,
            MaintenanceEnded: self._maintenance_ended,
        }

    # ------------------------------------------------------------------ the fold

    def apply(self, event: Event, seq: int, at: datetime) -> None:
        """Fold one journaled record in (every record, in sequence order)."""
        fn = self._apply.get(type(event))
        if fn is not None:
            t = at.timestamp()
            if t < self.last_t:
                self.in_order = False
            self.last_t = t
            fn(event, t)
        self.last_seq = seq

    def span(self, times: Sequence[float], lo: float, hi: float) -> range:
        """The rows of a table whose time column `times` (the instant each row was added:
        incidents opened, notifications requested, pages, firings) may lie in [lo, hi): found
        by bisection while the log's instants never went back, else every row (the caller
        checks each)."""
        if self.in_order:
            return range(bisect_left(times, lo), bisect_left(times, hi))
        return range(len(times))

    def _row(self, incident_id: str) -> int:
        return self.incident_row.get(incident_id, NONE)

    def _opened(self, e: IncidentOpened, t: float) -> None:
        if e.incident_id in self.incident_row:
            return
        code = self.names.code
        service, dedup = code(e.service_id), code(e.dedup_key)
        first = e.alerts[0] if e.alerts else None
        labels = first.get("labels") if first else None
        alertname = labels.get("alertname") if isinstance(labels, dict) else None
        gone = self.last_resolved.get((service, dedup))
        row = self.incidents.append(
            {
                "opened": t,
                "reopen": None if gone is None else t - gone,
                "number": e.number,
                "service": service,
                "dedup": dedup,
                "title": code(e.title),
                "alertname": code(alertname if isinstance(alertname, str) else None),
                "urgency": code(e.urgency),
                "level": NONE,
                "exhausted": 0,
                "esc_timeout": 0,
                "esc_manual": 0,
                "retriggered": 0,
                "alerts": 0,
                "how": NONE,
                "state": TRIGGERED,
                "quiet": 1 if (e.reason or "").startswith("maintenance") else 0,
            }
        )
        self.incident_ids.append(e.incident_id)
        self.incident_row[e.incident_id] = row
        self.aggregates.opened(service)
        if e.alerts:
            self._fired(row, e.alerts, t)

    def _fired(self, row: int, fired: tuple[dict[str, Any], ...], t: float) -> None:
        cols = self.incidents.cols
        cols["alerts"][row] += len(fired)
        code = self.names.code
        for f in fired:
            labels = f.get("labels")
            name = labels.get("alertname") if isinstance(labels, dict) else None
            if not isinstance(name, str):
                name = f.get("summary")
            self.fires.append({"at": t, "inc": row, "name": code(name)})

    def _alerts(self, e: AlertsUpdated, t: float) -> None:
        row = self._row(e.incident_id)
        if row >= 0 and e.fired:
            self._fired(row, e.fired, t)

    def _set_state(self, row: int, state: int) -> None:
        col = self.incidents.cols["state"]
        old = col[row]
        if old != state:
            col[row] = state
            self.aggregates.moved(self.incidents.cols["service"][row], old, state)

    def _first_ack(self, row: int, t: float, by: str | None, via: str | None) -> None:
        cols = self.incidents.cols
        if is_none(cols["acked"][row]):
            cols["acked"][row] = t
            cols["ack_by"][row] = self.names.code(by)
            cols["ack_via"][row] = self.names.code(via)
            self.aggregates.acknowledged(cols["service"][row], t - cols["opened"][row])

    def _mark_acted(self, row: int, t: float, by: str | None) -> None:
        col = self.incidents.cols["acted"]
        if by is not None and is_none(col[row]):
            col[row] = t

    def _acknowledged(self, e: IncidentAcknowledged, t: float) -> None:
        row = self._row(e.incident_id)
        if row < 0 or self.incidents.cols["state"][row] == RESOLVED:
            return
        self._first_ack(row, t, e.by, e.via)
        self._mark_acted(row, t, e.by)
        self._set_state(row, ACKNOWLEDGED)

    def _snoozed(self, e: IncidentSnoozed, t: float) -> None:
        row = self._row(e.incident_id)
        if row < 0 or self.incidents.cols["state"][row] == RESOLVED:
            return
        self._first_ack(row, t, e.by, e.via)
        self._mark_acted(row, t, e.by)
        self._set_state(row, ACKNOWLEDGED)

    def _unacknowledged(self, e: IncidentUnacknowledged, t: float) -> None:
        row = self._row(e.incident_id)
        if row < 0 or self.incidents.cols["state"][row] != ACKNOWLEDGED:
            return
        self.incidents.cols["retriggered"][row] += 1
        self._set_state(row, TRIGGERED)

    def _escalated(self, e: IncidentEscalated, t: float) -> None:
        row = self._row(e.incident_id)
        if row < 0:
            return
        cols = self.incidents.cols
        policy = self.names.code(e.policy_id)
        if cols["policy"][row] != policy:  # its first policy, or a new one after a reload
            cols["policy"][row] = policy
            cols["level"][row] = e.level
        elif e.level > cols["level"][row]:
            cols["level"][row] = e.level
        if e.next_at is None:
            cols["exhausted"][row] = 1
        if e.by is not None or e.via is not None:
            cols["esc_manual"][row] += 1
            self._mark_acted(row, t, e.by)
        elif e.level or e.round:  # (level 0 of walk 0 is where paging starts, not a step up)
            cols["esc_timeout"][row] += 1
        if cols["state"][row] == ACKNOWLEDGED:
            self._set_state(row, TRIGGERED)
        for uid in e.paged or ():
            user = self.names.code(uid)
            self.pages.append({"at": t, "inc": row, "user": user, "level": e.level})
            self.aggregates.paged(user)

    def _resolved(self, e: IncidentResolved, t: float) -> None:
        row = self._row(e.incident_id)
        cols = self.incidents.cols
        if row < 0 or cols["state"][row] == RESOLVED:
            return
        cols["resolved"][row] = t
        cols["res_by"][row] = self.names.code(e.by)
        cols["res_via"][row] = self.names.code(e.via)
        if e.by is not None:
            how = BY_PERSON
        elif e.reason == "auto-resolved":
            how = BY_TIMEOUT
        else:
            how = BY_SOURCE
        cols["how"][row] = how
        self._mark_acted(row, t, e.by)
        self._set_state(row, RESOLVED)
        self.aggregates.resolved(cols["service"][row], t - cols["opened"][row])
        self.last_resolved[(cols["service"][row], cols["dedup"][row])] = t

    def _acted(self, e: NoteAdded | IncidentEdited, t: float) -> None:
        row = self._row(e.incident_id)
        if row >= 0:
            self._mark_acted(row, t, e.by)

    # ------------------------------------------------------------------ notifications

    def _count(self, method: int, outcome: str) -> None:
        key = (method, outcome)
        self.outcome_events[key] = self.outcome_events.get(key, 0) + 1

    def _requested(self, e: NotificationRequested, t: float) -> None:
        row = self._row(e.incident_id)
        if row < 0 or e.notification_id in self.open_notifications:
            return
        kind = _KIND_CODES.get(e.kind, NONE)
        method = self.names.code(e.method)
        n = self.notifications.append(
            {
                "requested": t,
                "inc": row,
                "method": method,
                "user": self.names.code(e.user_id),
                "kind": kind,
                "outcome": PENDING,
                "attempts": 0,
            }
        )
        self.open_notifications[e.notification_id] = n
        self._count(method, "requested")

    def _settle(self, notification_id: str) -> None:
        del self.open_notifications[notification_id]

    def _sent(self, e: NotificationSent, t: float) -> None:
        n = self.open_notifications.get(e.notification_id, NONE)
        if n < 0:
            return
        cols = self.notifications.cols
        cols["outcome"][n] = SENT
        cols["attempts"][n] = e.attempt
        method = cols["method"][n]
        self._count(method, "sent")
        if is_none(cols["sent"][n]):
            cols["sent"][n] = t
            if e.bundle_id is not None:  # one message carried several pages: one interruption
                if e.bundle_id in self.bundles_sent:
                    cols["dup"][n] = 1
                self.bundles_sent.add(e.bundle_id)
            interrupts = cols["kind"][n] == 0 and cols["dup"][n] != 1
            if interrupts and self.names.strings[method] in INTERRUPTING:
                self.aggregates.interrupted(cols["user"][n])
        if self.names.strings[method] not in RECEIPT_METHODS:
            self._settle(e.notification_id)

    def _failed(self, e: NotificationFailed, t: float) -> None:
        n = self.open_notifications.get(e.notification_id, NONE)
        if n < 0:
            return
        cols = self.notifications.cols
        cols["attempts"][n] = e.attempt
        final = e.permanent or e.retry_at is None
        cols["outcome"][n] = FAILED if final else RETRYING
        self._count(cols["method"][n], "failed" if final else "retrying")
        if final:
            self._settle(e.notification_id)

    def _delivered(self, e: NotificationDelivered, t: float) -> None:
        n = self.open_notifications.get(e.notification_id, NONE)
        if n < 0:
            return
        cols = self.notifications.cols
        bad = e.status in FAILED_RECEIPTS
        cols["outcome"][n] = UNDELIVERED if bad else DELIVERED
        cols["receipt"][n] = t
        self._count(cols["method"][n], "undelivered" if bad else "delivered")
        self._settle(e.notification_id)

    def _cancelled(self, e: NotificationCancelled, t: float) -> None:
        n = self.open_notifications.get(e.notification_id, NONE)
        if n < 0:
            return
        cols = self.notifications.cols
        cols["outcome"][n] = CANCELLED
        self._count(cols["method"][n], "cancelled")
        self._settle(e.notification_id)

    # ------------------------------------------------------------------ maintenance

    def _maintenance_started(self, e: MaintenanceStarted, t: float) -> None:
        self.windows[e.window_id] = [self.names.code(e.service_id), _ts(e.start), _ts(e.end)]

    def _maintenance_ended(self, e: MaintenanceEnded, t: float) -> None:
        w = self.windows.get(e.window_id)
        if w is not None:
            w[2] = max(w[1], min(w[2], t))
