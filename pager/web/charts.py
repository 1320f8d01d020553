"""Charts made on the server as inline SVG: no library, no script, nothing fetched, and the
page's Content-Security-Policy (no inline styles) holds, because every colour comes from a
class in pager.css (which follows light and dark mode). Each chart is an `<svg role="img">`
with a title that says what it shows; the numbers are in a table beside it too.

`bars` draws columns per period, each split into stacked parts (e.g. incidents acknowledged
and not; interruptions in business, off and sleep hours); `hbars` horizontal bars per name
(a person, a method). Both scale with the width of the page (viewBox), down to a phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

__all__ = ["bars", "hbars", "legend"]

W, H = 480, 200  # the viewBox of a column chart
LEFT, BOTTOM, TOP = 40, 24, 10


def _nice(top: float) -> float:
    """A round number at or above `top` for the axis, whose half is round too (1, 2, 4, 6,
    8, 10 times a power of ten)."""
    if top <= 1:
        return 1
    step = 1.0
    while step * 10 < top:
        step *= 10
    for m in (1, 2, 4, 6, 8, 10):
        if m * step >= top:
            return m * step
    return 10 * step


def _num(x: float) -> str:
    return f"{x:g}"


def bars(
    title: str,
    labels: Sequence[str],
    parts: Sequence[tuple[str, str, Sequence[float]]],
    unit: str = "",
) -> Markup:
    """Stacked columns: `parts` are (name, css class, one value per label)."""
    n = max(len(labels), 1)
    totals = [sum(p[2][i] for p in parts) for i in range(len(labels))]
    top = _nice(max(totals, default=0))
    plot_w, plot_h = W - LEFT - 4, H - BOTTOM - TOP
    slot = plot_w / n
    bar_w = max(min(slot * 0.7, 48), 1.5)
    out = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for frac in (0, 0.5, 1):
        y = TOP + plot_h * (1 - frac)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{W - 4}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_num(top * frac))}</text>"
        )
    every = max(1, -(-n // 7))  # at most 7 labels under the axis
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar_w) / 2
        y = TOP + plot_h
        tip = [f"{label}: {_num(totals[i])}{unit}"]
        for name, cls, values in parts:
            v = values[i]
            if v <= 0:
                continue
            h = plot_h * v / top
            y -= h
            out.append(
                f'<rect class="{escape(cls)}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)} {escape(name)}: {escape(_num(v))}'
                f"{escape(unit)}</title></rect>"
            )
            tip.append(f"{name} {_num(v)}")
        if i % every == 0:
            cx = LEFT + slot * i + slot / 2
            out.append(
                f'<text class="axis" x="{cx:.1f}" y="{H - 8}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text in it went through escape()


def hbars(
    title: str, rows: Sequence[tuple[str, Sequence[float]]], classes: Sequence[str], unit: str = ""
) -> Markup:
    """One horizontal stacked bar per row: (name, values per class)."""
    row_h, label_w, width = 28, 120, 480
    height = max(row_h * len(rows), row_h) + 4
    top = _nice(max((sum(v) for _, v in rows), default=0))
    plot_w = width - label_w - 40
    out = [
        f'<svg class="chart hchart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (name, values) in enumerate(rows):
        y = 2 + i * row_h
        out.append(
            f'<text class="axis" x="{label_w - 6}" y="{y + row_h / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(name[:16])}</text>'
        )
        x = float(label_w)
        for v, cls in zip(values, classes, strict=True):
            if v <= 0:
                continue
            w = plot_w * v / top
            out.append(
                f'<rect class="{escape(cls)}" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" '
                f'height="{row_h - 8}"><title>{escape(name)}: {escape(_num(v))}{escape(unit)}'
                "</title></rect>"
            )
            x += w
        out.append(
            f'<text class="axis" x="{x + 4:.1f}" y="{y + row_h / 2 + 4:.1f}">'
            f"{escape(_num(sum(values)))}{escape(unit)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text in it went through escape()


def legend(items: Sequence[tuple[str, str]]) -> Markup:
    """A legend of (name, css class) as an HTML list."""
    spans = "".join(
        f'<li><svg class="key" viewBox="0 0 10 10" aria-hidden="true"><rect class="{escape(c)}" '
        f'width="10" height="10"/></svg>{escape(n)}</li>'
        for n, c in items
    )
    return Markup(f'<ul class="legend">{spans}</ul>')  # noqa: S704 - escaped above
