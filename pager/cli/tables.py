"""Plain-text tables for the REST client (`pager incidents`, `show`, `oncall`): what the
API's JSON says, laid out for a person at a terminal. Scripts use `--json` instead, which
prints the API's answer as it came."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["incident_line", "incident_text", "incidents_table", "oncall_table", "table"]


def when(raw: Any) -> str:
    """An instant of the API (ISO 8601, UTC) as `2026-12-07 02:34Z`; '-' for none."""
    if not raw:
        return "-"
    try:
        t = datetime.fromisoformat(str(raw)).astimezone(UTC)
    except ValueError:
        return str(raw)
    return t.strftime("%Y-%m-%d %H:%MZ")


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, width: int | None = None) -> str:
    """Columns padded to their widest cell; the last column is cut to fit `width`."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=True))
        last = r[-1]
        if width is not None:
            room = max(width - len(line) - 2, 10)
            if len(last) > room:
                last = last[: room - 1] + "…"
        lines.append(f"{line}  {last}".rstrip() if line else last)
    return "\n".join(lines)


def _terminal_width() -> int | None:
    size = shutil.get_terminal_size(fallback=(0, 0))
    return size.columns or None


def incidents_table(incidents: Sequence[dict[str, Any]]) -> str:
    if not incidents:
        return "no incidents"
    rows = [
        (
            str(i.get("id")),
            str(i.get("short_code") or ""),
            str(i.get("status")),
            str(i.get("severity") or ""),
            str(i.get("service")),
            when(i.get("created_at")),
            str(i.get("title") or ""),
        )
        for i in incidents
    ]
    header = ("ID", "CODE", "STATUS", "SEVERITY", "SERVICE", "OPENED", "TITLE")
    return table(header, rows, width=_terminal_width())


def incident_line(inc: dict[str, Any], action: str) -> str:
    """One line after an action: `inc-3 acknowledged: Disk full on db-1`."""
    return f"{inc.get('id')} {action}: {inc.get('title')} (now {inc.get('status')})"


def incident_text(inc: dict[str, Any]) -> str:
    """`pager show`: the incident, its alerts and its timeline."""
    lines = [
        f"{inc.get('id')} ({inc.get('short_code')})  {inc.get('title')}",
        f"  status      {inc.get('status')}"
        + (f" by {inc['acknowledged_by']}" if inc.get("status") == "acknowledged" else "")
        + (f" by {inc['resolved_by']}" if inc.get("status") == "resolved" else ""),
        f"  service     {inc.get('service')}  severity {inc.get('severity')}  urgency {inc.get('urgency')}",
        f"  opened      {when(inc.get('created_at'))}   updated {when(inc.get('updated_at'))}",
    ]
    if inc.get("snoozed_until"):
        lines.append(f"  snoozed     until {when(inc['snoozed_until'])}")
    esc = inc.get("escalation")
    if esc:
        nxt = f", next step {when(esc['next_at'])}" if esc.get("next_at") else ""
        lines.append(
            f"  escalation  {esc.get('policy')} level {esc.get('level')} round {esc.get('round')}{nxt}"
        )
    if inc.get("history_deleted"):
        lines.append(f"  history     {inc['history_deleted']}")
    alerts = inc.get("alerts") or []
    if alerts:
        lines.append("")
        lines.append(
            table(
                ("ALERT", "STATUS", "COUNT", "LAST SEEN", "SUMMARY"),
                [
                    (
                        str(a.get("key")),
                        str(a.get("status")),
                        str(a.get("count")),
                        when(a.get("last_seen")),
                        str(a.get("summary") or ""),
                    )
                    for a in alerts
                ],
                width=_terminal_width(),
            )
        )
    timeline = inc.get("timeline") or []
    if timeline:
        lines.append("")
        lines.append(
            table(
                ("WHEN", "WHAT"),
                [(when(t.get("at")), str(t.get("text"))) for t in timeline],
                width=_terminal_width(),
            )
        )
    notifications = inc.get("notifications") or []
    if notifications:
        lines.append("")
        lines.append(
            table(
                ("NOTIFICATION", "TO", "VIA", "STATUS"),
                [
                    (
                        str(n.get("id")),
                        str(n.get("user")),
                        str(n.get("method")),
                        str(n.get("status")),
                    )
                    for n in notifications
                ],
            )
        )
    return "\n".join(lines)


def oncall_table(oncall: Sequence[dict[str, Any]]) -> str:
    if not oncall:
        return "no schedules"
    rows = []
    for o in oncall:
        if o.get("gap"):
            nxt = o.get("next") or {}
            who = "(nobody)"
            until = f"next: {nxt.get('name')} from {nxt['start']['local']}" if nxt else ""
        else:
            shift = o.get("shift") or {}
            who = f"{o.get('name')} ({o.get('user')})"
            until = shift.get("end", {}).get("local", "")
        rows.append((str(o.get("schedule")), who, until))
    return table(("SCHEDULE", "ON CALL", "UNTIL"), rows)
