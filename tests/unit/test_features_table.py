"""The research feature table (features.table: realised, range, implied vol, funding, liquidations,
cross-asset): hand-computed values, and no look-ahead for every feature (poison everything after day
t, in every input, and the rows up to day t are identical)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oracle_node.features.external import ExternalInputs, Stamped, latest_at
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.features.realised import range_variances
from oracle_node.features.table import TABLE_FEATURES, coverage, feature_table

N = 160
T0 = 1_600_000_000 - 1_600_000_000 % SECONDS_PER_DAY  # a midnight


def _history(rng: np.random.Generator, market: str, n: int = N) -> MarketHistory:
    r = 0.03 * rng.standard_t(4, n)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]] * np.exp(0.002 * rng.standard_normal(n))
    high = np.maximum(open_, close) * np.exp(np.abs(0.02 * rng.standard_normal(n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(0.02 * rng.standard_normal(n)))
    rv = np.abs(r) + 0.01 * rng.random(n)
    bv = rv * (0.7 + 0.3 * rng.random(n))
    ts = T0 + SECONDS_PER_DAY * np.arange(1, n + 1, dtype=np.float64)
    return MarketHistory(
        market, ts, close, volume=1e6 * (1 + rng.random(n)), funding=1e-4 * rng.standard_normal(n),
        depth=1e5 * (1 + rng.random(n)), rv_intraday=rv, bv_intraday=bv, open=open_, high=high, low=low,
    )  # fmt: skip


def _inputs(rng: np.random.Generator, h: MarketHistory, other: MarketHistory) -> ExternalInputs:
    day_starts = h.ts - SECONDS_PER_DAY
    dvol = Stamped.of(day_starts, 0.5 + 0.2 * rng.random(N))
    f8_ts = np.sort(np.r_[h.ts - 57_600, h.ts - 28_800, h.ts])
    f8 = Stamped.of(f8_ts, 1e-4 * rng.standard_normal(f8_ts.size))
    events = Stamped.of(np.sort(rng.uniform(h.ts[0], h.ts[-1], 3000)))
    return ExternalInputs(dvol, f8, events, (float(h.ts[0]), float(h.ts[-1])), other)


def _poison_history(h: MarketHistory, t: int) -> MarketHistory:
    cols = {}
    wobble = 1.0 + 0.5 * np.sin(np.arange(len(h) - t - 1))  # changes every return after t
    for name in ("close", "volume", "funding", "depth", "rv_intraday", "bv_intraday", "open", "high", "low"):
        x = np.array(getattr(h, name), copy=True)
        x[t + 1 :] *= 3.7 * wobble if name != "funding" else -50.0 * wobble
        cols[name] = x
    return MarketHistory(h.market, h.ts, **cols)


def _poison_inputs(ext: ExternalInputs, cut_ts: float) -> ExternalInputs:
    assert ext.dvol is not None and ext.funding_8h is not None and ext.liquidations is not None
    assert ext.other is not None
    dvol_v = np.where(ext.dvol.ts > cut_ts - SECONDS_PER_DAY, 9.0, ext.dvol.values)
    f8_v = np.where(ext.funding_8h.ts > cut_ts, 0.5, ext.funding_8h.values)
    extra = np.linspace(cut_ts + 1, ext.liquidations.ts[-1], 5000)
    liq = Stamped.of(np.r_[ext.liquidations.ts, extra])
    t_other = int(np.searchsorted(ext.other.ts, cut_ts, side="right")) - 1
    return ExternalInputs(
        Stamped(ext.dvol.ts, dvol_v), Stamped(ext.funding_8h.ts, f8_v), liq, ext.liquidations_span,
        _poison_history(ext.other, t_other),
    )  # fmt: skip


@pytest.fixture(scope="module")
def data() -> tuple[MarketHistory, ExternalInputs]:
    rng = np.random.default_rng(12)
    h = _history(rng, "BTC")
    return h, _inputs(rng, h, _history(rng, "ETH"))


@pytest.mark.parametrize("t", [40, 99, 150])
def test_feature_table__future_poisoned__every_feature_identical_up_to_t(
    data: tuple[MarketHistory, ExternalInputs], t: int
) -> None:
    h, ext = data
    clean = feature_table(h, ext)
    dirty = feature_table(_poison_history(h, t), _poison_inputs(ext, float(h.ts[t])))
    for j, name in enumerate(TABLE_FEATURES):
        np.testing.assert_array_equal(clean.values[: t + 1, j], dirty.values[: t + 1, j], err_msg=name)
        if t < N - 1:
            # the poison reached this feature (so the equality above is a real check)
            assert not np.array_equal(clean.values[t + 1 :, j], dirty.values[t + 1 :, j], equal_nan=True), (
                name
            )


def test_feature_table__every_feature_has_values__coverage_counts_them(
    data: tuple[MarketHistory, ExternalInputs],
) -> None:
    h, ext = data
    frame = feature_table(h, ext)
    cov = {c["feature"]: c for c in coverage(frame)}
    assert set(cov) == set(TABLE_FEATURES)
    for name in TABLE_FEATURES:
        assert cov[name]["days"] >= N - 40, name  # every feature computed (30-day windows need warm-up)
    assert cov["parkinson_1d"]["days"] == N


def test_feature_table__truncated_history__same_rows(data: tuple[MarketHistory, ExternalInputs]) -> None:
    h, ext = data
    full = feature_table(h, ext)
    part = feature_table(h.until(float(h.ts[79])), ext)
    np.testing.assert_array_equal(full.values[:80], part.values)


def test_range_variances__hand_computed() -> None:
    h = MarketHistory("X", np.array([86_400.0]), np.array([105.0]), open=[100.0], high=[110.0], low=[95.0])
    v = range_variances(h)
    hl, co = math.log(110 / 95), math.log(105 / 100)
    assert v["parkinson"][0] == pytest.approx(hl**2 / (4 * math.log(2)))
    assert v["garman_klass"][0] == pytest.approx(0.5 * hl**2 - (2 * math.log(2) - 1) * co**2)
    rs = math.log(110 / 105) * math.log(110 / 100) + math.log(95 / 105) * math.log(95 / 100)
    assert v["rogers_satchell"][0] == pytest.approx(rs)


def test_range_and_intraday__no_ohlc_no_bars__nan_not_zero() -> None:
    h = MarketHistory("X", 86_400.0 * np.arange(1, 41), np.linspace(100, 120, 40))
    frame = feature_table(h)
    for name in ("parkinson_1d", "rv_1d", "jump_1d", "dvol", "liq_log_1d", "xa_corr_30d", "funding_level_bp"):
        assert np.isnan(frame.column(name)).all(), name


def test_jump__rv_above_bv__sqrt_of_the_difference(data: tuple[MarketHistory, ExternalInputs]) -> None:
    h, _ = data
    frame = feature_table(h)
    assert h.rv_intraday is not None and h.bv_intraday is not None
    want = np.sqrt(np.maximum(h.rv_intraday**2 - h.bv_intraday**2, 0))
    np.testing.assert_allclose(frame.column("jump_1d"), want)


def test_latest_at__lag_and_staleness() -> None:
    s = Stamped.of([0.0, 86_400.0], [1.0, 2.0])
    got = latest_at(np.array([86_400.0, 172_800.0, 172_799.0, 600_000.0]), s, 86_400.0, 3 * 86_400.0)
    np.testing.assert_array_equal(got, [1.0, 2.0, 1.0, np.nan])


def test_cross_asset__identical_markets__correlation_one(data: tuple[MarketHistory, ExternalInputs]) -> None:
    h, _ = data
    frame = feature_table(h, ExternalInputs(other=h))
    corr = frame.column("xa_corr_30d")
    np.testing.assert_allclose(corr[np.isfinite(corr)], 1.0, atol=1e-9)
    np.testing.assert_allclose(frame.column("xa_vol_ratio")[40:], 1.0)
