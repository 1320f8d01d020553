"""The dry run: who would be notified, by which method, when, for one alert — computed by
running the real decision logic (`decide`) on virtual time, so the answer cannot drift from
what pager actually does. Nothing is journaled and nothing is sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .commands import Open, Tick
from .events import IncidentEscalated, IncidentOpened, NotificationRequested
from .incident import decide_full, next_deadline
from .model import Incident
from .redaction import shown_address
from .rules import Context
from .vocabulary import NotificationKind

__all__ = ["DryRun", "Step", "simulate"]

HORIZON = timedelta(days=2)
MAX_STEPS = 500


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    kind: str  # "opened", "escalate", "notify", "status"
    level: int | None = None
    round: int | None = None
    user_id: str | None = None
    method: str | None = None
    address: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class DryRun:
    incident: Incident | None
    steps: tuple[Step, ...]
    note: str | None = None


def simulate(open_cmd: Open, context_at: Callable[[datetime], Context], start: datetime) -> DryRun:
    """Open the incident at `start`, then let time pass (nobody acknowledges) until the
    policy and every person's rules are exhausted, or two days have passed."""
    inc: Incident | None = None
    steps: list[Step] = []
    at = start
    not_paging: str | None = None  # why, when the incident opens without paging
    for i in range(MAX_STEPS):
        ctx = context_at(at)
        # decide_full evolves the incident through its events as it decides them
        events, inc = decide_full(inc, open_cmd if i == 0 else Tick(), ctx)
        for ev in events:
            if isinstance(ev, IncidentOpened) and not ev.paging:
                not_paging = ev.reason
            step = _step(ev, at)
            if step is not None:
                steps.append(step)
        if inc is None:
            return DryRun(None, (), "the alert would open no incident")
        nd = next_deadline(inc)
        if nd is None or nd > start + HORIZON:
            break
        at = max(nd, at)
    note = None
    if inc is not None and not inc.paging:
        note = "nobody would be paged: " + (not_paging or "paging is off for this incident")
    elif inc is not None and inc.page_at is not None:
        note = f"paging would wait until {inc.page_at.isoformat()}"
    return DryRun(inc, tuple(steps), note)


def _step(ev: object, at: datetime) -> Step | None:
    if isinstance(ev, IncidentOpened):
        return Step(at, "opened", text=f"incident opened ({ev.severity}, {ev.urgency} urgency)")
    if isinstance(ev, IncidentEscalated):
        who = ", ".join(ev.targets or ()) or "nobody on call"
        text = (
            f"level {ev.level + 1}" + (f" (round {ev.round + 1})" if ev.round else "") + f": {who}"
        )
        if ev.paged:
            text += f" (paging {', '.join(ev.paged)})"
        return Step(at, "escalate", ev.level + 1, ev.round + 1, text=text)
    if isinstance(ev, NotificationRequested):
        if ev.kind == NotificationKind.PAGE:
            return Step(
                at, "notify", user_id=ev.user_id, method=ev.method, address=ev.address,
                text=f"notify {ev.user_id} by {ev.method}"
                + (f" ({shown_address(ev.address)})" if ev.address else ""),
            )  # fmt: skip
        return Step(
            at, "status", method=ev.method, address=ev.address, text=f"status update to {ev.method}"
        )
    return None
