"""Charts drawn on the server as SVG: stacked bars for counts, lines for rates.

No script and no external file: the SVG is inline in the page, so it scales on a
phone and prints. Every label goes through :func:`markupsafe.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["bars", "lines"]

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 28
COLOURS = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")


def bars(labels: Sequence[str], series: Mapping[str, Sequence[float]], unit: str = "") -> Markup:
    """Stacked bars, one per label, one colour per series."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _nice(max(totals, default=0.0))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    parts = [_axes(top, unit)]
    for colour, (name, values) in zip(COLOURS * 4, series.items(), strict=False):
        for i, value in enumerate(values):
            if not value:
                continue
            below = sum(series[other][i] for other in list(series)[: list(series).index(name)])
            y, h = _y(below + value, top), _h(value, top)
            parts.append(
                f'<rect x="{LEFT + i * slot + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(name)} {escape(labels[i])}: '
                f'{value:.4g}{escape(unit)}</title></rect>'
            )
    parts.append(_x_labels(labels, slot))
    return _svg(parts, series)


def lines(
    labels: Sequence[str], series: Mapping[str, Sequence[float | None]], unit: str = "",
    top: float | None = None,
) -> Markup:
    """One line per series; a gap where a value is None (nothing to measure that hour)."""
    values = [v for vs in series.values() for v in vs if v is not None]
    top = top if top is not None else _nice(max(values, default=0.0))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    parts = [_axes(top, unit)]
    for colour, (name, points) in zip(COLOURS * 4, series.items(), strict=False):
        path, pen_down = [], False
        for i, value in enumerate(points):
            if value is None:
                pen_down = False
                continue
            x, y = LEFT + (i + 0.5) * slot, _y(value, top)
            path.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>'
                         f'{escape(name)} {escape(labels[i])}: {value:.4g}{escape(unit)}</title></circle>')
            pen_down = True
        if path:
            parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts.append(_x_labels(labels, slot))
    return _svg(parts, series)


def _svg(parts: list[str], series: Mapping[str, object]) -> Markup:
    legend = "".join(
        f'<span class="key"><svg class="swatch" viewBox="0 0 10 10" width="10" height="10">'
        f'<rect width="10" height="10" rx="2" fill="{c}"/></svg>{escape(name)}</span>'
        for c, name in zip(COLOURS * 4, series, strict=False)
    )
    body = "".join(parts)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'preserveAspectRatio="xMidYMid meet">{body}</svg><p class="legend">{legend}</p>'
    )


def _axes(top: float, unit: str) -> str:
    out = []
    for step in range(5):
        value = top * step / 4
        y = _y(value, top)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{value:.3g}{escape(unit)}</text>')
    return "".join(out)


def _x_labels(labels: Sequence[str], slot: float) -> str:
    every = max(1, len(labels) // 8)
    return "".join(
        f'<text x="{LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(label)}</text>'
        for i, label in enumerate(labels) if i % every == 0
    )


def _y(value: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)


def _h(value: float, top: float) -> float:
    return (HEIGHT - TOP - BOTTOM) * value / top


def _nice(value: float) -> float:
    """A round axis top at or above ``value`` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value * 0.999999)
