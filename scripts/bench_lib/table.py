"""Plain-text tables with aligned columns, and the figures' formatting."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Row", "Table", "fmt_ms", "fmt_rate"]


def fmt_rate(x: float, unit: str = "/s") -> str:
    return f"{x:,.0f}{unit}"


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    if ms >= 100:
        return f"{ms:,.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


@dataclass
class Row:
    what: str
    figure: str
    target: str = "-"
    met: bool | None = None  # None: no target
    note: str = ""
    error: bool = False  # the measurement itself went wrong (errors, non-2xx)

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERRORS"
        if self.met is None:
            return "-"
        return "yes" if self.met else "NO"


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)  # printed loudly under the table

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def render(self) -> str:
        head = ("measurement", "result", "target", "met", "notes")
        cells = [head] + [(r.what, r.figure, r.target, r.verdict, r.note) for r in self.rows]
        widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
        # right-align the figures so digits line up; everything else left-aligned
        lines = [self.title, "=" * len(self.title)]
        for n, c in enumerate(cells):
            parts = [
                c[0].ljust(widths[0]),
                c[1].rjust(widths[1]) if n else c[1].ljust(widths[1]),
                c[2].ljust(widths[2]),
                c[3].ljust(widths[3]),
                c[4],
            ]
            lines.append("  ".join(parts).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths[:4]) + "  " + "-" * widths[4])
        for note in self.notes:
            lines.append(f"  note: {note}")
        for alarm in self.alarms:
            bar = "!" * 78
            lines += [bar, f"!!! {alarm}", bar]
        return "\n".join(lines)

    @property
    def failed(self) -> bool:
        return bool(self.alarms) or any(r.error for r in self.rows)
