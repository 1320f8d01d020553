"""What the soak checks once pager has stopped: the data folder (read with pager's own
loader, and `pager replay --verify`) against what the soak process saw.

- every alert answered 2xx is there, once: its dedup key has exactly one incident, whose
  alert counts at least the triggers answered 2xx and at most the triggers sent (one that
  got no answer because pager died under it may or may not have been journaled);
- every acknowledgement answered 2xx held: the incident is acknowledged;
- no page was lost: every incident asked for its two pages (alice by webhook, bob by
  Slack), and each page is sent and reached its stand-in (alone, or in the bundle that
  carried it in storm mode) or was cancelled because the incident was acknowledged first;
- none was sent more than once per crash: two arrivals of one message (a page or a bundle)
  at a stand-in have a SIGKILL between them (at-least-once delivery across a crash, never
  twice otherwise).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bench_lib.disk import percentile
from bench_lib.table import Row, Table

from pager.core.notifications import Notification
from pager.replay.load import load_state
from pager.store.jsonl import JsonlLog

if TYPE_CHECKING:
    from .run import Ledger

__all__ = ["check"]

# a page read by the stand-in this long after a kill may still be one the killed pager
# wrote: a start-up takes longer than this, so a resend after it cannot be that close
KILL_SLACK = 1.0


def _crash_between(kills: list[float], a: float, b: float) -> bool:
    return any(a - KILL_SLACK < k < b for k in kills)


def _examples(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n})" if len(items) > n else "")


def check(
    table: Table,
    data: Path,
    ledger: Ledger,
    slack: Mapping[str, list[float]],
    hooks: Mapping[str, list[float]],
    drained: bool,
) -> None:
    log = JsonlLog.open(data)
    try:
        state, _ = load_state(log)
    finally:
        log.release()
    verify = subprocess.run(
        [sys.executable, "-m", "pager", "replay", "--data-dir", str(data), "--verify"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    kills = ledger.kills
    table.add(
        Row(
            "SIGKILLs",
            f"{len(kills):,}",
            note=f"{ledger.early_kills} during start-up (before /readyz), the rest under load; "
            f"{ledger.torn} start-ups cut a torn last line",
        )
    )
    ready = sorted(ledger.ready_after)
    if ready:
        table.add(
            Row(
                "  start-up to ready after a kill: p50 / max",
                f"{percentile(ready, 50):.2f} s / {ready[-1]:.2f} s",
                note=f"{len(ready)} start-ups that reached /readyz; the log ends at record "
                f"{state.last_seq:,}",
            )
        )

    # -- alerts
    by_key: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for inc in state.incidents.values():
        by_key.setdefault(inc.dedup_key, []).append(inc.id)
        alert = inc.alerts.get(inc.dedup_key)
        counts[inc.dedup_key] = alert.count if alert is not None else 0
    answered = [k for k, n in ledger.acked.items() if n]
    missing = [k for k in answered if k not in by_key]
    twins = [k for k, ids in by_key.items() if len(ids) > 1]
    miscounted = [
        f"{k}: {counts.get(k, 0)} (sent {ledger.sent[k]}, 2xx {ledger.acked[k]})"
        for k in answered
        if k in by_key and not ledger.acked[k] <= counts.get(k, 0) <= ledger.sent[k]
    ]
    strays = [k for k in by_key if k not in ledger.sent]
    bad = missing + twins + miscounted + strays
    table.add(
        Row(
            "alerts answered 2xx that are there, once",
            f"{len(answered) - len(set(missing) | set(twins)):,} of {len(answered):,}",
            "all",
            not bad,
            f"{sum(ledger.sent.values()):,} triggers sent for {sum(1 for n in ledger.sent.values() if n):,} "
            f"dedup keys, "
            f"{sum(ledger.acked.values()):,} answered 2xx, {ledger.unanswered:,} unanswered (a "
            f"kill under them); refused: {dict(ledger.refused) or 'none'}"
            + (f"; MISSING {_examples(missing)}" if missing else "")
            + (f"; TWICE {_examples(twins)}" if twins else "")
            + (f"; COUNTS OFF {_examples(miscounted)}" if miscounted else "")
            + (f"; NEVER SENT {_examples(strays)}" if strays else ""),
        )
    )

    # -- acknowledgements
    lost_acks = [
        iid
        for iid in sorted(ledger.acks)
        if (inc := state.incidents.get(iid)) is None or inc.status.value != "acknowledged"
    ]
    table.add(
        Row(
            "acknowledgements answered 2xx that held",
            f"{len(ledger.acks) - len(lost_acks):,} of {len(ledger.acks):,}",
            "all",
            not lost_acks,
            f"{ledger.ack_requests:,} acknowledge requests"
            + (f"; NOT HELD {_examples(lost_acks)}" if lost_acks else ""),
        )
    )

    # -- pages, alone or in bundles
    pages = [n for n in state.notifications.by_id.values() if n.kind == "page"]
    per_incident: dict[str, set[str]] = {}
    for n in pages:
        per_incident.setdefault(n.incident_id, set()).add(n.method)
    unasked = [iid for iid in state.incidents if per_incident.get(iid) != {"webhook", "slack"}]

    def carrier(n: Notification) -> str:
        """The message that carries page `n` at its stand-in."""
        if n.bundle_id is not None:
            return f"bundle:{n.bundle_id}"
        return f"page:{n.id}" if n.method == "webhook" else f"page:{n.incident_id}"

    def arrivals(n: Notification) -> list[float]:
        return list((hooks if n.method == "webhook" else slack).get(carrier(n), []))

    cancelled = [n for n in pages if n.status == "cancelled"]
    bundled = [n for n in pages if n.bundle_id is not None]
    lost = [
        f"{n.id} ({n.status})"
        for n in pages
        if n.status not in ("sent", "delivered", "cancelled")
        or (n.status != "cancelled" and not arrivals(n))
    ]
    again = twice = 0
    twice_ids = []
    messages = {**{f"webhook {k}": v for k, v in hooks.items()}}
    messages.update({f"slack {k}": v for k, v in slack.items()})
    for key, times in messages.items():
        for a, b in itertools.pairwise(sorted(times)):
            if _crash_between(kills, a, b):
                again += 1
            else:
                twice += 1
                twice_ids.append(key)
    reached = sum(1 for n in pages if arrivals(n))
    table.add(
        Row(
            "pages lost",
            f"{len(lost) + len(unasked):,}",
            "0",
            not lost and not unasked and drained,
            f"{len(pages):,} pages asked for ({len(state.incidents):,} incidents, two each), "
            f"{reached:,} reached their stand-in ({len(bundled):,} of them in "
            f"{len(state.bundles.by_id):,} bundles), {len(cancelled):,} cancelled "
            "(acknowledged first)"
            + ("" if drained else "; pager still had pages to send 120 s after the load")
            + (f"; LOST {_examples(lost)}" if lost else "")
            + (f"; NOT ASKED FOR {_examples(unasked)}" if unasked else ""),
        )
    )
    table.add(
        Row(
            "messages sent again with a SIGKILL between",
            f"{again:,}",
            note="at-least-once across a crash: a message (a page, or a bundle of pages) "
            "sent but not yet journaled as sent when pager was killed goes out again after "
            "the restart",
        )
    )
    table.add(
        Row(
            "messages sent twice without a SIGKILL between",
            f"{twice:,}",
            "0",
            twice == 0,
            _examples(twice_ids) if twice_ids else "",
        )
    )

    # -- the log itself
    clean = verify.returncode == 0 and "clean" in verify.stdout
    table.add(
        Row(
            "pager replay --verify",
            "clean" if clean else "PROBLEMS",
            "clean",
            clean,
            (verify.stdout.strip().splitlines() or [""])[-1][:200]
            if clean
            else (verify.stdout + verify.stderr).strip()[:400],
        )
    )
    table.add(
        Row(
            "graceful stop after the last restart",
            f"exit {ledger.final_exit}",
            "exit 0",
            ledger.final_exit == 0,
        )
    )
