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
arrive (the times to acknowledge and resolve are counted into their histograms in batches,
when `aggregates` is read); `keeping.recount` computes the same from the columns, which is
what start-up does after a snapshot and what the tests compare them with. `keeping` also
has its snapshots.

What only a later record may still need is remembered for `MEMORY` (a day) of the log's
instants, then forgotten: when a bundle's pages were first sent (a further page of it is not
a new interruption), when each dedup key's incident last resolved (the next one on the key
reopened it), a text or a call awaiting its delivery receipt. So none of them grows with the
log. What is that old is treated as forgotten whether or not it was dropped yet (it is
dropped when something new comes, oldest first), and snapshots leave it out, so a running
service, a restart from a snapshot and a replay hold and answer the same (`MEMORY`).

The fold is the cost every journaled record pays, so its handlers are written out flat (see
"the fold" below): scripts/bench analytics measures it.

Past ~400 lines on purpose: the fold is one method per event type over the same columns,
and is read as a whole when a column is added; the queries, snapshots and text live apart.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import numpy as np

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
from .columns import NAN, NONE, Names, Table
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
    "INCIDENT_BLANKS",
    "INCIDENT_COLUMNS",
    "LEDGER_VERSION",
    "MEMORY",
    "NOTIFICATION_BLANKS",
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
# what a new row holds until the fold sets it (NaN or -1 for the columns not named): the
# fold sets only the columns that differ
INCIDENT_BLANKS = {
    "exhausted": 0, "esc_timeout": 0, "esc_manual": 0, "retriggered": 0, "alerts": 0,
    "state": TRIGGERED, "quiet": 0,
}  # fmt: skip
NOTIFICATION_BLANKS = {"outcome": PENDING, "attempts": 0}


_KIND_CODES = {kind: i for i, kind in enumerate(KINDS)}
OBSERVE_EVERY = 4096  # times to acknowledge or resolve kept aside at most

MEMORY = 86400.0
"""Seconds of the log's instants the ledger remembers a bundle's first send, a dedup key's
last resolve and a page awaiting its receipt, by the latest instant folded (`t_max`,
which never goes back, so what is forgotten stays forgotten). A day: a bundle's pages
go out together, their retries end within the delivery policy's `max_age` (an hour) and
storm mode forgets a bundle after a day (`pager.core.bundles.BUNDLE_MEMORY`); the reports
count an incident as reopened when its key's previous one resolved within a day
(report.REOPEN_WINDOW); Twilio's receipts come within minutes (a text it could not deliver
in its validity period, at most 10 hours, fails)."""


def _ts(at: datetime) -> float:
    return at.timestamp()


K = TypeVar("K")


def forget(remembered: OrderedDict[K, float], before: float) -> None:
    """Drop the entries of `remembered` (instants, oldest first) from before `before`: the
    oldest, up to the first one to keep (an OrderedDict: a dict's first entry is found by
    skipping the ones deleted before it, which made this quadratic)."""
    while remembered:
        key = next(iter(remembered))
        if remembered[key] >= before:
            return
        del remembered[key]


