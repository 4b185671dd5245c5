"""Issue 12: `hybrid_gjr` (GJR sigma x ML residual quantile) and `combo` (rolling FZ0-optimal weights):
no look-ahead (poisoned futures), the weights by hand, lead days in the engine, and a small run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from oracle_node.errors import ConfigError
from oracle_node.features.history import MarketHistory
from oracle_node.research.backtest.combination import ComboOptions, _fz0_and_grad, combine, fz0_weights
from oracle_node.research.backtest.engine import FAMILIES, WalkForwardConfig, walk_forward
from oracle_node.research.backtest.hybrid import HybridOptions, prepare_hybrid
from oracle_node.research.backtest.ml import MlOptions
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import run_backtest, truncate
from oracle_node.research.backtest.stats import fz0_losses

BTC = "prices/btc_usd_daily_2015_2026.csv"
FUNDING = "funding/btc_perp_funding_daily_2019_2026.csv"


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketHistory:
    h = load_prices(shared_data / BTC, "BTC-USD")
    n = 1000
    return replace(h, ts=h.ts[-n:], close=h.close[-n:], volume=h.volume[-n:])


def _walk_hybrid(
    h: MarketHistory, cfg: WalkForwardConfig, days: int, retrain_every: int = 0
) -> list[tuple[float, float]]:
    r = np.diff(np.log(h.close))
    model = prepare_hybrid(h, r.size, cfg, opts=HybridOptions(0.1, 250), retrain_every=retrain_every)
    fam = FAMILIES["hybrid"](cfg)  # HybridOptions(0.1, 250) keeps the name hybrid_gjr
    out = []
    for t in range(model.cut, model.cut + days):
        (fc,) = fam.forecast(r[:t], True, np.random.default_rng(0))
        out.append((fc.var, fc.es))
    assert fam.stats["model_fits"] == 1 + (days - 1) // retrain_every if retrain_every else 1
    return out


def test_hybrid__future_prices_poisoned__identical_forecasts_up_to_t(btc: MarketHistory) -> None:
    cfg = WalkForwardConfig(0.025, 300, 12, sims=0)
    n_ret = btc.close.size - 1
    t = n_ret - cfg.walk_days + 6  # forecasts of the first 6 walked days read returns[:t] at most
    rng = np.random.default_rng(7)
    close = btc.close.copy()
    close[t + 1 :] *= np.exp(np.cumsum(rng.normal(0.0, 0.2, close.size - t - 1)))  # returns >= t change
    poisoned = replace(btc, close=close)
    clean, bad = _walk_hybrid(btc, cfg, 8), _walk_hybrid(poisoned, cfg, 8)
    assert clean[:7] == bad[:7]  # day t's forecast reads returns[:t]: identical, bit for bit
    assert clean[7] != bad[7]  # the poison does reach day t + 1 (the check can fail)
    assert all(es >= var > 0 for var, es in clean)


def test_hybrid__retrained_inside_the_walk__future_poisoned__identical_up_to_t(btc: MarketHistory) -> None:
    cfg = WalkForwardConfig(0.025, 300, 12, sims=0)
    t = btc.close.size - 1 - cfg.walk_days + 10  # retrains on walked days 4 and 8; day 10 reads returns[:t]
    close = btc.close.copy()
    close[t + 1 :] *= np.exp(np.cumsum(np.random.default_rng(7).normal(0.0, 0.2, close.size - t - 1)))
    clean, bad = _walk_hybrid(btc, cfg, 12, 4), _walk_hybrid(replace(btc, close=close), cfg, 12, 4)
    assert clean[:11] == bad[:11]  # the retrained filters and GBMs saw nothing at or after their day
    assert clean[11] != bad[11]
    once = _walk_hybrid(btc, cfg, 12)
    assert once[:4] == clean[:4] and once[5] != clean[5]  # the first retrain changes the forecasts


def test_fz0_and_grad__analytic_gradient__matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    r = rng.standard_t(4, 300) * 0.03
    var = np.abs(rng.normal(0.06, 0.01, (3, 300)))
    es = var * 1.3
    w = np.array([0.2, 0.5, 0.3])
    f, g = _fz0_and_grad(w, r, var, es, 0.025)
    assert f == pytest.approx(float(fz0_losses(r, w @ var, w @ es, 0.025).mean()), rel=1e-12)
    for j in range(3):
        d = np.zeros(3)
        d[j] = 1e-7
        num = (_fz0_and_grad(w + d, r, var, es, 0.025)[0] - _fz0_and_grad(w - d, r, var, es, 0.025)[0]) / 2e-7
        assert g[j] == pytest.approx(num, rel=1e-4, abs=1e-6)


def test_fz0_weights__one_member_matches_the_law__gets_the_weight() -> None:
    rng = np.random.default_rng(2)
    sigma = 0.02 * np.exp(rng.normal(0, 0.4, 2000))
    r = sigma * rng.standard_normal(2000)
    q, e = 1.959964, 2.337803  # normal 2.5 % quantile and ES multipliers
    var = np.vstack([q * sigma, np.full(2000, q * 0.02 * 0.5)])  # the true VaR, and a far too small one
    w = fz0_weights(r, var, var * (e / q), 0.025, np.array([0.5, 0.5]))
    assert w[0] > 0.9 and w.sum() == pytest.approx(1.0)


def test_combine__future_poisoned__identical_weights_and_forecasts_up_to_day() -> None:
    rng = np.random.default_rng(3)
    d, first, window = 160, 100, 80
    r = rng.standard_t(4, d) * 0.03
    var = np.abs(rng.normal(0.07, 0.02, (3, d)))
    es = var * rng.uniform(1.1, 1.5, (3, d))
    c = combine(r, var, es, 0.025, window, first, ("a", "b", "c"))
    i = 130  # day i's forecast uses returns before i and the members' forecasts for day i
    r2, v2, e2 = r.copy(), var.copy(), es.copy()
    r2[i:] = -0.5
    v2[:, i + 1 :] *= 3.0
    e2[:, i + 1 :] *= 3.0
    c2 = combine(r2, v2, e2, 0.025, window, first, ("a", "b", "c"))
    k = i - first
    assert np.array_equal(c.weights[: k + 1], c2.weights[: k + 1])
    assert np.array_equal(c.var[: k + 1], c2.var[: k + 1]) and np.array_equal(c.es[: k + 1], c2.es[: k + 1])
    assert not np.array_equal(c.var[k + 1 :], c2.var[k + 1 :])
    # by hand: day `first` is fitted on the `window` days before it, and combines that day's forecasts
    w = fz0_weights(r[first - window : first], var[:, first - window : first], es[:, first - window : first],
                    0.025, np.full(3, 1 / 3))  # fmt: skip
    assert np.allclose(c.weights[0], w) and c.var[0] == pytest.approx(w @ var[:, first])


def test_walk_forward__lead_days__paths_cover_lead_and_test() -> None:
    r = np.random.default_rng(4).standard_t(5, 400) * 0.02
    cfg = WalkForwardConfig(0.025, 200, 50, sims=10, lead_days=30)
    p = walk_forward(r, cfg, ["hs"])["hs"]
    plain = walk_forward(r, WalkForwardConfig(0.025, 200, 80, sims=10), ["hs"])["hs"]
    assert p.var.size == 80 and p.draws is not None and p.draws.shape == (10, 50)
    assert np.array_equal(p.var, plain.var) and p.last(50).var.size == 50


def test_truncate__end_day__last_close_is_that_day(btc: MarketHistory) -> None:
    h = truncate(btc, "2025-01-01")
    assert (h.ts[-1] - 1) // 86400 * 86400 == 1735689600  # 2025-01-01 00:00 UTC
    assert h.volume is not None and h.volume.size == h.close.size < btc.close.size


def test_run_backtest__hybrid_and_combo__scored_on_test_days_with_weights(
    shared_data: Path, tmp_path: Path
) -> None:
    res = run_backtest(shared_data / BTC, "BTC-USD", 0.025, 300, 40, 1, tmp_path, workers=1, sims=50,
                       ml=MlOptions(shared_data / FUNDING), hybrids=[HybridOptions(None, 250)],
                       combo=ComboOptions(60), end="2025-06-30")  # fmt: skip
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert list(doc["models"])[-3:] == ["mlp", "hybrid_gjr", "combo"]
    assert res.dates[-1] == "2025-06-30" and len(res.dates) == 40
    run = doc["run"]
    assert run["combo"]["lead_days"] == 60 and set(run["combo"]["members"]) == set(doc["models"]) - {"combo"}
    assert sum(run["combo"]["mean_weights"].values()) == pytest.approx(1.0, abs=1e-3)
    assert set(run["ml_models"]) == {"qgbm", "mlp", "hybrid_gjr", "combo"}
    assert run["dm_fz0_best_ml_vs_best_baseline"]["ml"] in run["ml_models"]
    assert run["hybrid_gjr"]["fitted_quantile"] == 0.025
    for name in ("hybrid_gjr", "combo"):
        m = doc["models"][name]
        assert m["violations"] == int(np.sum(res.returns < -res.paths[name].var))
        assert 0.0 < m["mean_var"] < m["mean_es"] < 0.3


def test_combo_options__lead_days__window_capped_by_spare_returns_unless_given() -> None:
    assert ComboOptions(500).lead_days(391) == 391  # ETH: window 500 + 500 test days leave 391
    assert ComboOptions(500).lead_days(2000) == 500
    assert ComboOptions(500, lead=250).lead_days(391) == 250


def test_run_backtest__combo_named_without_options__config_error(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="combo"):
        run_backtest(
            shared_data / BTC, "BTC-USD", 0.025, 300, 40, 1, tmp_path, ["hs", "combo"], workers=1, sims=0
        )
