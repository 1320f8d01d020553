"""Keeping the analytics ledger: its snapshot (JSON-able, columns as base64 text) and back,
a frozen copy to read in another thread, and the recount of its running aggregates from the
columns (what start-up does after loading a snapshot).

A snapshot is made in two steps: `capture` on the event loop takes copies that the ledger's
fold never touches again (the columns' first rows, a memcpy each; lists and dictionaries of
immutable values), then `LedgerCapture.to_snapshot` turns them into the snapshot's JSON-able
form (base64, the lists of pairs) in the worker thread that writes the snapshot, a piece at a
time (pager/core/pacing.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..pacing import Pause, joined, pieces, still
from .columns import NONE, Names, Table, is_none
from .ledger import (
    FIRE_COLUMNS,
    INCIDENT_BLANKS,
    INCIDENT_COLUMNS,
    LEDGER_VERSION,
    MEMORY,
    NOTIFICATION_BLANKS,
    NOTIFICATION_COLUMNS,
    PAGE_COLUMNS,
    Ledger,
)
from .metrics import Aggregates
from .vocabulary import INTERRUPTING, SENT

__all__ = ["LedgerCapture", "capture", "from_snapshot", "frozen", "recount", "to_snapshot"]


def frozen(live: Ledger) -> Ledger:
    """A copy of `live` to read while it moves on (in another thread, say): the columns
    are copied (memcpy), the strings shared (they never change)."""
    led = Ledger.__new__(Ledger)
    led.names = live.names.copy()
    led.incidents = live.incidents.copy()
    led.incident_ids = list(live.incident_ids)
    led.incident_row = live.incident_row  # (read only to find a row; never iterated)
    led.notifications = live.notifications.copy()
    led.open_notifications = {}
    led.pages = live.pages.copy()
    led.fires = live.fires.copy()
    led.windows = {k: list(v) for k, v in live.windows.items()}
    led.last_resolved = OrderedDict()
    led.outcome_events = dict(live.outcome_events)
    led.bundles_sent = OrderedDict()
    led.awaiting = OrderedDict()
    led.aggregates = live.aggregates
    led._acks, led._ress = [], []
    led.last_seq = live.last_seq
    led.in_order, led.last_t, led.t_max = live.in_order, live.last_t, live.t_max
    led.missing_through = live.missing_through
    led._apply = {}
    return led


def to_snapshot(led: Ledger) -> dict[str, Any]:
    """The ledger as of now, as JSON-able copies (columns as base64 text), so the
    ledger may move on at once while a snapshot writer serializes it."""
    return capture(led).to_snapshot()


@dataclass(frozen=True, slots=True)
class LedgerCapture:
    """What a snapshot of the ledger holds, as copies the fold never changes (`capture`)."""

    last_seq: int
    in_order: bool
    last_t: float
    t_max: float
    names: list[str]
    incident_ids: list[str]
    incidents: Table  # copies of the first rows of each column
    notifications: Table
    open_notifications: dict[str, int]
    pages: Table
    fires: Table
    windows: list[list[Any]]  # [id, service code, start, end] (the fold changes its lists)
    last_resolved: dict[tuple[int, int], float]
    outcome_events: dict[tuple[int, str], int]
    bundles_sent: dict[str, float]

    def to_snapshot(self, pause: Pause = still) -> dict[str, Any]:
        """The snapshot's form of the ledger (`to_snapshot`), built a piece at a time with
        a `pause` between pieces (in the worker thread that writes the snapshot). What the
        ledger remembers for MEMORY is written without what it forgot already or would
        forget at the next look (the ledger treats both alike), so a snapshot does not
        depend on when it last looked."""
        before = self.t_max - MEMORY
        resolved = self.last_resolved.items()
        cols = self.notifications.cols
        outcome, sent = cols["outcome"], cols["sent"]
        return {
            "v": LEDGER_VERSION,
            "last_seq": self.last_seq,
            "in_order": self.in_order,
            "last_t": self.last_t if self.last_t != float("-inf") else None,
            "t_max": self.t_max if self.t_max != float("-inf") else None,
            "names": self.names,
            "incident_ids": self.incident_ids,
            "incidents": self.incidents.to_snapshot(pause),
            "notifications": self.notifications.to_snapshot(pause),
            # pairs as tuples (the same JSON arrays as lists, for less work)
            "open_notifications": joined(
                [(nid, n) for nid, n in part if outcome[n] != SENT or sent[n] >= before]
                for part in pieces(self.open_notifications.items(), pause)
            ),
            "pages": self.pages.to_snapshot(pause),
            "fires": self.fires.to_snapshot(pause),
            "windows": self.windows,
            "last_resolved": joined(
                [[s, k, t] for (s, k), t in part if t >= before] for part in pieces(resolved, pause)
            ),
            "outcome_events": [[m, o, n] for (m, o), n in self.outcome_events.items()],
            # (named anew: a pager before these had instants reads "bundles_sent", ids)
            "bundles_first_sent": [[b, t] for b, t in self.bundles_sent.items() if t >= before],
        }


def capture(led: Ledger) -> LedgerCapture:
    """Copies of what the snapshot of `led` holds, quick enough for the event loop (some
    2 ms at 36,000 incidents): the columns' first rows (memcpy), the lists and dictionaries
    of immutable values (references). The rest, `LedgerCapture.to_snapshot`, may run in
    another thread while the ledger moves on."""
    return LedgerCapture(
        led.last_seq,
        led.in_order,
        led.last_t,
        led.t_max,
        list(led.names.strings),
        list(led.incident_ids),
        led.incidents.copy(),
        led.notifications.copy(),
        dict(led.open_notifications),
        led.pages.copy(),
        led.fires.copy(),
        [[k, *v] for k, v in led.windows.items()],
        dict(led.last_resolved),
        dict(led.outcome_events),
        dict(led.bundles_sent),
    )


def from_snapshot(data: Mapping[str, Any] | None, last_seq: int) -> Ledger:
    """The ledger a snapshot holds; without one (a snapshot older than analytics), an
    empty ledger that says it lacks the records up to `last_seq`."""
    led = Ledger()
    if data is None:
        led.missing_through = led.last_seq = last_seq
        return led
    if data.get("v") != LEDGER_VERSION:
        raise ValueError(f"analytics ledger version {data.get('v')!r} is not {LEDGER_VERSION}")
    led.last_seq = data["last_seq"]
    led.in_order = data["in_order"]
    led.last_t = data["last_t"] if data["last_t"] is not None else float("-inf")
    t_max = data.get("t_max", data["last_t"])  # (written since the ledger forgets)
    led.t_max = t_max if t_max is not None else float("-inf")
    led.names = Names(data["names"])
    led.incident_ids = list(data["incident_ids"])
    led.incident_row = {iid: i for i, iid in enumerate(led.incident_ids)}
    led.incidents = Table.from_snapshot(INCIDENT_COLUMNS, data["incidents"], INCIDENT_BLANKS)
    if len(led.incidents) != len(led.incident_ids):
        raise ValueError("analytics: incident ids and rows differ in number")
    led.notifications = Table.from_snapshot(
        NOTIFICATION_COLUMNS, data["notifications"], NOTIFICATION_BLANKS
    )
    led.open_notifications = {k: v for k, v in data["open_notifications"]}
    outcome, sent = led.notifications.cols["outcome"], led.notifications.cols["sent"]
    awaiting = [
        (sent[n], nid, n) for nid, n in led.open_notifications.items() if outcome[n] == SENT
    ]
    awaiting.sort(key=lambda a: a[0])
    led.awaiting = OrderedDict((nid, n) for _, nid, n in awaiting)
    led.pages = Table.from_snapshot(PAGE_COLUMNS, data["pages"])
    led.fires = Table.from_snapshot(FIRE_COLUMNS, data["fires"])
    led.windows = {w[0]: list(w[1:]) for w in data["windows"]}
    resolved = data["last_resolved"]
    if "t_max" not in data:  # written before the ledger forgot: its order is not the instants'
        resolved = sorted(resolved, key=lambda r: r[2])
    led.last_resolved = OrderedDict(((s, k), t) for s, k, t in resolved)
    led.outcome_events = {(m, o): n for m, o, n in data["outcome_events"]}
    if "bundles_first_sent" in data:
        led.bundles_sent = OrderedDict((b, t) for b, t in data["bundles_first_sent"])
    else:  # written before the instants: remembered from the snapshot's last record on
        led.bundles_sent = OrderedDict((b, led.t_max) for b in data.get("bundles_sent", ()))
    led.aggregates = recount(led)
    return led


def recount(led: Ledger) -> Aggregates:
    """The running aggregates, computed from the columns in one pass."""
    agg = Aggregates()
    c = led.incidents.cols
    for svc, opened, acked, resolved, state in zip(
        c["service"], c["opened"], c["acked"], c["resolved"], c["state"], strict=True
    ):
        key = (svc, state)
        agg.states[key] = agg.states.get(key, 0) + 1
        if not is_none(acked):
            agg.acknowledged(svc, acked - opened)
        if not is_none(resolved):
            agg.resolved(svc, resolved - opened)
    for user in led.pages.cols["user"]:
        agg.paged(user)
    interrupting = {led.names.find(m) for m in INTERRUPTING} - {NONE}
    n = led.notifications.cols
    for kind, method, user, sent, dup in zip(
        n["kind"], n["method"], n["user"], n["sent"], n["dup"], strict=True
    ):
        if kind == 0 and method in interrupting and not is_none(sent) and dup != 1:
            agg.interrupted(user)
    return agg
