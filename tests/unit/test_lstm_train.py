"""LSTM training (torch, an optional extra: these tests skip without it): the committed fixture is
what the exporter writes, ONNX equals torch, two trainings are identical, no look-ahead through
training, and run_backtest with the LSTM preparer on the real BTC file (small data, tiny grid)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

torch = pytest.importorskip("torch", reason="torch is the optional training extra: pip install -e '.[train]'")

from oracle_node.errors import ModelError  # noqa: E402
from oracle_node.features.history import MarketHistory  # noqa: E402
from oracle_node.models.ml_features import ml_rows  # noqa: E402
from oracle_node.research.backtest.engine import WalkForwardConfig  # noqa: E402
from oracle_node.research.backtest.lstm import LstmFamily, lstm_preparer, train_lstm_bundle  # noqa: E402
from oracle_node.research.backtest.ml import MlOptions  # noqa: E402
from oracle_node.research.backtest.prices import load_prices  # noqa: E402
from oracle_node.research.backtest.run import run_backtest  # noqa: E402
from oracle_node.research.training.lstm_data import LstmRuntime, sequences  # noqa: E402
from oracle_node.research.training.lstm_train import export_fixture, onnx_agreement  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "fixtures" / "lstm"
BTC = "prices/btc_usd_daily_2015_2026.csv"
FUNDING = "funding/btc_perp_funding_daily_2019_2026.csv"
TINY = {"grid": {"length": (10,), "hidden": (4,), "lr": (3e-3,)}, "train": {"max_epochs": 6, "patience": 3}}
CFG = WalkForwardConfig(0.025, 300, 60, sims=0)


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketHistory:
    h = load_prices(shared_data / BTC, "BTC-USD")
    return replace(h, ts=h.ts[-900:], close=h.close[-900:], volume=h.volume[-900:])


def _train(h: MarketHistory):
    rows = ml_rows(h)
    return train_lstm_bundle(rows, rows.x.shape[0] - 1, CFG, [], 250, **TINY), rows


@pytest.fixture(scope="module")
def trained(btc: MarketHistory):
    return _train(btc)


def test_export_fixture__regenerated__byte_identical_to_committed(tmp_path: Path) -> None:
    export_fixture(tmp_path)
    for name in ("lstm_small.onnx", "lstm_small.npz"):
        assert (tmp_path / name).read_bytes() == (FIXTURE / name).read_bytes(), name


def test_train_lstm__onnxruntime__equals_torch(trained) -> None:
    bundle, rows = trained
    m = bundle.models["lstm"]
    assert m.metrics["onnx_vs_torch_max_abs"] < 1e-5 and m.metrics["onnx_vs_torch_max_rel"] < 1e-5
    assert m.metrics["rows"] == bundle.fit_rows > 250
    from oracle_node.research.training.lstm_model import LstmScale  # noqa: PLC0415

    w = {k: torch.from_numpy(v) for k, v in m.weights.items()}
    model = LstmScale(6, m.params["hidden"], m.weights["mean"], m.weights["std"])
    model.load_state_dict(w)
    seqs, ok = sequences(rows, m.params["length"], bundle.cal_start)  # rows the training never saw
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(seqs[ok])).numpy().reshape(-1)
    assert_allclose(m.runtime.predict(seqs[ok]), ref, rtol=1e-5, atol=1e-7)
    assert ref.std() > 0.01 * ref.mean()


def test_onnx_agreement__other_model_onnx__refused(trained, btc: MarketHistory) -> None:
    bundle, rows = trained
    m = bundle.models["lstm"]
    w = dict(np.load(FIXTURE / "lstm_small.npz"))
    other = LstmRuntime((FIXTURE / "lstm_small.onnx").read_bytes(), int(w["length"]))
    from oracle_node.research.training.lstm_model import LstmScale  # noqa: PLC0415

    model = LstmScale(6, m.params["hidden"], m.weights["mean"], m.weights["std"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in m.weights.items()})
    seqs, ok = sequences(rows, 5)
    with pytest.raises(ModelError, match="differs from torch"):
        onnx_agreement(model.eval(), other, seqs[ok][:50])


def test_train_lstm__twice__identical_weights_and_onnx(trained, btc: MarketHistory) -> None:
    again, _ = _train(btc)
    a, b = trained[0].models["lstm"], again.models["lstm"]
    assert a.onnx == b.onnx
    assert a.weights.keys() == b.weights.keys()
    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert a.metrics["selection"][0]["val_nll"] == b.metrics["selection"][0]["val_nll"]


def test_train_lstm__prices_after_t_poisoned__identical_forecasts(trained, btc: MarketHistory) -> None:
    bundle, rows = trained
    r = np.diff(np.log(btc.close))
    t = r.size - 20  # a test day: training and calibration end 40 days earlier
    close = btc.close.copy()
    close[t + 1 :] *= np.exp(np.random.default_rng(0).normal(0, 0.3, close.size - t - 1))
    bundle2, rows2 = _train(replace(btc, close=close))
    assert bundle2.models["lstm"].onnx == bundle.models["lstm"].onnx
    r2 = np.diff(np.log(close))
    for day in (r.size - 60, t):
        got = LstmFamily(bundle, rows, 0, 250).forecast(r[:day], True, np.random.default_rng(0))[0]  # type: ignore[arg-type]
        again = LstmFamily(bundle2, rows2, 0, 250).forecast(r2[:day], True, np.random.default_rng(0))[0]  # type: ignore[arg-type]
        assert (got.var, got.es) == (again.var, again.es)


def test_run_backtest__lstm_preparer__metrics_and_manifest(shared_data: Path, tmp_path: Path) -> None:
    ml = MlOptions(shared_data / FUNDING)
    res = run_backtest(shared_data / BTC, "BTC-USD", 0.025, 300, 60, 1, tmp_path, ["hs", "lstm"], workers=1,
                       sims=0, preparers=[lstm_preparer(ml, shared_data / BTC, **TINY)])  # fmt: skip
    assert list(res.metrics) == ["hs", "lstm"]
    m = res.metrics["lstm"]
    assert 0.0 < m["mean_var"] < 0.2 and m["violations"] == int(np.sum(res.returns < -res.paths["lstm"].var))
    run = json.loads((tmp_path / "metrics.json").read_text())["run"]
    assert run["lstm"]["split"]["test_start"] == run["test_start"]
    manifest = json.loads((tmp_path / "lstm" / "manifest.json").read_text())
    assert manifest["metrics"]["onnx_vs_torch_max_abs"] == run["lstm"]["onnx_vs_torch_max_abs"] < 1e-5
    assert set(manifest["training_data_sha256"]) == {"prices", "funding"}
    assert set(manifest["artifacts"]) == {"lstm.onnx", "lstm_weights.npz"}
