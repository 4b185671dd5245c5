"""Every HTML report writer (demo, backtest, cascade backtest, cascade replay, surfaces) on small data:
the page references no URL, inlines the expected number of PNG figures, each a valid PNG of sensible
size; every figure drawn has a title, labelled axes and its legend outside the data area. Also the
shock backtest's shocks.png (a file beside report.md, not an HTML page)."""

from __future__ import annotations

import base64
import json
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from oracle_node import figures
from oracle_node.chain.deploy import Deployment
from oracle_node.cli import main
from oracle_node.demo.options import BOOKS, SnapshotRecord
from oracle_node.demo.options_report import options_section
from oracle_node.demo.report import write_report
from oracle_node.demo.session import DemoResult, RoundRecord
from oracle_node.options.build import fit_chain
from oracle_node.options.chain import read_chain
from oracle_node.options.onchain import Shocks
from oracle_node.options.report import render_html
from oracle_node.research.backtest.attribution import AttributionSeries
from oracle_node.research.backtest.report import render_report
from oracle_node.research.cascade.replay import Hour
from oracle_node.research.cascade.replay_report import render as render_replay
from oracle_node.research.cascade.synthetic import START, write_liquidations, write_prices
from oracle_node.service.observer import NodeRound
from oracle_node.types import RiskParamsBps
from tests.unit.shock_fixtures import synthetic_inputs
from tests.unit.test_options_cli import write_chain

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(
    r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"|src=\'data:image/png;base64,([A-Za-z0-9+/=]+)\''
)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the report writers render (figures.png wrapped to record its argument)."""
    seen: list[Figure] = []
    real = figures.png

    def record(fig: Figure) -> bytes:
        seen.append(fig)
        return real(fig)

    monkeypatch.setattr(figures, "png", record)
    return seen


def _pngs(page: str) -> list[bytes]:
    """Checks the page is self-contained and returns its inlined PNGs."""
    assert not re.search(r"https?://", page), re.search(r".{60}https?://.{60}", page)
    assert "<script" not in page and "<svg" not in page and "<link" not in page
    return [base64.b64decode(a or b) for a, b in DATA_URI.findall(page)]


def _check_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR" and data[-8:-4] == b"IEND"
    width, height = struct.unpack(">II", data[16:24])
    assert 300 <= width <= 2000 and 150 <= height <= 2000, (width, height)
    assert 5_000 < len(data) < 400_000
    return width, height


def _check_figure(fig: Figure) -> None:
    """Title, axis labels on every visible axes; no legend overlapping any data area."""
    fig.draw_without_rendering()
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert shown
    assert fig.get_suptitle() or any(ax.get_title() for ax in shown)
    for ax in shown:
        assert ax.get_ylabel(), ax.get_title()
        ticks = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert not (ax.xaxis.get_visible() and ticks) or ax.get_xlabel(), ax.get_title()
    legends = [leg for ax in shown if (leg := ax.get_legend())] + list(fig.legends)
    for leg in legends:
        box = leg.get_window_extent()
        for ax in shown:
            assert not box.overlaps(ax.bbox), (ax.get_title(), leg.get_texts()[0].get_text())


def _check_page(page: str, drawn: list[Figure], expect: int) -> None:
    images = _pngs(page)
    assert len(images) == len(drawn) == expect
    for data in images:
        _check_png(data)
    for fig in drawn:
        _check_figure(fig)


def _rows(hours: int, vol0: int) -> list[RoundRecord]:
    t0 = datetime(2020, 3, 10, 12, tzinfo=UTC).timestamp()
    out = []
    for k in range(hours):
        p = RiskParamsBps(vol0 + 40 * k, 300 + 10 * k, 400 + 12 * k, 1000, 600, 8000, 100, 9000)
        outcome = SimpleNamespace(guard=SimpleNamespace(aggregate_price=7900.0 - 20 * k))
        nodes = {n: NodeRound(k, t0 + 3600 * k, {"BTC-USD": outcome, "ETH-USD": outcome},
                              {"BTC-USD": p, "ETH-USD": p}) for n in ("node0", "node1", "node2")}  # fmt: skip
        out.append(
            RoundRecord(
                k, t0 + 3600 * k, True, "node0", 0, 60_000 + k, {"BTC-USD": p, "ETH-USD": p}, nodes, 10**11
            )
        )
    return out


def _snapshots() -> list[SnapshotRecord]:
    k = [-0.4, -0.2, 0.0, 0.2, 0.4]
    smiles = [(d, k, [0.5 + 0.5 * x * x + 1.0 / d for x in k]) for d in (2.0, 9.0, 40.0, 300.0)]
    day = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    return [SnapshotRecord(int(day + 20 * 86400 * i), True, 100 + i, "node1", 800_000, 90_000.0, int(day + 40 * 86400),
                           0.45, Shocks(1500, 3000, 2000), dict.fromkeys(BOOKS, (5000.0 + i, 4000.0, 4800.0)), smiles)
            for i in range(5)]  # fmt: skip


def test_demo_report__small_result__nine_inlined_figures(tmp_path: Path, drawn: list[Figure]) -> None:
    deployment = Deployment(31337, 1, "0xd", "0xg", "0xt", "0xo", "0xe", "0xc", ["0xa", "0xb", "0xc"], 2)
    result = DemoResult(_rows(30, 6000), deployment, ("node0", "node1", "node2"), "node2")
    page = write_report(result, tmp_path / "report.html", section=options_section(_snapshots())).read_text()
    _check_page(page, drawn, 9)  # price x2, volatility, VaR x2, margins, gas; smiles, margin path
    assert 'alt="BTC-USD price"' in page and "Gas per round" in page
    # BTC VaR: the breach series has one dot per breached window, counted in the title and legend
    var = next(f.axes[0] for f in drawn if f.axes[0].get_title().startswith("BTC-USD 1-day VaR99"))
    breach = next(ln for ln in var.get_lines() if ln.get_label().startswith("breach"))
    assert len(breach.get_xdata()) > 0 and breach.get_label() == f"breach ({len(breach.get_xdata())})"
    assert f"({len(breach.get_xdata())} breached hourly windows)" in var.get_title()


def _attribution(dates: tuple[str, ...]) -> AttributionSeries:
    rng = np.random.default_rng(1)
    contrib = rng.normal(0.0, 0.005, (len(dates), 4))
    return AttributionSeries("qgbm", dates, ("a", "b", "c", "d"), 0.05 + contrib.sum(axis=1),
                             np.full(len(dates), 0.05), contrib)  # fmt: skip


def test_backtest_report__two_models__price_var_reliability_attribution(drawn: list[Figure]) -> None:
    n = 120
    dates = tuple((datetime(2024, 1, 1) + timedelta(days=k)).date().isoformat() for k in range(n))
    rng = np.random.default_rng(0)
    returns = rng.standard_t(4, n) * 0.02
    var, es = np.full(n, 0.04), np.full(n, 0.055)
    bins = [{"days": 10 * (k + 1), "mean_score": 0.1 * k + 0.05, "observed": 0.1 * k} for k in range(8)]
    score = {"horizon_days": 2, "days_with_outcome": n - 2, "brier": 0.2, "reliability": bins}
    models = {m: {"violations": int((returns < -var).sum()), "risk_score": score} for m in ("hs", "qgbm")}
    close = 40_000 * np.exp(np.cumsum(returns))
    page = render_report({"asset": "BTC-USD", "alpha": 0.01}, models, dates, close, returns,
                         {"hs": (var, es), "qgbm": (var * 1.1, es * 1.1)}, _attribution(dates))  # fmt: skip
    _check_page(page, drawn, 5)  # price, VaR x2, one reliability figure (a panel per model), attribution
    hits = int((returns < -var).sum())
    assert f"hs: daily return, -VaR, -ES, {hits} breaches" in page
    assert [ax.get_title() for ax in drawn[3].axes if ax.get_visible()] == ["hs", "qgbm"]
    assert [t.get_text() for t in drawn[4].axes[0].get_legend().get_texts()] == ["a", "b", "c", "d"]


def test_cascade_backtest_report__small_files__reliability_and_series(
    tmp_path: Path, drawn: list[Figure]
) -> None:
    write_liquidations(tmp_path / "liq.csv", 120, seed=7)
    write_prices(tmp_path / "px.csv", START - 60 * 86400, 200, seed=7)
    args = ["cascade", "backtest", "--liquidations", str(tmp_path / "liq.csv"), "--prices", str(tmp_path / "px.csv"),
            "--val-start", "2021-03-05", "--test-start", "2021-04-01", "--refit-every", "10", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(args) == 0
    page = (tmp_path / "o" / "report.html").read_text()
    markets = re.findall(r"alt=\"([^\"]+) daily forecast probabilities\"", page)
    assert markets == ["ETH", "BTC", "ALL"]
    _check_page(page, drawn, 1 + len(markets))
    models = [t.get_text() for t in drawn[0].axes[0].get_legend().get_texts()]
    assert models[0] == "perfect calibration" and len(models) >= 3


def test_cascade_replay_report__two_markets__one_figure_each(drawn: list[Figure]) -> None:
    t0 = datetime(2021, 5, 17, tzinfo=UTC).timestamp()
    hours = [Hour(m, t0 + 3600 * k, 3000.0, min(1.0, 0.01 * k), 10 * k, 8000 - 10 * k, 8000 - 10 * k, 8000,
                  1e6 * (k % 7), "full") for m in ("ETH-USD", "BTC-USD") for k in range(72)]  # fmt: skip
    page = render_replay(hours, {"command": "oracle-node cascade replay", "ETH-USD": {"rounds": 72}})
    _check_page(page, drawn, 2)
    assert drawn[0].axes[0].get_title().startswith("BTC-USD")  # markets in sorted order


def test_surface_report__synthetic_chain__smiles_and_term_structure(
    tmp_path: Path, drawn: list[Figure]
) -> None:
    fit = fit_chain(read_chain(write_chain(tmp_path / "chain.csv")))
    _check_page(render_html(fit), drawn, 4)  # smiles + term structure per underlying


def test_png__same_figure_twice__identical_bytes() -> None:
    def draw() -> Any:
        fig, axes = figures.new(4.0, 3.0)
        axes[0, 0].plot(figures.utc([0.0, 86400.0, 2 * 86400.0]), [1.0, 3.0, 2.0], label="x")
        figures.date_axis(axes[0, 0])
        return fig

    assert figures.png(draw()) == figures.png(draw())
    assert b"Software" not in figures.png(draw())


@pytest.mark.slow  # about 10 s: the shock backtest walks 18 candidates forward twice
def test_shock_backtest_png__small_files__one_labelled_figure(tmp_path: Path, drawn: list[Figure]) -> None:
    inp = synthetic_inputs(420)
    pairs = [[int(t) * 86_400_000, round(v * 100, 4)] for t, v in zip(inp.dvol_day, inp.dvol, strict=True)]
    (tmp_path / "dvol.json").write_text(json.dumps(pairs))
    dates = [str(np.datetime64(int(t), "D")) for t in inp.price_day]
    lines = "".join(f"{d},{p:.6f},1000\n" for d, p in zip(dates, inp.close, strict=True))
    (tmp_path / "px.csv").write_text("date,price,volume\n" + lines)
    args = ["shock-backtest", "--dvol", str(tmp_path / "dvol.json"), "--prices", str(tmp_path / "px.csv"),
            "--val-days", "60", "--test-days", "60", "--refit-every", "60", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(args) == 0
    assert len(drawn) == 1
    _check_png((tmp_path / "o" / "shocks.png").read_bytes())
    _check_figure(drawn[0])
