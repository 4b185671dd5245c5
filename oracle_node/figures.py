"""Matplotlib figures for the self-contained HTML reports (demo, backtest, cascade, surfaces).

Every chart is drawn on a `matplotlib.figure.Figure` (no pyplot state, nothing to close), rendered
headless (Agg) to PNG at DPI and inlined as a base64 data URI, so a page is one file that opens
without network access. PNG rather than matplotlib's SVG: an SVG carries a DOCTYPE and namespace
URLs (http://www.w3.org/...) and grows with every point of a long series (a 10-year daily backtest,
hourly replays), while a PNG's size follows its pixels: 20-110 KB per chart, ~210 KB for a grid of
12 smile panels, so a report stays under 1 MB.

House style (STYLE): no offset or scientific notation on the axes, light grid, small fonts, legend
without frame. Callers give every axis a label with its unit and every figure a title, put the
legend outside the data area (`legend_outside`) and format dates with `date_axis`.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
from matplotlib.figure import Figure

DPI = 90
STYLE = {
    "axes.formatter.useoffset": False,
    "axes.formatter.limits": (-6, 9),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.facecolor": "white",
}
CSS = "img.figure{max-width:100%;height:auto;display:block;margin:0.6em 0}"


def new(
    width: float, height: float, rows: int = 1, cols: int = 1, layout: str | None = None, **kw: Any
) -> tuple[Figure, Any]:
    """A figure and its axes array (always 2-D), styled with STYLE; size in inches; `layout`
    "constrained" for grids of panels (titles and labels kept apart), `kw` to `Figure.subplots`."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout=layout)
        return fig, fig.subplots(rows, cols, squeeze=False, **kw)


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (tight bounding box, so outside legends are kept; no metadata)."""
    buf = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def img(fig: Figure, alt: str) -> str:
    """An <img> holding the figure as a data URI; `alt` (escaped here) names the chart."""
    data = base64.b64encode(png(fig)).decode("ascii")
    return f'<img class="figure" alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def utc(seconds: Iterable[float]) -> list[datetime]:
    """Unix seconds as UTC datetimes (the x values of a date axis)."""
    return [datetime.fromtimestamp(float(t), UTC) for t in seconds]


def days(iso: Sequence[str]) -> list[date]:
    """ISO dates ('2021-05-19') as dates."""
    return [date.fromisoformat(d) for d in iso]


def date_axis(ax: Any, label: str = "date (UTC)") -> None:
    """Date ticks from AutoDateLocator, labelled compactly (ConciseDateFormatter), and the x label."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(label)


def legend_outside(ax: Any, handles: Sequence[Any] | None = None, labels: Sequence[str] | None = None) -> Any:
    """The legend to the right of the axes' data area, top aligned (handles of `ax` by default)."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    elif labels is None:
        labels = [str(h.get_label()) for h in handles]
    return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
