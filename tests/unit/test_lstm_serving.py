"""The LSTM's serving path without torch: onnxruntime on the committed small ONNX fixture against a
plain NumPy reference of the LSTM cell equations, the input sequences by hand, and the walk-forward
family's no-look-ahead on the real BTC file (the fixture's weights are seeded, not trained)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ml_features import ml_rows
from oracle_node.research.backtest.lstm import LstmFamily
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.training.conformal import calibrate, scores
from oracle_node.research.training.lstm_data import (
    LOG_CLIP,
    LSTM_INPUTS,
    MIN_RAW,
    LstmBundle,
    LstmModel,
    LstmRuntime,
    day_inputs,
    sequences,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "lstm"
BTC = "prices/btc_usd_daily_2015_2026.csv"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reference_scale(w: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """torch.nn.LSTM (gates i, f, g, o) -> last hidden state -> linear -> clip -> exp, in float64."""
    x = (x.astype(np.float64) - w["mean"]) / w["std"]
    w_ih, w_hh = w["lstm.weight_ih_l0"].astype(np.float64), w["lstm.weight_hh_l0"].astype(np.float64)
    b = w["lstm.bias_ih_l0"].astype(np.float64) + w["lstm.bias_hh_l0"]
    hidden = w_hh.shape[1]
    h, c = np.zeros((x.shape[0], hidden)), np.zeros((x.shape[0], hidden))
    for t in range(x.shape[1]):
        gates = x[:, t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = (gates[:, k * hidden : (k + 1) * hidden] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
    a = h @ w["head.weight"].T.astype(np.float64) + w["head.bias"]
    return np.exp(np.clip(a[:, 0], -LOG_CLIP, LOG_CLIP))


@pytest.fixture(scope="module")
def fixture_model() -> tuple[LstmRuntime, dict[str, np.ndarray]]:
    w = dict(np.load(FIXTURE / "lstm_small.npz"))
    return LstmRuntime((FIXTURE / "lstm_small.onnx").read_bytes(), int(w.pop("length"))), w


def test_lstm_runtime__fixture__equals_numpy_reference(fixture_model) -> None:
    runtime, w = fixture_model
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, (64, runtime.length, len(LSTM_INPUTS))) * rng.choice([0.3, 1.0, 6.0], (64, 1, 1))
    got, ref = runtime.predict(x), reference_scale(w, x.astype(np.float32))
    assert_allclose(got, ref, rtol=2e-6, atol=1e-7)
    assert got.std() > 0.05 * got.mean()  # the inputs move the output: the comparison is not vacuous
    assert_allclose(runtime.predict(x[:1]), got[:1], rtol=0, atol=0)  # batch size does not change a row
    assert_allclose(runtime.predict(x[5:8]), got[5:8], rtol=0, atol=0)


def test_lstm_runtime__wrong_sequence_length__model_error(fixture_model) -> None:
    runtime, _ = fixture_model
    with pytest.raises(ModelError, match="input shape"):
        runtime.predict(np.zeros((2, runtime.length + 1, len(LSTM_INPUTS))))


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketHistory:
    h = load_prices(shared_data / BTC, "BTC-USD")
    return replace(h, ts=h.ts[-900:], close=h.close[-900:], volume=h.volume[-900:])


def test_sequences__row_k__inputs_of_days_k_minus_L_plus_1_to_k(btc: MarketHistory) -> None:
    rows = ml_rows(btc)
    u = day_inputs(rows)
    assert_allclose(u[100, 0], np.clip(rows.returns[99] / rows.scale[99], -8, 8))
    assert u[100, 1] == abs(u[100, 0])
    seqs, ok = sequences(rows, 7, start=40)
    for k in (60, 500, rows.x.shape[0] - 1):
        assert ok[k - 40]
        assert_allclose(seqs[k - 40], u[k - 6 : k + 1].astype(np.float32))
    fin = np.isfinite(u).all(axis=1)
    expected = [k >= 6 and fin[k - 6 : k + 1].all() and rows.ok[k] for k in range(u.shape[0])]
    assert sequences(rows, 7)[1].tolist() == expected
    assert not any(expected[:38]) and all(expected[38:])  # rows 0..31 lack features or a shock: 32 + 6


def _family(h: MarketHistory, runtime: LstmRuntime, w: dict) -> tuple[LstmFamily, np.ndarray]:
    rows = ml_rows(h)
    n = rows.x.shape[0] - 1
    cut = n - 60
    model = LstmModel("lstm", b"", runtime, w, {"length": runtime.length}, {})
    bundle = LstmBundle(h.market, 0.025, cut, cut - 250, 0, {"lstm": model})
    return LstmFamily(bundle, rows, 0, 250), np.diff(np.log(h.close))  # type: ignore[arg-type]


def test_lstm_family__prices_after_t_poisoned__identical_forecasts(btc: MarketHistory, fixture_model) -> None:
    runtime, w = fixture_model
    fam, r = _family(btc, runtime, w)
    t = r.size - 30
    close = btc.close.copy()
    close[t + 1 :] *= np.exp(np.random.default_rng(0).normal(0, 0.3, close.size - t - 1))  # days t, t+1, ...
    fam2, r2 = _family(replace(btc, close=close), runtime, w)
    assert not np.array_equal(r[t:], r2[t:]) and np.array_equal(r[:t], r2[:t])
    for day in (r.size - 60, t):
        got = fam.forecast(r[:day], True, np.random.default_rng(0))[0]
        again = fam2.forecast(r2[:day], True, np.random.default_rng(0))[0]
        assert (got.var, got.es) == (again.var, again.es)


def test_lstm_family__day_t__conformal_of_numpy_reference_raw_var(btc: MarketHistory, fixture_model) -> None:
    runtime, w = fixture_model
    fam, r = _family(btc, runtime, w)
    t = r.size - 10
    fc = fam.forecast(r[:t], True, np.random.default_rng(0))[0]
    b, rows = fam.bundle, fam.rows
    seqs, ok = sequences(rows, runtime.length, b.cal_start)
    assert ok[: t - b.cal_start + 1].all()
    v = rows.scale[b.cal_start :] * np.maximum(reference_scale(w, seqs), MIN_RAW)
    i = t - b.cal_start
    cal = calibrate(scores(r[t - 250 : t], v[i - 250 : i]), 0.025)
    assert fc.var == pytest.approx(cal.multiplier * v[i], rel=1e-5)
    assert fc.es == pytest.approx(cal.es_multiplier * v[i], rel=1e-5)
    assert fc.es >= fc.var > 0
