"""Charts drawn on the server as inline SVG: stacked bars over time, and one-line bars.

Why SVG from Python and not a chart library: the box serves pages offline (no CDN) to
phones and guard tablets, the charts must read without JavaScript, and a few dozen
rectangles are easier to keep accessible than a library's canvas. Each chart is drawn in
a fixed coordinate box 360 units wide (a phone's width, so its text is real size there)
and scales with its container; colours come from classes in ``dashboard.css``.
Every text that reaches the SVG is escaped; the numbers are also given as a table on the
page (the SVG is labelled as an image with a one-line summary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 360
LEFT = 30  # room for the y-axis numbers
BOTTOM = 18  # room for the x-axis labels
TOP = 8
SERIES_CLASSES = 6  # dash-s0 … dash-s5 in dashboard.css


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]
    css: str  # a class of dashboard.css: dash-s0…, dash-open, dash-deny


def nice_max(value: int) -> int:
    """The smallest 1/2/5 × 10^n at or above ``value`` (at least 1): the y axis's top."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    summary: str,
    label_every: int = 1,
    height: int = 150,
) -> Markup:
    """Vertical bars, one per label, each stacked from ``series`` (bottom first)."""
    count = len(labels)
    totals = [sum(s.values[i] for s in series) for i in range(count)]
    top = nice_max(max(totals, default=0))
    plot_w = WIDTH - LEFT - 2
    plot_h = height - TOP - BOTTOM
    slot = plot_w / max(count, 1)
    bar = max(slot * 0.72, 1.0)
    parts = [
        f'<svg class="dash-chart" viewBox="0 0 {WIDTH} {height}" role="img"'
        f' aria-label="{escape(summary)}" preserveAspectRatio="xMidYMid meet">'
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        value = top * fraction
        text = f"{value:g}" if value == int(value) else ""  # counts are whole numbers
        parts.append(
            f'<line class="dash-grid-line" x1="{LEFT}" x2="{WIDTH - 2}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="dash-axis" x="{LEFT - 4}" y="{y + 3.5:.1f}"'
            f' text-anchor="end">{text}</text>'
        )
    for i in range(count):
        x = LEFT + i * slot + (slot - bar) / 2
        base = float(TOP + plot_h)
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            parts.append(
                f'<rect class="{escape(s.css)}" x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}"'
                f' height="{h:.1f}"><title>{escape(labels[i])} · {escape(s.name)}: {value}</title>'
                "</rect>"
            )
        if i % label_every == 0:
            cx = LEFT + i * slot + slot / 2
            parts.append(
                f'<text class="dash-axis" x="{cx:.1f}" y="{height - 5}"'
                f' text-anchor="middle">{escape(labels[i])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def split_bar(parts: Sequence[tuple[str, int, str]], summary: str) -> Markup:
    """One horizontal bar split into (name, value, css) parts, with each share in percent."""
    total = sum(value for _, value, _ in parts)
    out = [
        f'<svg class="dash-chart dash-split" viewBox="0 0 {WIDTH} 28" role="img"'
        f' aria-label="{escape(summary)}">'
    ]
    x = 0.0
    for name, value, css in parts:
        if total <= 0 or value <= 0:
            continue
        w = WIDTH * value / total
        share = round(100 * value / total)
        out.append(
            f'<rect class="{escape(css)}" x="{x:.1f}" y="2" width="{w:.1f}" height="24">'
            f"<title>{escape(name)}: {value} ({share}%)</title></rect>"
        )
        if w >= 44:
            out.append(
                f'<text class="dash-in-bar" x="{x + w / 2:.1f}" y="18.5"'
                f' text-anchor="middle">{share}%</text>'
            )
        x += w
    if total <= 0:
        out.append(f'<rect class="dash-empty" x="0" y="2" width="{WIDTH}" height="24"/>')
    out.append("</svg>")
    return Markup("".join(out))


def row_bar(parts: Sequence[tuple[int, str]], scale: int) -> Markup:
    """A small decorative bar for a table row: (value, css) parts against ``scale``; the
    row's cells carry the numbers, so the bar is hidden from screen readers."""
    out = ['<svg class="dash-row-bar" viewBox="0 0 100 12" aria-hidden="true" focusable="false">']
    x = 0.0
    for value, css in parts:
        if value <= 0 or scale <= 0:
            continue
        w = 100 * value / scale
        out.append(f'<rect class="{escape(css)}" x="{x:.2f}" y="1" width="{w:.2f}" height="10"/>')
        x += w
    out.append("</svg>")
    return Markup("".join(out))
