"""Features: hand-computed small arrays, boundary validation, last-row fast path == full computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oracle_node.errors import DataError, ModelError
from oracle_node.features.build import FEATURE_NAMES, build_features, latest_features
from oracle_node.features.daily import aggregate_to_daily
from oracle_node.features.history import MarketHistory
from oracle_node.features.rolling import (
    lagged_diff,
    log_returns,
    rolling_rms,
    rolling_sum,
    rolling_zscore,
    safe_log,
)
from oracle_node.research.training.train_data import load_training_histories

DAY = 86_400.0


def _history(close: list[float], **cols: object) -> MarketHistory:
    ts = DAY * np.arange(1, len(close) + 1)
    return MarketHistory("T", ts, np.array(close), **cols)  # type: ignore[arg-type]


def test_log_returns__small_series__hand_values() -> None:
    r = log_returns(np.array([100.0, 110.0, 99.0]))
    assert math.isnan(r[0])
    assert r[1] == pytest.approx(math.log(1.1), rel=1e-15)
    assert r[2] == pytest.approx(math.log(0.9), rel=1e-15)


def test_rolling_rms__window_3__hand_values() -> None:
    r = np.array([np.nan, 0.01, -0.02, 0.03, 0.0])
    out = rolling_rms(r, 3)
    assert np.isnan(out[:3]).all()  # the first window holds the NaN of r[0]
    assert out[3] == pytest.approx(math.sqrt((1e-4 + 4e-4 + 9e-4) / 3), rel=1e-14)
    assert out[4] == pytest.approx(math.sqrt((4e-4 + 9e-4 + 0.0) / 3), rel=1e-14)
    assert rolling_rms(r, 3, last_only=True)[0] == out[4]


def test_rolling_sum_and_diff__small__hand_values() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0])
    assert rolling_sum(x, 2).tolist()[1:] == [3.0, 6.0, 12.0]
    assert lagged_diff(x, 2).tolist()[2:] == [3.0, 6.0]
    assert np.isnan(lagged_diff(x, 2)[:2]).all()


def test_rolling_zscore__window_4__population_std() -> None:
    x = np.array([1.0, 2.0, 3.0, 6.0])
    mean, std = 3.0, math.sqrt((4 + 1 + 0 + 9) / 4)
    assert rolling_zscore(x, 4)[3] == pytest.approx((6.0 - mean) / std, rel=1e-14)
    assert np.isnan(rolling_zscore(np.ones(5), 4)[4])  # zero std -> NaN, not inf


def test_safe_log__zero_and_negative__nan() -> None:
    out = safe_log(np.array([math.e, 0.0, -1.0]))
    assert out[0] == pytest.approx(1.0)
    assert np.isnan(out[1:]).all()


def test_build_features__har_components__hand_values() -> None:
    close = list(100.0 * np.exp(np.cumsum([0.0] + [0.01, -0.02] * 20)))
    frame = build_features(_history(close))
    r = np.array([0.01, -0.02] * 20)
    t = len(close) - 1
    assert frame.column("har_d")[t] == pytest.approx(0.02, rel=1e-9)
    assert frame.column("har_w")[t] == pytest.approx(math.sqrt(np.mean(r[-7:] ** 2)), rel=1e-9)
    assert frame.column("har_m")[t] == pytest.approx(math.sqrt(np.mean(r[-30:] ** 2)), rel=1e-9)
    assert frame.column("ret_7d")[t] == pytest.approx(r[-7:].sum(), rel=1e-9)
    har_m = math.sqrt(np.mean(r[-30:] ** 2))
    assert frame.column("ret_1d_rel")[t] == pytest.approx(-0.02 / har_m, rel=1e-9)
    assert frame.column("log_har_m")[t] == pytest.approx(math.log(har_m), rel=1e-12)
    assert np.isnan(frame.column("har_m")[29])  # 29 returns: no monthly window yet
    assert not np.isnan(frame.column("har_m")[30])


def test_build_features__funding_volume_depth__present_and_absent() -> None:
    n = 40
    close = [100.0 + i for i in range(n)]
    funding = np.linspace(1e-4, 5e-4, n)
    volume = np.exp(np.arange(n, dtype=float))
    frame = build_features(_history(close, funding=funding, volume=volume))
    assert frame.column("funding_level")[-1] == funding[-1]
    assert frame.column("funding_chg_1d")[-1] == pytest.approx(funding[-1] - funding[-2], rel=1e-12)
    assert frame.column("funding_chg_7d")[-1] == pytest.approx(funding[-1] - funding[-8], rel=1e-12)
    assert frame.column("log_volume")[-1] == pytest.approx(n - 1.0, rel=1e-12)
    logv = np.arange(n - 30, n, dtype=float)  # the z window, linear: z = (x - mean) / std
    assert frame.column("volume_z")[-1] == pytest.approx((logv[-1] - logv.mean()) / logv.std(), rel=1e-12)
    assert np.isnan(frame.column("depth_z")).all()
    assert frame.names == FEATURE_NAMES


def test_history__unordered_timestamps__data_error_names_line() -> None:
    with pytest.raises(DataError) as err:
        MarketHistory("BTC", [1.0, 3.0, 2.0], [1.0, 1.0, 1.0])
    assert err.value.line == 2 and err.value.field == "ts" and err.value.value == 2.0


def test_history__nan_close__data_error() -> None:
    with pytest.raises(DataError) as err:
        MarketHistory("BTC", [1.0, 2.0], [1.0, float("nan")])
    assert err.value.field == "close" and err.value.line == 1


def test_history__two_dimensional__data_error() -> None:
    with pytest.raises(DataError, match="1-D"):
        MarketHistory("BTC", [[1.0, 2.0]], [[1.0, 1.0]])


def test_history__infinite_optional_column__data_error_but_nan_allowed() -> None:
    MarketHistory("BTC", [1.0, 2.0], [1.0, 1.0], funding=[float("nan"), 1e-4])
    with pytest.raises(DataError) as err:
        MarketHistory("BTC", [1.0, 2.0], [1.0, 1.0], volume=[1.0, float("inf")])
    assert err.value.field == "volume"


def test_aggregate_to_daily__two_days_hourly__close_volume_rv() -> None:
    ts = np.array([0.0, 3600.0, 7200.0, DAY, DAY + 3600.0])
    price = np.array([100.0, 101.0, 102.0, 99.0, 100.0])
    h = aggregate_to_daily("X", ts, price, volume=[1.0, 2.0, 3.0, 4.0, 5.0])
    assert h.ts.tolist() == [DAY, 2 * DAY]
    assert h.close.tolist() == [102.0, 100.0]
    assert h.volume is not None and h.volume.tolist() == [6.0, 9.0]
    assert h.rv_intraday is not None and np.isnan(h.rv_intraday[0])
    expected = math.sqrt(math.log(99 / 102) ** 2 + math.log(100 / 99) ** 2)
    assert h.rv_intraday[1] == pytest.approx(expected, rel=1e-12)


def test_aggregate_to_daily__min_obs__drops_partial_day() -> None:
    ts = np.array([0.0, 3600.0, DAY])
    h = aggregate_to_daily("X", ts, [1.0, 2.0, 3.0], min_obs_per_day=2)
    assert h.ts.tolist() == [DAY]


def test_feature_frame__missing_feature__model_error_names_it() -> None:
    frame = build_features(_history([1.0, 2.0, 3.0]))
    with pytest.raises(ModelError, match="no_such_feature"):
        frame.select(["har_d", "no_such_feature"])


def test_latest_features__real_btc__bitwise_equal_to_full_rows(shared_data) -> None:
    btc = load_training_histories(shared_data)["BTC-USD"]
    full = build_features(btc)
    for cut in range(40, len(btc), 97):
        last = latest_features(btc.until(btc.ts[cut]))
        assert np.array_equal(last.values[0], full.values[cut], equal_nan=True), cut
