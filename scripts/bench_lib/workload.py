"""Realistic journal content, made by the real core.

Incidents go through the lifecycle a busy service sees: an alert opens an incident (opened,
alert triggered, escalated to the on-call person), the alert fires again, someone
acknowledges from Slack, adds a note, resolves. Every event comes out of
`pager.core.incident.decide` and is encoded with `pager.core.events.encode`, so a fold of them
(`SystemState.apply`) is exactly what start-up does. One incident in `OPEN_EVERY` is left
open (triggered, escalating), so start-up has actors to spawn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pager.core.commands import (
    Acknowledge,
    AddNote,
    Command,
    NewIncident,
    Open,
    Resolve,
    TriggerAlert,
)
from pager.core.events import (
    SCHEMA_VERSION,
    AlertsUpdated,
    Event,
    NotificationRequested,
    NotificationSent,
    encode,
)
from pager.core.incident import decide, evolve
from pager.core.model import Incident, short_code
from pager.core.rules import Context, RulesBook
from pager.store.base import Draft

__all__ = [
    "OPEN_EVERY",
    "RULES",
    "SERVICE",
    "T0",
    "alert_data",
    "context",
    "core_events",
    "drafts",
    "incident_commands",
    "lifecycle",
]

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
OPEN_EVERY = 100
POOL = 1000  # incidents the core makes; the log repeats them renumbered
STEP = timedelta(seconds=1)  # wall time between consecutive events of the generated log


def _rules() -> RulesBook:
    from pathlib import Path

    from pager.config import load_config_text
    from pager.config.compile import compile_rules

    from .config import config_text

    return compile_rules(load_config_text(config_text(Path("bench-data")), source="bench"))


# The rules pager runs the benchmarks with (config.py), compiled as the service compiles them.
RULES = _rules()
SERVICE = RULES.service("checkout")
_CONTEXT_FIELDS = {f.name for f in dataclasses.fields(Context)}


def context(now: datetime) -> Context:
    """What an incident actor hands `decide` for the bench service (no maintenance)."""
    kw: dict[str, Any] = {"service": SERVICE, "now": now, "oncall": RULES.oncall}
    if "users" in _CONTEXT_FIELDS and hasattr(RULES, "users"):
        kw["users"] = RULES.users
    return Context(**kw)


def _trigger(n: int, again: bool) -> TriggerAlert:
    return TriggerAlert(
        key=f"disk-full-db-{n % 97}-{n}",
        summary=f"Disk usage {97 if again else 95}% on db-{n % 97}.prod (/var/lib/postgresql)",
        severity="critical",
        source=f"db-{n % 97}.prod.example.net",
        details={
            "component": "postgresql",
            "group": "prod-db",
            "class": "disk",
            "custom_details": {"mount": "/var/lib/postgresql", "used_pct": 97.3},
        },
    )


def incident_commands(n: int) -> list[Command]:
    """The commands one incident (number `n`) receives, in order."""
    first = _trigger(n, False)
    cmds: list[Command] = [
        Open(
            new=NewIncident(
                incident_id=f"inc-{n}",
                number=n,
                service_id=SERVICE.id,
                dedup_key=first.key,
                integration="pagerduty",
            ),
            first=first,
        ),
        _trigger(n, True),
    ]
    if n % OPEN_EVERY:
        cmds += [
            Acknowledge(by="alice", via="slack"),
            AddNote(text="Rotating WAL archive; disk back to 61%.", by="alice", via="slack"),
            Resolve(by="alice", via="slack"),
        ]
    return cmds


def core_events(incidents: int) -> list[tuple[datetime, Event]]:
    """(timestamp, event) pairs of incidents 1..`incidents`, straight from `decide`."""
    out: list[tuple[datetime, Event]] = []
    at = T0
    for n in range(1, incidents + 1):
        inc: Incident | None = None
        for cmd in incident_commands(n):
            if isinstance(cmd, TriggerAlert):
                cmd = dataclasses.replace(cmd, occurred_at=at)
            elif isinstance(cmd, Open) and isinstance(cmd.first, TriggerAlert):
                cmd = dataclasses.replace(cmd, first=dataclasses.replace(cmd.first, occurred_at=at))
            ctx = context(at)
            for ev in decide(inc, cmd, ctx):
                inc = evolve(inc, ev, 0, at)
                out.append((at, ev))
                if isinstance(ev, NotificationRequested):
                    # what the delivery actor journals once the provider took it
                    sent = NotificationSent(
                        incident_id=ev.incident_id,
                        notification_id=ev.notification_id,
                        attempt=1,
                        provider_id=f"console-{ev.notification_id}",
                        method=ev.method,
                    )
                    inc = evolve(inc, sent, 0, at)
                    out.append((at, sent))
            at += STEP
    return out


def renumbered(
    ev: Any, data: dict[str, Any], copy: int, pool: int, shift: timedelta
) -> tuple[str, dict[str, Any]]:
    """The subject and data (`data`: `ev` encoded) of `ev` in copy `copy` of a pool of
    `pool` incidents: its incident renumbered (ids, and ids made from them, "inc-7-n1";
    number and short code; dedup keys) and every instant moved by `shift`. Copy 0 as is."""
    d = dict(data)
    if not copy:
        return ev.subject, d
    old = ev.subject
    num = int(old[4:]) + pool * copy
    iid = f"inc-{num}"
    for k, v in d.items():
        if isinstance(v, str) and (v == old or v.startswith(old + "-")):
            d[k] = iid + v[len(old) :]
    if "number" in d:
        d["number"] = num
        d["short_code"] = short_code(num)
    for k in ("dedup_key", "key"):
        if k in d:
            d[k] = f"{d[k]}.{copy}"
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = v + shift
    return iid, d


def drafts(limit: int, chunk: int, pool: int = POOL) -> Iterator[list[Draft]]:
    """`limit` journal drafts, `chunk` at a time.

    The real core makes a pool of `pool` incidents (`core_events`); the log is that pool
    over and over, each copy renumbered (incident ids, numbers, short codes, dedup keys) and
    shifted in time (timestamps and every instant in the data), so each copy's events are
    what the core would have made for those incidents, and the whole log folds cleanly. (The
    core makes about 25,000 events/s; a million would take most of a minute.)"""
    base = [(at, ev, encode(ev)) for at, ev in core_events(pool)]
    span = (base[-1][0] - base[0][0]) + STEP
    out: list[Draft] = []
    made = 0
    copy = 0
    while True:
        shift = span * copy
        for at, ev, data in base:
            iid, d = renumbered(ev, data, copy, pool, shift)
            out.append(Draft(ev.TYPE, iid, at + shift, d, SCHEMA_VERSION))
            made += 1
            if made >= limit or len(out) >= chunk:
                yield out
                out = []
                if made >= limit:
                    return
        copy += 1


def lifecycle() -> str:
    """The event types of one resolved incident, e.g. for a note under a table."""
    types = [ev.TYPE for _, ev in core_events(1)]
    return ", ".join(types) + f" ({len(types)} events)"


def alert_data(n: int) -> dict[str, Any]:
    """The data of one `alerts.updated` event: an alert firing again (a journal line of
    about 310 bytes)."""
    return encode(
        AlertsUpdated(
            incident_id=f"inc-{n}",
            fired=(
                {
                    "key": f"disk-full-db-{n % 97}-{n}",
                    "summary": f"Disk usage 95% on db-{n % 97}.prod (/var/lib/postgresql)",
                    "severity": "critical",
                    "source": f"db-{n % 97}.prod.example.net",
                },
            ),
        )
    )
