"""Rebuilding the state from a data folder: the newest valid snapshot, then every record
after it. Start-up and the replay tool both use it."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pager.core.analytics import Ledger
from pager.core.events import Event, decode
from pager.core.state import SystemState
from pager.store.base import EventLog

__all__ = ["CannotReplay", "LoadReport", "load_state"]

log = logging.getLogger("pager.replay")


class CannotReplay(Exception):
    """A record that reads well but does not fold into the state."""


@dataclass
class LoadReport:
    snapshot_seq: int | None = None
    replayed: int = 0


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading creates a great many objects that all live on; CPython's collector would
    rescan them again and again while they are made (it doubled start-up time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_state(log_: EventLog, *, use_snapshot: bool = True) -> tuple[SystemState, LoadReport]:
    with _collector_paused():
        return _load(log_, use_snapshot=use_snapshot)


def _load(log_: EventLog, *, use_snapshot: bool) -> tuple[SystemState, LoadReport]:
    report = LoadReport()
    state = SystemState()
    if use_snapshot:
        snap = log_.load_snapshot()
        if snap is not None:
            try:
                loaded = SystemState.from_snapshot(snap.state)
                if loaded.last_seq != snap.seq:
                    raise ValueError(f"holds state as of {loaded.last_seq}, named {snap.seq}")
                state = loaded
                report.snapshot_seq = snap.seq
            except (KeyError, TypeError, ValueError) as e:
                log.warning("snapshot %d unusable (%s): replaying the whole log", snap.seq, e)
    if state.analytics.missing_through:
        _backfill_analytics(log_, state)
    n = 0
    for rec in log_.read_from(state.last_seq + 1):
        try:
            state.apply(rec)
        except (KeyError, TypeError, ValueError) as e:
            raise CannotReplay(
                f"record {rec.seq} ({rec.type}) does not apply to the state: {e}. Every line "
                "of the log is whole, so this is a log written by another version of pager, "
                "or a bug; `pager replay --data-dir DIR --incident <subject>` shows the history "
                "it belongs to"
            ) from None
        n += 1
    report.replayed = n
    return state, report


def _backfill_analytics(log_: EventLog, state: SystemState) -> None:
    """A snapshot written before analytics existed: fold the log up to it into the ledger
    (once; the next snapshot holds it)."""
    upto = state.analytics.missing_through
    ledger = Ledger()
    for rec in log_.read_from(1):
        if rec.seq > upto:
            break
        ev = rec.event
        ledger.apply(ev if isinstance(ev, Event) else decode(rec.type, rec.data), rec.seq, rec.ts)
    state.analytics = ledger
    log.info("analytics: folded records 1 to %d in (the snapshot predates them)", upto)
