"""ML models: features are causal and aligned, conformal maths, ONNX equals scikit-learn, the
training split reads nothing at or after the cut, and the manifest hashes what it lists."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.manifest import canonical_bytes
from oracle_node.models.ml_features import ML_FEATURES, ml_rows, weekday
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.training.conformal import calibrate, conformal_k, scores
from oracle_node.research.training.ml_data import with_funding
from oracle_node.research.training.ml_fit import GBM_PARAMS, MLP_PARAMS, fit_and_export
from oracle_node.research.training.ml_run import cut_index, parse_pool
from oracle_node.research.training.ml_train import train_bundle, write_bundles


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketHistory:
    h = load_prices(shared_data / "prices" / "btc_usd_daily_2015_2026.csv", "BTC-USD")
    return with_funding(h, shared_data / "funding" / "btc_perp_funding_daily_2019_2026.csv")


def _tail(h: MarketHistory, n: int) -> MarketHistory:
    return replace(h, ts=h.ts[-n:], close=h.close[-n:], volume=h.volume[-n:], funding=h.funding[-n:])


def test_conformal_k__n_99_alpha_5pct__rank_5() -> None:
    assert conformal_k(0.05, 99) == 5 and conformal_k(0.01, 499) == 5 and conformal_k(0.01, 50) == 1


def test_calibrate__scores_1_to_100__fifth_largest_and_mean_of_top_five() -> None:
    cal = calibrate(np.arange(1.0, 101.0), 0.05)  # k = floor(0.05 * 101) = 5: 96..100
    assert (cal.multiplier, cal.es_multiplier, cal.k, cal.n) == (96.0, 98.0, 5, 100)


def test_calibrate__too_few_scores__model_error() -> None:
    with pytest.raises(ModelError, match="got 10"):
        calibrate(np.arange(10.0), 0.01)


def test_conformal__iid_student_t__breach_rate_near_alpha() -> None:
    rng = np.random.default_rng(7)
    r = 0.02 * rng.standard_t(3, 20_500)
    raw = np.full(r.size, 0.02)  # a wrong scale: the conformal multiplier must repair it
    cal = calibrate(scores(r[:500], raw[:500]), 0.05)
    rate = np.mean(r[500:] < -cal.multiplier * raw[500:])
    assert rate == pytest.approx(0.05, abs=0.012)


def test_weekday__known_dates__monday_zero() -> None:
    # 2026-02-14 00:00 UTC is a Saturday; 1970-01-01 a Thursday
    assert weekday(np.array([1771027200.0, 0.0])).tolist() == [5.0, 3.0]


def test_ml_rows__truncated_history__same_rows_no_look_ahead(btc: MarketHistory) -> None:
    full = ml_rows(btc)
    cut = 3000
    part = ml_rows(replace(btc, ts=btc.ts[:cut], close=btc.close[:cut], volume=btc.volume[:cut],
                           funding=btc.funding[:cut]))  # fmt: skip
    np.testing.assert_array_equal(part.x, full.x[:cut])
    np.testing.assert_array_equal(part.scale, full.scale[:cut])
    assert full.x.shape == (len(btc), len(ML_FEATURES))
    assert full.returns[10] == pytest.approx(np.log(btc.close[11] / btc.close[10]), abs=1e-15)


def test_ml_rows__funding_zero_filled_before_2019__in_bp_after(btc: MarketHistory) -> None:
    rows = ml_rows(btc)
    j = ML_FEATURES.index("funding_level_bp")
    assert rows.x[100, j] == 0.0
    k = int(np.flatnonzero(np.isfinite(btc.funding))[10])
    assert rows.x[k, j] == pytest.approx(btc.funding[k] * 1e4)


def _reference(name: str, x: np.ndarray, z: np.ndarray, alpha: float) -> np.ndarray:
    x32 = x.astype(np.float32)
    if name == "qgbm":
        return GradientBoostingRegressor(loss="quantile", alpha=alpha, **GBM_PARAMS).fit(x32, z).predict(x32)
    mlp = make_pipeline(StandardScaler(), MLPRegressor(**MLP_PARAMS)).fit(x32, np.abs(z))
    return mlp.predict(x32)


@pytest.mark.parametrize("name", ["qgbm", "mlp"])
def test_fit_and_export__onnxruntime__equals_sklearn_reference(btc: MarketHistory, name: str) -> None:
    rows = ml_rows(_tail(btc, 700))
    ok = np.flatnonzero(rows.ok & np.isfinite(rows.returns))
    x, z = rows.x[ok], rows.returns[ok] / rows.scale[ok]
    fitted = fit_and_export(name, x, z, 0.025)
    np.testing.assert_allclose(fitted.runtime.predict(x), _reference(name, x, z, 0.025), rtol=1e-4, atol=1e-6)
    assert fitted.onnx_vs_sklearn_max_rel < 1e-4


def test_train_bundle__returns_after_cut_changed__identical_models(btc: MarketHistory) -> None:
    h = _tail(btc, 1100)
    cut = 1000
    wild = h.close.copy()
    wild[cut + 1 :] *= np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.2, wild.size - cut - 1)))
    rows = ml_rows(h)
    a = train_bundle(rows, cut, 0.025, cal_days=250)
    b = train_bundle(ml_rows(replace(h, close=wild)), cut, 0.025, cal_days=250)
    probe = rows.x[rows.ok]
    for name in ("qgbm", "mlp"):
        np.testing.assert_array_equal(
            a.models[name].runtime.predict(probe), b.models[name].runtime.predict(probe)
        )
    assert not np.allclose(rows.returns[cut + 1 : -1], ml_rows(replace(h, close=wild)).returns[cut + 1 : -1])
    assert a.cal_start == cut - 250 and a.split["calibration_rows"] == 250


def test_train_bundle__too_little_history__model_error(btc: MarketHistory) -> None:
    with pytest.raises(ModelError, match="fit rows"):
        train_bundle(ml_rows(_tail(btc, 300)), 250, 0.01)


def test_write_bundles__manifest__file_hashes_and_model_hash(btc: MarketHistory, tmp_path: Path) -> None:
    rows = ml_rows(_tail(btc, 1100))
    bundle = train_bundle(rows, 1000, 0.025, cal_days=250)
    digest = write_bundles(tmp_path, [bundle], rows, {"prices": "ab" * 32})
    doc = json.loads((tmp_path / "manifest.json").read_text())
    assert digest == hashlib.sha256(canonical_bytes(doc)).digest()
    assert set(doc["artifacts"]) == {"qgbm_a025.onnx", "mlp_a025.onnx"}
    for fname, sha in doc["artifacts"].items():
        assert hashlib.sha256((tmp_path / fname).read_bytes()).hexdigest() == sha
    split = doc["by_alpha"]["alpha_0.025"]["split"]
    assert split["calibration_rows"] == 250 and split["test_start"] is not None
    assert doc["training_data_sha256"] == {"prices": "ab" * 32}


def test_cut_index__test_start__first_row_whose_target_day_starts_then(btc: MarketHistory) -> None:
    rows = ml_rows(btc)
    k = cut_index(rows.target_ts, "2024-01-01")
    # row k's target day is 2024-01-01: it ends at 2024-01-02 00:00 UTC
    assert rows.target_ts[k] == 1704153600.0 and rows.target_ts[k - 1] == 1704067200.0


def test_parse_pool__bad_spec__config_error() -> None:
    assert parse_pool("a.csv:BTC") == ("a.csv", "BTC", None)
    with pytest.raises(Exception, match="FILE:ASSET"):
        parse_pool("a.csv")
