"""The ML family in the walk-forward: no look-ahead, rolling conformal by hand, run_backtest and the
`oracle-node backtest` command on the real BTC file (small windows); `train`: test_train_cli.py."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oracle_node.cli import main
from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ml_features import ml_rows
from oracle_node.research.backtest.engine import FAMILIES, WalkForwardConfig
from oracle_node.research.backtest.ml import MlFamily, MlOptions, prepare_ml
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import run_backtest
from oracle_node.research.training.conformal import calibrate, scores

BTC = "prices/btc_usd_daily_2015_2026.csv"
FUNDING = "funding/btc_perp_funding_daily_2019_2026.csv"


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketHistory:
    h = load_prices(shared_data / BTC, "BTC-USD")
    n = 1200
    return replace(h, ts=h.ts[-n:], close=h.close[-n:], volume=h.volume[-n:])


def _family(h: MarketHistory, test_days: int) -> tuple[MlFamily, np.ndarray, WalkForwardConfig]:
    r = np.diff(np.log(h.close))
    cfg = WalkForwardConfig(0.025, 300, test_days, sims=0)
    bundle = prepare_ml(h, r.size, cfg, cal_window=250)
    return MlFamily(bundle, ml_rows(h), 0, 250), r, cfg


def test_ml_family__future_returns_poisoned__same_forecast(btc: MarketHistory) -> None:
    fam, r, _ = _family(btc, 60)
    t = r.size - 30
    got = fam.forecast(r[:t], True, np.random.default_rng(0))
    # the family sees `past` only: NaN-poisoning what follows cannot change day t
    fam2, _, _ = _family(btc, 60)
    poisoned = r.copy()
    poisoned[t:] = np.nan
    again = fam2.forecast(poisoned[:t], True, np.random.default_rng(0))
    assert [(f.var, f.es) for f in got] == [(f.var, f.es) for f in again]


def _walk(h: MarketHistory, test_days: int, days: int, retrain_every: int) -> tuple[Any, list]:
    r = np.diff(np.log(h.close))
    cfg = WalkForwardConfig(0.025, 300, test_days, sims=0)
    prepare_ml(h, r.size, cfg, cal_window=250, retrain_every=retrain_every)
    fam = FAMILIES["ml"](cfg)
    start = r.size - test_days
    out = [fam.forecast(r[: start + i], i == 0, np.random.default_rng(0)) for i in range(days)]
    return fam, out


def test_ml_family__retrain_inside_walk__future_prices_poisoned__same_forecasts(btc: MarketHistory) -> None:
    test_days, days = 60, 45  # retrains on walked days 20 and 40
    fam, got = _walk(btc, test_days, days, 20)
    assert fam.fits == 3 and fam.stats["fits"] == 3
    assert fam.bundle.cut == btc.close.size - 1 - test_days + 40  # the last retrain's cut is that day
    # every close after the last day forecast is replaced: the retrained models cannot have read them
    first_unseen = btc.close.size - test_days + days - 1  # the first close no forecast has seen
    close = btc.close.copy()
    close[first_unseen:] *= np.exp(np.random.default_rng(7).normal(0, 0.2, close.size - first_unseen))
    _, again = _walk(replace(btc, close=close), test_days, days, 20)
    assert [[(f.var, f.es) for f in day] for day in got] == [[(f.var, f.es) for f in day] for day in again]
    # and the retrains matter: the walk trained once gives other forecasts after day 20
    _, once = _walk(btc, test_days, days, 0)
    assert [[f.var for f in d] for d in once[:20]] == [[f.var for f in d] for d in got[:20]]
    assert [f.var for f in once[30]] != [f.var for f in got[30]]


def test_ml_family__day_t__rolling_conformal_by_hand(btc: MarketHistory) -> None:
    fam, r, _ = _family(btc, 60)
    t = r.size - 10
    fc = fam.forecast(r[:t], True, np.random.default_rng(0))
    b = fam.bundle
    for j, name in enumerate(fam.names):
        v = b.raw_var(name, fam.rows, b.cal_start)
        i = t - b.cal_start
        cal = calibrate(scores(r[t - 250 : t], v[i - 250 : i]), 0.025)
        assert fc[j].var == pytest.approx(cal.multiplier * v[i], rel=1e-12)
        assert fc[j].es == pytest.approx(cal.es_multiplier * v[i], rel=1e-12)
        assert fc[j].es >= fc[j].var > 0


def test_ml_family__day_before_training_cut__model_error(btc: MarketHistory) -> None:
    fam, r, _ = _family(btc, 60)
    with pytest.raises(ModelError, match="precedes the training cut"):
        fam.forecast(r[: r.size - 100], True, np.random.default_rng(0))


def test_run_backtest__with_ml__metrics_models_and_manifest(shared_data: Path, tmp_path: Path) -> None:
    res = run_backtest(shared_data / BTC, "BTC-USD", 0.025, 300, 60, 1, tmp_path, ["hs", "qgbm", "mlp"],
                       workers=1, sims=100, ml=MlOptions(shared_data / FUNDING))  # fmt: skip
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert list(doc["models"]) == ["hs", "qgbm", "mlp"]
    assert doc["run"]["ml"]["split"]["test_start"] == doc["run"]["test_start"] == res.dates[0]
    manifest = json.loads((tmp_path / "models" / "manifest.json").read_text())
    assert set(manifest["training_data_sha256"]) == {"prices", "funding"}
    rows = list(csv.DictReader((tmp_path / "forecasts.csv").open()))
    for name in ("qgbm", "mlp"):
        m = doc["models"][name]
        assert m["violations"] == sum(float(x["return"]) < -float(x[f"var_{name}"]) for x in rows)
        assert 0.0 < m["mean_var"] < 0.2 and m["acerbi_szekely_p"] is not None


def test_cli_backtest__small_btc_run__writes_outputs(shared_data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bt"
    code = main(["backtest", "--prices", str(shared_data / BTC), "--asset", "BTC-USD", "--alpha", "0.025",
                 "--window", "300", "--test-days", "30", "--sims", "0", "--no-hybrid", "--combo-window", "60",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert set(doc["models"]) == {"hs", "ewma_normal", "garch_t", "gjr_skewt", "fhs", "qgbm", "mlp", "combo"}
    # the default members (chosen on validation), none of them a hybrid, so --no-hybrid keeps them all
    assert doc["run"]["combo"]["members"] == ["garch_t", "gjr_skewt", "fhs", "qgbm"]
    assert doc["run"]["combo"]["shrink"] == 0.0
    assert doc["run"]["combo"]["lead_days"] == 60 and "combo" in doc["run"]["ml_models"]
    assert (out / "report.html").read_text().count("qgbm") >= 1
    assert "qgbm" in capsys.readouterr().out
    hybrid_members = main(["backtest", "--prices", str(shared_data / BTC), "--asset", "BTC-USD", "--alpha", "0.025",
                           "--window", "300", "--test-days", "30", "--sims", "0", "--no-hybrid", "--combo-window",
                           "60", "--combo-members", "garch_t,hybrid_gjr,fhs", "--out", str(tmp_path / "bt2")])  # fmt: skip
    assert hybrid_members == 0  # --no-hybrid drops the hybrids from given members
    members = json.loads((tmp_path / "bt2" / "metrics.json").read_text())["run"]["combo"]["members"]
    assert members == ["garch_t", "fhs"]
