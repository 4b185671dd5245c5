"""The backtest report's attribution section: the qgbm model's TreeSHAP contributions add up to its
raw VaR on every test day, and the report lists the largest increases with their top drivers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from oracle_node.features.history import MarketHistory
from oracle_node.models.ml_features import ML_FEATURES, ml_rows
from oracle_node.research.backtest.attribution import AttributionSeries, biggest_increases, qgbm_attributions
from oracle_node.research.backtest.engine import WalkForwardConfig
from oracle_node.research.backtest.ml import prepare_ml
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.report import attribution_section, render_report
from oracle_node.research.backtest.run import day_labels

BTC = "prices/btc_usd_daily_2015_2026.csv"


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketHistory:
    h = load_prices(shared_data / BTC, "BTC-USD")
    n = 1200
    return replace(h, ts=h.ts[-n:], close=h.close[-n:], volume=h.volume[-n:])


def test_qgbm_attributions__test_days__expected_plus_contributions_is_the_raw_var(btc: MarketHistory) -> None:
    r = np.diff(np.log(btc.close))
    cfg = WalkForwardConfig(0.025, 300, 60, sims=0)
    bundle = prepare_ml(btc, r.size, cfg, cal_window=250)
    rows = ml_rows(btc)
    dates = day_labels(btc.ts[1:])
    series = qgbm_attributions(bundle, rows, dates, 60)
    assert series is not None and series.dates == tuple(dates[-60:]) and series.features == ML_FEATURES
    raw = bundle.raw_var("qgbm", rows, r.size - 60)[:60]
    assert_allclose(series.var, raw, rtol=1e-5)  # no day hits the MIN_RAW floor here
    assert_allclose(series.expected + series.contributions.sum(axis=1), series.var, rtol=1e-5, atol=1e-7)
    assert np.abs(series.contributions).max() > 1e-3


def _series() -> AttributionSeries:
    contrib = np.zeros((4, 3))
    contrib[2] = [0.01, 0.05, -0.01]  # day 2: +6 points, driven by "b"
    contrib[3] = [0.03, 0.05, -0.01]  # day 3: +2 points, driven by "a"
    var = 0.05 + contrib.sum(axis=1)
    days = ("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04")
    return AttributionSeries("qgbm", days, ("a", "b", "c"), var, np.full(4, 0.05), contrib)


def test_biggest_increases__largest_first_and_only_increases() -> None:
    assert biggest_increases(_series(), 5) == [2, 3]


def test_attribution_section__table_rows_and_drivers_in_order() -> None:
    text = attribution_section(_series(), days=5, top=2)
    assert text.index("<th>2024-01-03</th>") < text.index("<th>2024-01-04</th>")
    assert "b +5.00%; a +1.00%" in text and "a +2.00%; b +0.00%" in text
    assert text.count('src="data:image/png;base64,') == 1 and attribution_section(None) == ""
    days = ["2024-01-01", "2024-01-02"]
    page = render_report({"asset": "X"}, {}, days, np.array([1.0, 2.0]), np.zeros(2), {}, _series())
    assert "Attributions (qgbm, TreeSHAP)" in page
