"""Inline SVG line charts (no network, no plotting library): series of (x, y) with optional markers."""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 240, 64, 120, 28, 34
Scale = Callable[[float], float]
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass
class Series:
    label: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False
    markers: bool = False  # draw each point as a dot (breaches)
    color: str | None = None


@dataclass
class Chart:
    title: str
    y_label: str
    series: list[Series] = field(default_factory=list)

    def render(self) -> str:
        pts = [p for s in self.series for p in s.points]
        if not pts:
            return f'<svg class="plot" width="{W}" height="60"><text x="10" y="30">{html.escape(self.title)}: no data</text></svg>'
        x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
        y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
        x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

        def sx(x: float) -> float:
            return PAD_L + (x - x0) / (x1 - x0) * (W - PAD_L - PAD_R)

        def sy(y: float) -> float:
            return H - PAD_B - (y - y0) / (y1 - y0) * (H - PAD_T - PAD_B)

        body = [self._axes(x0, x1, y0, y1, sx, sy)]
        for i, s in enumerate(self.series):
            body.append(_series(s, s.color or PALETTE[i % len(PALETTE)], sx, sy, i))
        head = f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">'
        return head + "".join(body) + "</svg>"

    def _axes(self, x0: float, x1: float, y0: float, y1: float, fx: Scale, fy: Scale) -> str:
        out = [f'<text x="{PAD_L}" y="16" font-weight="bold">{html.escape(self.title)}</text>']
        out.append(f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#999"/>')
        out.append(f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#999"/>')
        for k in range(5):
            y = y0 + (y1 - y0) * k / 4
            out.append(
                f'<text x="{PAD_L - 6}" y="{fy(y) + 4:.1f}" text-anchor="end" font-size="10">{y:,.4g}</text>'
            )
            x = x0 + (x1 - x0) * k / 4
            label = time.strftime("%m-%d %H:%M", time.gmtime(x))
            out.append(
                f'<text x="{fx(x):.1f}" y="{H - 18}" text-anchor="middle" font-size="10">{label}</text>'
            )
        out.append(
            f'<text x="12" y="{PAD_T + 10}" font-size="10" transform="rotate(-90 12 {PAD_T + 10})" text-anchor="end">{html.escape(self.y_label)}</text>'
        )
        return "".join(out)


def _series(s: Series, color: str, fx: Scale, fy: Scale, i: int) -> str:
    xy = [(fx(x), fy(y)) for x, y in s.points]
    legend_y = PAD_T + 14 * i
    out = [
        f'<text x="{W - PAD_R + 8}" y="{legend_y + 4}" font-size="11" fill="{color}">{html.escape(s.label)}</text>'
    ]
    if s.markers:
        out += [f'<circle class="breach" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>' for x, y in xy]
    elif xy:
        dash = ' stroke-dasharray="5,3"' if s.dashed else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6"{dash} points="{path}"/>')
    return "".join(out)