class Ledger:
    """The facts of the whole log so far (see the module's docstring)."""

    def __init__(self) -> None:
        self.names = Names()
        self.incidents = Table(INCIDENT_COLUMNS, INCIDENT_BLANKS)
        self.incident_ids: list[str] = []
        self.incident_row: dict[str, int] = {}
        self.notifications = Table(NOTIFICATION_COLUMNS, NOTIFICATION_BLANKS)
        # notifications that may still change (not yet final), by id; a final one leaves
        self.open_notifications: dict[str, int] = {}
        self.pages = Table(PAGE_COLUMNS)
        self.fires = Table(FIRE_COLUMNS)
        self.windows: dict[str, list[Any]] = {}  # id -> [service code, start, end]
        # (these three, and `awaiting`, forget after MEMORY)
        # (service, key) -> the instant its last incident resolved, oldest first
        self.last_resolved: OrderedDict[tuple[int, int], float] = OrderedDict()
        self.outcome_events: dict[tuple[int, str], int] = {}  # (method, outcome) -> events
        # bundles (storm mode) with a page sent already -> the instant of the first, oldest
        # first
        self.bundles_sent: OrderedDict[str, float] = OrderedDict()
        # pages sent by a method with receipts, awaiting one (id -> row), in order of
        # sending: those of `open_notifications` whose outcome is SENT
        self.awaiting: OrderedDict[str, int] = OrderedDict()
        self._aggregates = Aggregates()
        # times to acknowledge and to resolve not yet in the aggregates' histograms:
        # (service, seconds), counted in one go when the aggregates are read
        self._acks: list[tuple[int, float]] = []
        self._ress: list[tuple[int, float]] = []
        self.last_seq = 0
        # the instants rows were added at never went back (the wall clock may step back):
        # while so, a table's time column is sorted and a range is found by bisection
        self.in_order = True
        self.last_t = float("-inf")
        self.t_max = self.last_t  # the latest instant folded so far (the clock of MEMORY)
        self._at: datetime | None = None  # the instant of the last record folded, and its
        self._t = self.last_t  # seconds since the epoch
        # a ledger from a snapshot written before analytics existed lacks the records up to
        # here: start-up folds them in from the log (pager.replay.load)
        self.missing_through = 0
        self._apply: dict[type, Callable[[Any, float], None]] = {
            IncidentOpened: self._opened,
            AlertsUpdated: self._alerts,
            IncidentAcknowledged: self._acknowledged,
            IncidentSnoozed: self._acknowledged,
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

    @property
    def aggregates(self) -> Aggregates:
        """The running aggregates, up to date."""
        if self._acks or self._ress:
            self._observe()
        return self._aggregates

    @aggregates.setter
    def aggregates(self, value: Aggregates) -> None:
        self._aggregates = value

    def _observe(self) -> None:
        for which, pairs in (("ack", self._acks), ("res", self._ress)):
            if pairs:
                services, seconds = zip(*pairs, strict=True)
                self._aggregates.observe_many(
                    which, np.array(services, dtype=np.intp), np.array(seconds, dtype=np.float64)
                )
        self._acks, self._ress = [], []

    # ------------------------------------------------------------------ the fold
    #
    # The fold runs for every record of the log, so each handler is written out flat: the
    # columns it touches read once into locals, a string's code found by one dictionary
    # lookup (`Names.code` only for a new string or None), a row added by `new_row()` and a
    # store per column that is not blank (INCIDENT_BLANKS), values written through the
    # table's memoryviews `w` (see `Table`), no helper calls. What it does is plain: read
    # it as "the incident's first acknowledgement sets acked, ack_by, ack_via", and so on.

    def apply(self, event: Event, seq: int, at: datetime) -> None:
        """Fold one journaled record in (every record, in sequence order)."""
        fn = self._apply.get(type(event))
        if fn is not None:
            if at is self._at:  # records journaled together share their instant
                t = self._t
            else:
                t = self._t = at.timestamp()
                self._at = at
                if t < self.last_t:
                    self.in_order = False
                elif t > self.t_max:
                    self.t_max = t
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

    def _opened(self, e: IncidentOpened, t: float) -> None:
        iid = e.incident_id
        if iid in self.incident_row:
            return
        codes = self.names.codes
        # (codes are given in this order: service, dedup key, title, alert name, urgency)
        service = codes[e.service_id]
        dedup = codes[e.dedup_key]
        title = codes[e.title]
        alerts = e.alerts
        first = alerts[0] if alerts else None
        labels = first.get("labels") if first else None
        alertname = labels.get("alertname") if isinstance(labels, dict) else None
        name = codes[alertname] if isinstance(alertname, str) else NONE
        urgency = codes[e.urgency]
        gone = self.last_resolved.get((service, dedup), NAN)
        table = self.incidents
        row = table.new_row()  # blank: acked, resolved, acted... NaN, counts 0, triggered
        w = table.w
        w["opened"][row] = t
        if gone >= self.t_max - MEMORY:  # (False for NaN: none, or forgotten)
            w["reopen"][row] = t - gone
        w["number"][row] = e.number
        w["service"][row] = service
        w["dedup"][row] = dedup
        w["title"][row] = title
        w["alertname"][row] = name
        w["urgency"][row] = urgency
        if (e.reason or "").startswith("maintenance"):
            w["quiet"][row] = 1
        self.incident_ids.append(iid)
        self.incident_row[iid] = row
        states = self._aggregates.states
        key = (service, TRIGGERED)
        states[key] = states.get(key, 0) + 1
        if alerts:
            self._fired(row, alerts, t)

    def _fired(self, row: int, fired: tuple[dict[str, Any], ...], t: float) -> None:
        self.incidents.w["alerts"][row] += len(fired)
        codes = self.names.codes
        fires = self.fires
        for f in fired:
            labels = f.get("labels")
            name = labels.get("alertname") if isinstance(labels, dict) else None
            if not isinstance(name, str):
                name = f.get("summary")
            c = codes[name]
            n = fires.new_row()
            w = fires.w  # (after new_row: when the columns grow, they get new views)
            w["at"][n] = t
            w["inc"][n] = row
            w["name"][n] = c

    def _alerts(self, e: AlertsUpdated, t: float) -> None:
        row = self.incident_row.get(e.incident_id, NONE)
        if row >= 0 and e.fired:
            self._fired(row, e.fired, t)

    def _acknowledged(self, e: IncidentAcknowledged | IncidentSnoozed, t: float) -> None:
        """(a snooze of a triggered incident acknowledges it as well)"""
        row = self.incident_row.get(e.incident_id, NONE)
        if row < 0:
            return
        cols = self.incidents.w
        state = cols["state"]
        old = state[row]
        if old == RESOLVED:
            return
        by, via = e.attribution[:2]
        acked = cols["acked"]
        if acked[row] != acked[row]:  # NaN: the first acknowledgement
            acked[row] = t
            codes = self.names.codes
            cols["ack_by"][row] = codes[by]
            cols["ack_via"][row] = codes[via]
            acks = self._acks
            acks.append((cols["service"][row], t - cols["opened"][row]))
            if len(acks) >= OBSERVE_EVERY:
                self._observe()
        if by is not None:
            acted = cols["acted"]
            if acted[row] != acted[row]:
                acted[row] = t
        if old != ACKNOWLEDGED:
            state[row] = ACKNOWLEDGED
            service = cols["service"][row]
            states = self._aggregates.states
            states[(service, old)] -= 1
            key = (service, ACKNOWLEDGED)
            states[key] = states.get(key, 0) + 1

    def _unacknowledged(self, e: IncidentUnacknowledged, t: float) -> None:
        row = self.incident_row.get(e.incident_id, NONE)
        if row < 0:
            return
        cols = self.incidents.w
        if cols["state"][row] != ACKNOWLEDGED:
            return
        cols["retriggered"][row] += 1
        cols["state"][row] = TRIGGERED
        self._aggregates.moved(cols["service"][row], ACKNOWLEDGED, TRIGGERED)

    def _escalated(self, e: IncidentEscalated, t: float) -> None:
        row = self.incident_row.get(e.incident_id, NONE)
        if row < 0:
            return
        cols = self.incidents.w
        codes = self.names.codes
        policy = codes[e.policy_id]
        level = e.level
        if cols["policy"][row] != policy:  # its first policy, or a new one after a reload
            cols["policy"][row] = policy
            cols["level"][row] = level
        elif level > cols["level"][row]:
            cols["level"][row] = level
        if e.next_at is None:
            cols["exhausted"][row] = 1
        by, via = e.attribution[:2]
        if by is not None or via is not None:
            cols["esc_manual"][row] += 1
            if by is not None:
                acted = cols["acted"]
                if acted[row] != acted[row]:
                    acted[row] = t
        elif level or e.round:  # (level 0 of walk 0 is where paging starts, not a step up)
            cols["esc_timeout"][row] += 1
        state = cols["state"]
        if state[row] == ACKNOWLEDGED:
            state[row] = TRIGGERED
            self._aggregates.moved(cols["service"][row], ACKNOWLEDGED, TRIGGERED)
        if e.paged:
            pages = self.pages
            counts = self._aggregates.pages
            for uid in e.paged:
                user = codes[uid]
                n = pages.new_row()
                w = pages.w
                w["at"][n] = t
                w["inc"][n] = row
                w["user"][n] = user
                w["level"][n] = level
                counts[user] = counts.get(user, 0) + 1

    def _resolved(self, e: IncidentResolved, t: float) -> None:
        row = self.incident_row.get(e.incident_id, NONE)
        if row < 0:
            return
        cols = self.incidents.w
        state = cols["state"]
        old = state[row]
        if old == RESOLVED:
            return
        cols["resolved"][row] = t
        by, via = e.attribution[:2]
        codes = self.names.codes
        cols["res_by"][row] = codes[by]
        cols["res_via"][row] = codes[via]
        if by is not None:
            cols["how"][row] = BY_PERSON
            acted = cols["acted"]
            if acted[row] != acted[row]:
                acted[row] = t
        elif e.reason == "auto-resolved":
            cols["how"][row] = BY_TIMEOUT
        else:
            cols["how"][row] = BY_SOURCE
        state[row] = RESOLVED
        service = cols["service"][row]
        states = self._aggregates.states
        states[(service, old)] -= 1
        key = (service, RESOLVED)
        states[key] = states.get(key, 0) + 1
        ress = self._ress
        ress.append((service, t - cols["opened"][row]))
        if len(ress) >= OBSERVE_EVERY:
            self._observe()
        last = self.last_resolved
        key = (service, cols["dedup"][row])
        if key in last:
            last.move_to_end(key)  # (oldest first)
        last[key] = t
        forget(last, self.t_max - MEMORY)

    def _acted(self, e: NoteAdded | IncidentEdited, t: float) -> None:
        row = self.incident_row.get(e.incident_id, NONE)
        if row >= 0 and e.attribution[0] is not None:
            acted = self.incidents.w["acted"]
            if acted[row] != acted[row]:
                acted[row] = t

    # ------------------------------------------------------------------ notifications

    def _requested(self, e: NotificationRequested, t: float) -> None:
        row = self.incident_row.get(e.incident_id, NONE)
        nid = e.notification_id
        if row < 0 or nid in self.open_notifications:
            return
        codes = self.names.codes
        method = codes[e.method]
        user = codes[e.user_id]
        table = self.notifications
        n = table.new_row()  # blank: sent, receipt NaN, pending, no attempt, dup -1
        w = table.w
        w["requested"][n] = t
        w["inc"][n] = row
        w["method"][n] = method
        w["user"][n] = user
        w["kind"][n] = _KIND_CODES.get(e.kind, NONE)
        self.open_notifications[nid] = n
        counts = self.outcome_events
        key = (method, "requested")
        counts[key] = counts.get(key, 0) + 1

    def _open(self, nid: str) -> int:
        """The row of the notification `nid` while it may still change, else NONE: a page
        that awaits its receipt no longer once it was first sent MEMORY ago (the receipt,
        should it come, is not counted; the page stays sent)."""
        n = self.open_notifications.get(nid, NONE)
        if n >= 0:
            cols = self.notifications.w
            if cols["outcome"][n] == SENT and cols["sent"][n] < self.t_max - MEMORY:
                del self.open_notifications[nid]
                self.awaiting.pop(nid, None)
                return NONE
        return n

    def _sent(self, e: NotificationSent, t: float) -> None:
        nid = e.notification_id
        n = self._open(nid)
        if n < 0:
            return
        cols = self.notifications.w
        cols["outcome"][n] = SENT
        cols["attempts"][n] = e.attempt
        method = cols["method"][n]
        counts = self.outcome_events
        key = (method, "sent")
        counts[key] = counts.get(key, 0) + 1
        sent = cols["sent"]
        if sent[n] != sent[n]:  # NaN: the first send
            sent[n] = t
            dup = cols["dup"]
            bid = e.bundle_id
            if bid is not None:  # one message carried several pages: one interruption
                bundles = self.bundles_sent
                first = bundles.get(bid, NAN)
                if first >= self.t_max - MEMORY:  # (False for NaN: none, or forgotten)
                    dup[n] = 1
                else:
                    bundles.pop(bid, None)
                    bundles[bid] = t
                    forget(bundles, self.t_max - MEMORY)
            interrupts = cols["kind"][n] == 0 and dup[n] != 1
            if interrupts and self.names.strings[method] in INTERRUPTING:
                self._aggregates.interrupted(cols["user"][n])
        if self.names.strings[method] not in RECEIPT_METHODS:
            del self.open_notifications[nid]
        else:
            self.awaiting[nid] = n
            self._forget_awaiting()

    def _forget_awaiting(self) -> None:
        """Stop waiting for the receipts of pages first sent MEMORY ago: the oldest of
        `awaiting`, up to the first one to keep."""
        awaiting = self.awaiting
        sent = self.notifications.w["sent"]
        before = self.t_max - MEMORY
        while awaiting:
            nid = next(iter(awaiting))
            if sent[awaiting[nid]] >= before:
                return
            del awaiting[nid]
            self.open_notifications.pop(nid, None)

    def _failed(self, e: NotificationFailed, t: float) -> None:
        n = self._open(e.notification_id)
        if n < 0:
            return
        cols = self.notifications.w
        cols["attempts"][n] = e.attempt
        final = e.permanent or e.retry_at is None
        cols["outcome"][n] = FAILED if final else RETRYING
        counts = self.outcome_events
        key = (cols["method"][n], "failed" if final else "retrying")
        counts[key] = counts.get(key, 0) + 1
        self.awaiting.pop(e.notification_id, None)
        if final:
            del self.open_notifications[e.notification_id]

    def _delivered(self, e: NotificationDelivered, t: float) -> None:
        n = self._open(e.notification_id)
        if n < 0:
            return
        del self.open_notifications[e.notification_id]
        self.awaiting.pop(e.notification_id, None)
        cols = self.notifications.w
        bad = e.status in FAILED_RECEIPTS
        cols["outcome"][n] = UNDELIVERED if bad else DELIVERED
        cols["receipt"][n] = t
        counts = self.outcome_events
        key = (cols["method"][n], "undelivered" if bad else "delivered")
        counts[key] = counts.get(key, 0) + 1

    def _cancelled(self, e: NotificationCancelled, t: float) -> None:
        n = self._open(e.notification_id)
        if n < 0:
            return
        del self.open_notifications[e.notification_id]
        self.awaiting.pop(e.notification_id, None)
        cols = self.notifications.w
        cols["outcome"][n] = CANCELLED
        counts = self.outcome_events
        key = (cols["method"][n], "cancelled")
        counts[key] = counts.get(key, 0) + 1

    # ------------------------------------------------------------------ maintenance

    def _maintenance_started(self, e: MaintenanceStarted, t: float) -> None:
        self.windows[e.window_id] = [self.names.code(e.service_id), _ts(e.start), _ts(e.end)]

    def _maintenance_ended(self, e: MaintenanceEnded, t: float) -> None:
        w = self.windows.get(e.window_id)
        if w is not None:
            w[2] = max(w[1], min(w[2], t))
