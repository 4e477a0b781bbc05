"""Charts drawn on the server as SVG: no script, no external asset, readable without colour
(each bar has its value as text and the figure a table behind a <details>)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def bar_chart(
    labels: Sequence[str],
    values: Sequence[int],
    *,
    title: str,
    width: int = 560,
    height: int = 200,
    every: int = 1,
    alt: bool = False,
) -> Markup:
    """A vertical bar chart; `every` labels only every n-th bar on the axis."""
    left, bottom, top = 36, 22, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max([*values, 1])
    step = plot_w / max(len(values), 1)
    bar_w = max(step * 0.7, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 8}" '
        f'y2="{top + plot_h}"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    css = "bar alt" if alt else "bar"
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / peak
        x = left + index * step + (step - bar_w) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if value and len(values) <= 12:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 2:.1f}" text-anchor="middle">{value}</text>'
            )
        if index % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text part is escaped above


def hbar_chart(items: Sequence[tuple[str, int]], *, title: str, width: int = 560) -> Markup:
    """Horizontal bars, one row per item, for categories (TLP, sector, feed)."""
    row, label_w = 22, 130
    height = max(len(items), 1) * row + 8
    peak = max([v for _, v in items] + [1])
    plot_w = width - label_w - 60
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(items):
        y = 4 + index * row
        w = plot_w * value / peak
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}">'
            f"<title>{escape(label)}: {value}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{value}</text>'
        )
    if not items:
        parts.append('<text x="8" y="18">nothing yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text part is escaped above
