"""The report as text tables for people: what `pager report` prints and what a scheduled
report posts to Slack or sends by email. Made from the report's JSON form (`report()` or
`GET /api/v1/analytics`), so it reads the same wherever the numbers came from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["duration", "render_text", "table"]


def duration(seconds: float | None) -> str:
    """`1h 05m`, `3m 04s`, `45s`, `2d 3h`; `-` for none."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> list[str]:
    """Aligned columns: the first left-aligned, the others right-aligned (numbers)."""
    cells = [[str(h) for h in header]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    out = []
    for n, c in enumerate(cells):
        parts = [c[0].ljust(widths[0])] + [
            v.rjust(w) for v, w in zip(c[1:], widths[1:], strict=True)
        ]
        out.append(indent + "  ".join(parts).rstrip())
        if n == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return out


def _when(value: Any) -> str:
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def render_text(r: dict[str, Any], title: str = "pager on-call report") -> str:
    inc, esc = r["incidents"], r["escalations"]
    mtta, mttr = r["mtta_seconds"], r["mttr_seconds"]
    scope = f"service {r['service']}" if r.get("service") else "all services"
    lines = [
        f"{title}: {_when(r['from'])} to {_when(r['to'])} ({scope})",
        "",
        f"Incidents: {inc['opened']} opened, {inc['acknowledged']} acknowledged, "
        f"{inc['resolved']} resolved ({inc['auto_resolved']} by themselves), "
        f"{inc['unacknowledged']} never acknowledged, {inc['reopened']} reopened, "
        f"{inc['open']} still open",
        f"Time to acknowledge: mean {duration(mtta['mean'])}, median {duration(mtta['p50'])}, "
        f"p90 {duration(mtta['p90'])}",
        f"Time to resolve:     mean {duration(mttr['mean'])}, median {duration(mttr['p50'])}, "
        f"p90 {duration(mttr['p90'])}",
        f"Escalations: {esc['total']} ({esc['timeout']} on timeout, {esc['manual']} by hand); "
        f"{esc['reached_last_level']} incidents reached the last level",
    ]
    if r.get("maintenance_seconds"):
        lines.append(f"Maintenance: {duration(r['maintenance_seconds'])}")
    if r["services"]:
        lines += ["", "Services"]
        lines += table(
            ("service", "opened", "acked", "resolved", "auto", "MTTA p50", "MTTR p50", "esc."),
            [
                (s["service"], s["opened"], s["acknowledged"], s["resolved"], s["auto_resolved"],
                 duration(s["mtta_seconds"]["p50"]), duration(s["mttr_seconds"]["p50"]),
                 s["escalations"]["total"])
                for s in r["services"]
            ],
        )  # fmt: skip
    noise = r["noise"]
    if noise["alerts"]:
        lines += ["", "Noisiest alerts"]
        lines += table(
            ("service / alert", "firings", "incidents"),
            [
                (f"{a['service']} / {a['name']}", a["alerts"], a["incidents"])
                for a in noise["alerts"]
            ],
        )
    quick = noise["resolved_by_source_quickly"]
    flap = noise["flapping"]
    if quick["incidents"] or flap["incidents"]:
        lines.append("")
        lines.append(
            f"Tuning candidates: {quick['incidents']} incidents resolved by their source within "
            f"{duration(quick['window_seconds'])} with nobody acting; {flap['incidents']} "
            f"reopened within {duration(flap['window_seconds'])} (flapping)"
        )
    people = [p for p in r["people"] if p["pages"]["total"] or p["interruptions"]["total"]
              or p["oncall_hours"]]  # fmt: skip
    if people:
        lines += ["", "People (hours on their own clock: business 08-18 Mon-Fri, sleep 22-08)"]
        lines += table(
            ("person", "pages", "interruptions", "business", "off hours", "sleep", "on call"),
            [
                (p["user"], p["pages"]["total"], p["interruptions"]["total"],
                 p["interruptions"]["business"], p["interruptions"]["off_hours"],
                 p["interruptions"]["sleep"], f"{p['oncall_hours']:g}h")
                for p in people
            ],
        )  # fmt: skip
        night = [
            f"{p['user']} ({p['interruptions']['sleep']})"
            for p in people
            if p["interruptions"]["sleep"]
        ]
        lines.append("")
        lines.append("Woken at night: " + (", ".join(night) if night else "nobody"))
    rotations = [x for x in r.get("rotations", ()) if x["pages"]]
    if rotations:
        lines += ["", "Rotations"]
        lines += table(
            ("schedule", "pages", "outside business hours", "share"),
            [(x["schedule"], x["pages"], x["outside_business_hours"],
              _pct(x["share_outside_business_hours"])) for x in rotations],
        )  # fmt: skip
    methods = r["delivery"]["methods"]
    if methods:
        lines += ["", "Delivery"]
        lines += table(
            ("method", "requested", "sent", "delivered", "failed", "success", "latency p50"),
            [
                (m["method"], m["requested"], m["sent"], m["delivered"],
                 m["failed"] + m["undelivered"], _pct(m["success_rate"]),
                 duration(m["latency_seconds"]["p50"]))
                for m in methods
            ],
        )  # fmt: skip
    via = r["delivery"]["acknowledged_via"]
    if via:
        lines.append("")
        lines.append("Acknowledged via: " + ", ".join(f"{k} {v}" for k, v in via.items()))
    return "\n".join(lines) + "\n"
