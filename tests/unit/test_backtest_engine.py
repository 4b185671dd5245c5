"""Walk-forward engine: no look-ahead, refit schedule, exact baseline values, process split."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from oracle_node.errors import ConfigError
from oracle_node.models.ewma import ewma_variance_path
from oracle_node.models.tails import normal_es, normal_quantile
from oracle_node.research.backtest import engine
from oracle_node.research.backtest.base import DayForecast, empirical_tail
from oracle_node.research.backtest.engine import WalkForwardConfig, walk_forward


def garch_returns(n: int, seed: int = 11) -> np.ndarray:
    """GJR-GARCH(1,1)-t returns (fractions), a crypto-like daily series."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(5, n) * math.sqrt(3 / 5)
    r, v = np.empty(n), 0.0009
    for t in range(n):
        r[t] = math.sqrt(v) * z[t]
        v = 2e-5 + (0.05 + (0.08 if r[t] < 0 else 0.0)) * r[t] ** 2 + 0.88 * v
    return r


def test_walk_forward__perturbed_future__earlier_forecasts_unchanged() -> None:
    """Forecast for day t sees returns[:t]: changing returns[t0:] must leave days <= t0 bit-identical,
    and day t0 + 1 (which sees the change) must move, for every model."""
    r = garch_returns(420)
    cfg = WalkForwardConfig(alpha=0.025, window=300, test_days=25, refit_every=1, sims=50)
    start = r.size - cfg.test_days
    i0 = 12
    r2 = r.copy()
    r2[start + i0] = -0.4  # a crash on test day i0 ...
    r2[start + i0 + 1 :] *= 3.0  # ... and a wilder future
    a, b = walk_forward(r, cfg), walk_forward(r2, cfg)
    for name in engine.DEFAULT_MODELS:
        np.testing.assert_array_equal(a[name].var[: i0 + 1], b[name].var[: i0 + 1], err_msg=name)
        np.testing.assert_array_equal(a[name].es[: i0 + 1], b[name].es[: i0 + 1], err_msg=name)
        np.testing.assert_array_equal(a[name].draws[:, : i0 + 1], b[name].draws[:, : i0 + 1], err_msg=name)
        assert b[name].var[i0 + 1] > a[name].var[i0 + 1], name


class Spy:
    names = ("spy",)
    cost = 0.0
    calls: ClassVar[list[tuple[int, bool, float, bool]]] = []

    @property
    def stats(self) -> dict[str, int]:
        return {"calls": len(self.calls)}

    def forecast(self, past: np.ndarray, refit: bool, rng: np.random.Generator) -> tuple[DayForecast, ...]:
        self.calls.append((past.size, refit, float(past[-1]), past.flags.writeable))
        return (DayForecast(0.01, 0.02, None),)


def test_walk_forward__spy_model__sees_prefix_read_only_and_refit_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(engine.FAMILIES, "spy", lambda _cfg: Spy())
    monkeypatch.setitem(engine.MODEL_FAMILY, "spy", "spy")
    Spy.calls = []
    r = np.arange(1, 81, dtype=float) / 1000.0
    cfg = WalkForwardConfig(alpha=0.01, window=60, test_days=12, refit_every=5, sims=0)
    out = walk_forward(r, cfg, models=("spy",))
    sizes = [c[0] for c in Spy.calls]
    assert sizes == list(range(68, 80))
    assert [c[2] for c in Spy.calls] == [r[s - 1] for s in sizes]  # the last value seen is day t-1
    assert [i for i, c in enumerate(Spy.calls) if c[1]] == [0, 5, 10]
    assert not any(c[3] for c in Spy.calls)
    assert out["spy"].stats == {"calls": 12}


def test_historical_simulation__known_window__kth_order_statistic() -> None:
    """window 100, alpha 5 %: k = 5, VaR = -(5th smallest), ES = -mean(5 smallest)."""
    r = garch_returns(130, seed=3)
    cfg = WalkForwardConfig(alpha=0.05, window=100, test_days=3, sims=0)
    out = walk_forward(r, cfg, models=("hs",))["hs"]
    for i in range(3):
        t = r.size - 3 + i
        low = np.sort(r[t - 100 : t])[:5]
        assert out.var[i] == pytest.approx(-low[-1], abs=0.0)
        assert out.es[i] == pytest.approx(-low.mean(), rel=1e-14)


def test_empirical_tail__ten_values__hand_value() -> None:
    """alpha .2, n 10: k = 2; sorted -5, -3, ... -> VaR 3, ES 4."""
    var, es = empirical_tail(np.array([1.0, -3.0, 2.0, -5.0, 0.0, 4.0, 1.0, -1.0, 3.0, 2.0]), 0.2)
    assert (var, es) == (3.0, 4.0)


def test_ewma_normal__refit_every_3__matches_reference_recursion() -> None:
    """Day 0 seeds on the window (mean of the first 30 squares) and runs the recursion; days 1 and 2
    advance it by the new returns only; VaR = -sigma z_alpha, ES = sigma phi(z_alpha)/alpha."""
    r = garch_returns(260, seed=5)
    cfg = WalkForwardConfig(alpha=0.01, window=200, test_days=3, refit_every=3, sims=0)
    out = walk_forward(r, cfg, models=("ewma_normal",))["ewma_normal"]
    t0 = r.size - 3
    w = r[t0 - 200 : t0]
    v = ewma_variance_path(w, 0.94, float(np.mean(w[:30] ** 2)))[-1]
    for i in range(3):
        if i:
            v = 0.94 * v + 0.06 * r[t0 + i - 1] ** 2
        assert out.var[i] == pytest.approx(-math.sqrt(v) * normal_quantile(0.01), rel=1e-12)
        assert out.es[i] == pytest.approx(-math.sqrt(v) * normal_es(0.01), rel=1e-12)


def test_walk_forward__two_processes__identical_to_one() -> None:
    r = garch_returns(330, seed=9)
    cfg = WalkForwardConfig(alpha=0.025, window=250, test_days=8, sims=20)
    models = ("hs", "ewma_normal", "garch_t")
    seen: list[tuple[str, int, int]] = []
    one = walk_forward(r, cfg, models, workers=1)
    two = walk_forward(r, cfg, models, progress=lambda *a: seen.append(a), workers=2)
    for m in models:
        np.testing.assert_array_equal(one[m].var, two[m].var)
        np.testing.assert_array_equal(one[m].draws, two[m].draws)
    assert {(task, done) for task, done, _ in seen if done == 8} == {(m, 8) for m in models}


def test_split_by_cost__gjr_alone__others_together() -> None:
    cfg = WalkForwardConfig(alpha=0.01, window=100, test_days=10)
    groups = engine.split_by_cost(["hs", "ewma_normal", "garch_t", "gjr_skewt"], cfg, 2)
    assert sorted(map(sorted, groups)) == [["ewma_normal", "garch_t", "hs"], ["gjr_skewt"]]


def test_walk_forward__too_short_series__config_error() -> None:
    cfg = WalkForwardConfig(alpha=0.01, window=100, test_days=50)
    with pytest.raises(ConfigError, match="150 returns needed, the series has 120"):
        walk_forward(np.zeros(120), cfg)


def test_walk_forward__unknown_model__config_error() -> None:
    cfg = WalkForwardConfig(alpha=0.01, window=100, test_days=5)
    with pytest.raises(ConfigError, match="unknown models \\['lstm'\\]"):
        walk_forward(garch_returns(120), cfg, models=("lstm",))
