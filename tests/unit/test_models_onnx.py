"""The bundled ONNX model: equals scikit-learn, manifest hashes verified, fallbacks, determinism."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ensemble import RiskModel, combine
from oracle_node.models.forecast import Flag, Forecast
from oracle_node.models.manifest import ARTIFACTS_DIR, MANIFEST_FILE, canonical_bytes, load_manifest
from oracle_node.models.quantile_onnx import OnnxQuantileModel
from oracle_node.research.training.train import ML_FEATURES, ONNX_FILE, Dataset, fit_quantile_pair, split_ts
from oracle_node.research.training.train_data import load_training_histories


@pytest.fixture(scope="module")
def histories(shared_data: Path) -> dict[str, MarketHistory]:
    return load_training_histories(shared_data)


@pytest.fixture(scope="module")
def risk_model() -> RiskModel:
    return RiskModel.load()


@pytest.fixture
def artifacts_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "artifacts"
    shutil.copytree(ARTIFACTS_DIR, dst)
    return dst


@pytest.mark.slow
def test_onnx__real_feature_rows__equals_retrained_sklearn(histories: dict[str, MarketHistory]) -> None:
    sets = [Dataset(h) for h in histories.values()]
    cut = split_ts()
    x_train = np.vstack([d.x[d.split(cut)[0]] for d in sets])
    z_train = np.concatenate([d.z[d.split(cut)[0]] for d in sets])
    lo, hi = fit_quantile_pair(x_train, z_train)
    x_all = np.vstack([d.x for d in sets]).astype(np.float32)
    ref = np.column_stack([lo.predict(x_all), hi.predict(x_all)])
    got = OnnxQuantileModel(load_manifest()).predict(x_all)
    assert x_all.shape[0] > 5000
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=0)


def test_manifest__bundled__hash_is_sha256_of_canonical_bytes() -> None:
    m = load_manifest()
    raw = json.loads((ARTIFACTS_DIR / MANIFEST_FILE).read_text())
    assert m.hash == hashlib.sha256(canonical_bytes(raw)).digest()
    assert len(m.hash) == 32 and m.features == ML_FEATURES
    assert (
        m.data["artifacts"][ONNX_FILE] == hashlib.sha256((ARTIFACTS_DIR / ONNX_FILE).read_bytes()).hexdigest()
    )


def test_manifest__reindented__same_hash(artifacts_copy: Path) -> None:
    path = artifacts_copy / MANIFEST_FILE
    path.write_text(json.dumps(json.loads(path.read_text()), indent=7))
    assert load_manifest(artifacts_copy).hash == load_manifest().hash


def test_manifest__value_changed__different_hash(artifacts_copy: Path) -> None:
    path = artifacts_copy / MANIFEST_FILE
    data = json.loads(path.read_text())
    data["ensemble"]["tolerance"] = 0.31
    path.write_text(json.dumps(data))
    assert load_manifest(artifacts_copy).hash != load_manifest().hash


def test_manifest__onnx_byte_flipped__model_error_names_file_and_hashes(artifacts_copy: Path) -> None:
    onnx_path = artifacts_copy / ONNX_FILE
    blob = bytearray(onnx_path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    onnx_path.write_bytes(bytes(blob))
    expected = load_manifest().data["artifacts"][ONNX_FILE]
    actual = hashlib.sha256(bytes(blob)).hexdigest()
    with pytest.raises(ModelError) as err:
        RiskModel.load(artifacts_copy)
    msg = str(err.value)
    assert str(onnx_path) in msg and expected in msg and actual in msg


def test_manifest__onnx_missing__model_error(artifacts_copy: Path) -> None:
    (artifacts_copy / ONNX_FILE).unlink()
    with pytest.raises(ModelError, match=f"{ONNX_FILE} is missing"):
        load_manifest(artifacts_copy)


def test_manifest__corrupt_json__model_error_with_line(artifacts_copy: Path) -> None:
    (artifacts_copy / MANIFEST_FILE).write_text('{\n  "model": "x",\n  oops\n}')
    with pytest.raises(ModelError, match=r"manifest.json:3:\d+: invalid JSON"):
        load_manifest(artifacts_copy)


def test_manifest__corrupt_onnx_with_matching_hash__model_error(artifacts_copy: Path) -> None:
    (artifacts_copy / ONNX_FILE).write_bytes(b"not an onnx model")
    path = artifacts_copy / MANIFEST_FILE
    data = json.loads(path.read_text())
    data["artifacts"][ONNX_FILE] = hashlib.sha256(b"not an onnx model").hexdigest()
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        RiskModel.load(artifacts_copy)


def test_manifest__missing_key__model_error_names_key(artifacts_copy: Path) -> None:
    path = artifacts_copy / MANIFEST_FILE
    data = json.loads(path.read_text())
    del data["feature_range"]
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="feature_range"):
        load_manifest(artifacts_copy)


def test_risk_model__real_btc__combined_forecast_consistent(risk_model: RiskModel, histories) -> None:
    btc = histories["BTC-USD"].until(histories["BTC-USD"].ts[3500])
    fc = risk_model.forecast(btc)
    base = risk_model.baseline.forecast(btc)
    tol = risk_model.tolerance
    assert fc.model == "qgbm_har_v1+gjr_garch_t"
    assert fc.var99 >= (1 - tol) * base.var99 and fc.var99_short >= (1 - tol) * base.var99_short
    assert 0 < fc.agreement <= 1
    assert 0.01 < fc.var99 < 0.3 and fc.es99 >= fc.var99


def test_risk_model__feature_out_of_range__baseline_with_flag(risk_model: RiskModel, histories) -> None:
    btc = histories["BTC-USD"].until(histories["BTC-USD"].ts[3500])
    # a stablecoin-like market: BTC's daily moves scaled by 1/100, far below any training volatility
    calm = replace(
        btc, market="CALM", close=100 * np.exp(np.cumsum(np.r_[0.0, np.diff(np.log(btc.close))]) / 100)
    )
    fc = risk_model.forecast(calm)
    assert Flag.OUT_OF_TRAINING_RANGE in fc.flags and Flag.FALLBACK_BASELINE in fc.flags
    base = risk_model.baseline.forecast(calm)
    assert (fc.model, fc.var99, fc.es99_short) == (base.model, base.var99, base.es99_short)
    assert fc.var99 < 0.01


def test_risk_model__no_volume_column__nan_feature_falls_back(risk_model: RiskModel, histories) -> None:
    btc = histories["BTC-USD"]
    fc = risk_model.forecast(replace(btc, volume=None))
    assert Flag.OUT_OF_TRAINING_RANGE in fc.flags
    assert fc.model == "gjr_garch_t"


def test_risk_model__two_runs__identical_floats(histories) -> None:
    a = RiskModel.load().forecast_many(list(histories.values()))
    b = RiskModel.load().forecast_many(list(histories.values()))
    assert a == b


def test_forecast_many__batch__equals_one_by_one(risk_model: RiskModel, histories) -> None:
    btc, eth = histories["BTC-USD"], histories["ETH-USDT"]
    markets = [replace(btc.until(btc.ts[i]), market=f"BTC{i}") for i in range(2500, 4000, 250)] + [eth]
    batch = risk_model.forecast_many(markets)
    for h in markets:
        assert batch[h.market] == risk_model.forecast(h)


def test_combine__ml_far_below_baseline__floored_and_flagged() -> None:
    ml = Forecast("ml", 0.02, 0.04, 0.06, 0.04, 0.06)
    base = Forecast("gjr", 0.03, 0.08, 0.11, 0.09, 0.12)
    fc = combine(ml, base, tolerance=0.25)
    assert fc.var99 == pytest.approx(0.06) and fc.var99_short == pytest.approx(0.0675)
    assert fc.es99 == pytest.approx(0.0825)
    assert Flag.MODEL_DISAGREEMENT in fc.flags
    assert fc.agreement == pytest.approx(0.04 / 0.09)


def test_combine__ml_close_above_baseline__ml_used_no_flag() -> None:
    ml = Forecast("ml", 0.03, 0.085, 0.12, 0.09, 0.13)
    base = Forecast("gjr", 0.03, 0.08, 0.11, 0.09, 0.12)
    fc = combine(ml, base, tolerance=0.25)
    assert (fc.var99, fc.es99, fc.var99_short, fc.es99_short) == (0.085, 0.12, 0.09, 0.13)
    assert fc.flags == frozenset()
    assert fc.agreement == pytest.approx(0.08 / 0.085)


def test_manifest__training_data_hashes__match_shared_files(shared_data: Path) -> None:
    pinned = load_manifest().data["training"]["data"]
    assert len(pinned) == 3
    for name, digest in pinned.items():
        assert hashlib.sha256((shared_data / name).read_bytes()).hexdigest() == digest, name
