"""The analytics ledger of a data folder, read without running the service and without
changing the folder (no lock, a torn last line left for pager to cut): the newest snapshot
that holds a ledger, then every record after it — the same fold start-up makes. For `pager
report --data-dir`."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from pager.core.analytics import Ledger, from_snapshot
from pager.core.events import Event, OverrideAdded, OverrideRemoved, decode
from pager.core.overrides import ApiOverride
from pager.store.segments import iter_records, list_segments
from pager.store.snapshots import list_snapshots, read_snapshot

__all__ = ["read_ledger"]

log = logging.getLogger("pager.replay")


def read_ledger(data_dir: Path) -> tuple[Ledger, dict[str, ApiOverride]]:
    """The ledger, and the schedule overrides made through the API (hours on call)."""
    ledger = Ledger()
    overrides: dict[str, ApiOverride] = {}
    for snap in list_snapshots(data_dir / "snapshots"):
        try:
            found = read_snapshot(snap.path)
            data = found.state.get("analytics") if isinstance(found.state, dict) else None
            if data is None:
                continue  # older than analytics: the log is folded from its start
            ledger = from_snapshot(data, found.seq)
            for oid, sid, user, start, end, by in found.state.get("overrides", ()):
                overrides[oid] = ApiOverride(
                    oid, sid, user, datetime.fromisoformat(start), datetime.fromisoformat(end), by
                )
            break
        except (OSError, KeyError, TypeError, ValueError) as e:
            log.warning("skipping snapshot %s: %s", snap.path, e)
            ledger, overrides = Ledger(), {}
    segments = list_segments(data_dir / "events")
    for rec in iter_records(segments, ledger.last_seq + 1, str(data_dir), on_torn=lambda t: None):
        ev = rec.event
        event = ev if isinstance(ev, Event) else decode(rec.type, rec.data)
        ledger.apply(event, rec.seq, rec.ts)
        if isinstance(event, OverrideAdded):
            overrides[event.override_id] = ApiOverride(
                event.override_id, event.schedule_id, event.user, event.start, event.end, event.by
            )
        elif isinstance(event, OverrideRemoved):
            overrides.pop(event.override_id, None)
    return ledger, overrides
