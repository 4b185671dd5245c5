"""`oracle-node train` writes a model directory the node serves as is: the one manifest schema, loaded
by the node's loader, forecasting through the node's RiskModel; the bundled model's script runs the
same writer. Real BTC / ETH files from the shared data, small slices (a few seconds each)."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import pytest
import sklearn

from oracle_node.cli import main
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.manifest import ARTIFACTS_DIR, MANIFEST_FILE, load_manifest
from oracle_node.research.backtest.prices import load_prices
from scripts import train_models

BTC = "prices/btc_usd_daily_2015_2026.csv"
ETH_HOURLY = "prices/binance_ethusdt_spot_1h_2017_2021.csv"
ONNX = "qgbm_har_v1.onnx"


def _slice(shared_data: Path, out: Path, first: str, last: str) -> Path:
    lines = (shared_data / BTC).read_text().splitlines()
    out.write_text("\n".join([lines[0], *(x for x in lines[1:] if first <= x[:10] <= last)]) + "\n")
    return out


def _train(prices: Path, out: Path, *extra: str) -> int:
    return main(["train", "--prices", str(prices), "--asset", "BTC-USD", "--test-start", "2021-01-01",
                 "--no-walk-forward", "--out", str(out), *extra])  # fmt: skip


@pytest.fixture(scope="module")
def trained(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    tmp = tmp_path_factory.mktemp("train")
    prices = _slice(shared_data, tmp / "btc.csv", "2018-01-01", "2021-03-31")
    out = tmp / "model"
    assert _train(prices, out) == 0
    return prices, out, (out / MANIFEST_FILE).read_text()


def test_train__btc_slice__node_loader_serves_it(trained: tuple[Path, Path, str]) -> None:
    prices, out, _ = trained
    m = load_manifest(out)
    assert set(m.data) == set(load_manifest(ARTIFACTS_DIR).data)  # the bundled model's schema, key for key
    assert m.data["artifacts"] == {ONNX: hashlib.sha256((out / ONNX).read_bytes()).hexdigest()}
    training = m.data["training"]
    assert training["data"] == {"btc.csv": hashlib.sha256(prices.read_bytes()).hexdigest()}
    assert training["test_start"] == "2021-01-01" and training["rows_by_market"] == {"BTC-USD": 1065}
    built = training["platform"]  # where it was built: byte-for-byte rebuilds need the same floating point
    assert built["python"] == platform.python_version() and built["machine"] == platform.machine()
    assert built["packages"]["scikit-learn"] == sklearn.__version__ and built["packages"]["onnx"]
    assert m.data["metrics"]["BTC-USD"]["out_of_sample"]["ml"]["n"] == 90  # 2021-01-01 .. 03-31
    assert "walk_forward" not in m.data["metrics"]["BTC-USD"]
    model = RiskModel.load(out)  # as service.wiring.load_model does for model.manifest: <out>/manifest.json
    history = load_prices(prices, "BTC-USD").until(1_600_000_000.0)  # 2020-09-13, inside the training range
    fc = model.forecast(history)
    assert fc.model == "qgbm_har_v1+gjr_garch_t" and "fallback_baseline" not in fc.flags
    assert 0.0 < fc.var99 < fc.es99 < 1.0 and model.model_hash == m.hash


def test_train__prints_the_hash_the_node_computes(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = _slice(shared_data, tmp_path / "btc.csv", "2018-06-01", "2021-02-28")
    assert _train(prices, tmp_path / "m") == 0
    out = capsys.readouterr().out
    assert f"model hash {load_manifest(tmp_path / 'm').hash_hex}" in out
    assert f"model.manifest: {tmp_path / 'm' / MANIFEST_FILE}" in out
    assert "BTC-USD   out_of_sample ml" in out


def test_train__prices_after_test_start_changed__same_onnx_bytes(
    shared_data: Path, tmp_path: Path, trained: tuple[Path, Path, str]
) -> None:
    """No look-ahead: every close after the test start rewritten, the fitted model is byte-identical."""
    prices, out, _ = trained
    lines = prices.read_text().splitlines()
    wild = [x if x[:10] < "2021-01-01" else f"{x[:10]},{float(x.split(',')[1]) * 3.7},1" for x in lines[1:]]
    moved = tmp_path / "btc.csv"
    moved.write_text("\n".join([lines[0], *wild]) + "\n")
    assert _train(moved, tmp_path / "m") == 0
    assert (tmp_path / "m" / ONNX).read_bytes() == (out / ONNX).read_bytes()
    a, b = load_manifest(out).data, load_manifest(tmp_path / "m").data
    assert a["feature_range"] == b["feature_range"] and a["tails"] == b["tails"]
    assert a["metrics"]["BTC-USD"]["out_of_sample"] != b["metrics"]["BTC-USD"]["out_of_sample"]


def test_train__pool_eth_hourly__both_markets_in_one_model(shared_data: Path, tmp_path: Path) -> None:
    prices = _slice(shared_data, tmp_path / "btc.csv", "2019-01-01", "2021-02-28")
    assert _train(prices, tmp_path / "m", "--pool", f"{shared_data / ETH_HOURLY}:ETH-USDT") == 0
    rows = load_manifest(tmp_path / "m").data["training"]["rows_by_market"]
    assert set(rows) == {"BTC-USD", "ETH-USDT"} and min(rows.values()) > 600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--test-start", "2021-13-01"], "--test-start '2021-13-01' is not an ISO date (YYYY-MM-DD)"),
        (["--test-start", "2018-06-01"], "only 120 training rows before --test-start 2018-06-01"),
        (["--pool", "x.csv:ETH-USDT:f.csv"], "the served model has no funding feature; give FILE:ASSET"),
        (["--pool", "btc.csv:BTC-USD"], "market 'BTC-USD' is given twice"),
    ],
)
def test_train__bad_input__exit_2_one_line(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    prices = _slice(shared_data, tmp_path / "btc.csv", "2018-01-01", "2021-03-31")
    full = ["train", "--prices", str(prices), "--asset", "BTC-USD", "--out", str(tmp_path / "m"), *args]
    if "--test-start" not in args:
        full += ["--test-start", "2021-01-01"]
    assert main(full) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m" / MANIFEST_FILE).exists()


def test_train_models_script__bundled_recipe__same_writer_and_schema(
    shared_data: Path, tmp_path: Path
) -> None:
    assert train_models.main(["--data", str(shared_data), "--out", str(tmp_path), "--no-walk-forward"]) == 0
    m, bundled = load_manifest(tmp_path), load_manifest(ARTIFACTS_DIR)
    assert set(m.data) == set(bundled.data)
    assert m.data["training"]["data"] == bundled.data["training"]["data"]
    assert m.data["training"]["rows_by_market"] == bundled.data["training"]["rows_by_market"]
    for name, (lo, hi) in bundled.data["feature_range"].items():  # same rows, same ranges (to float noise)
        np.testing.assert_allclose(m.data["feature_range"][name], [lo, hi], rtol=1e-9, atol=1e-12)
    assert json.loads((tmp_path / MANIFEST_FILE).read_text()) == m.data
