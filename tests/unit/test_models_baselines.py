"""EWMA and GJR-GARCH-t against hand loops, arch and scipy; the scheduled baseline with fallbacks."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from arch import arch_model
from scipy import stats

from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.baseline import BaselineForecaster, anchor_ts
from oracle_node.models.ewma import EwmaModel
from oracle_node.models.forecast import Flag
from oracle_node.models.gjr import GjrGarchT
from oracle_node.research.training.train_data import load_training_histories

DAY = 86_400.0


@pytest.fixture(scope="module")
def btc(shared_data) -> MarketHistory:
    return load_training_histories(shared_data)["BTC-USD"]


@pytest.fixture(scope="module")
def btc_returns(btc: MarketHistory) -> np.ndarray:
    return np.diff(np.log(btc.close))


def _ewma_hand(r: np.ndarray, lam: float) -> float:
    v = float(np.mean(r[:30] ** 2))
    for x in r:
        v = lam * v + (1 - lam) * x * x
    return v


def test_ewma__real_returns__equals_hand_loop(btc_returns: np.ndarray) -> None:
    r = btc_returns[:1500]
    res = EwmaModel(0.94).fit(r)
    assert res.variance == pytest.approx(_ewma_hand(r, 0.94), rel=1e-13)
    fc = res.forecast()
    sigma = math.sqrt(res.variance)
    assert fc.sigma_1d == sigma
    assert fc.var99 == pytest.approx(1 - math.exp(sigma * stats.norm.ppf(0.01)), rel=1e-12)
    assert fc.es99 == pytest.approx(
        1 - math.exp(-sigma * stats.norm.pdf(stats.norm.ppf(0.01)) / 0.01), rel=1e-12
    )


def test_ewma_update__new_returns__equals_refit_on_longer_series(btc_returns: np.ndarray) -> None:
    model = EwmaModel()
    updated = model.fit(btc_returns[:1000]).update(btc_returns[1000:1010])
    assert updated.variance == pytest.approx(model.fit(btc_returns[:1010]).variance, rel=1e-13)
    assert updated.n_obs == 1010


def test_ewma__non_finite_return__model_error_names_index() -> None:
    with pytest.raises(ModelError, match=r"return \[2\] = nan"):
        EwmaModel().fit([0.01, 0.02, float("nan")])


def test_gjr_fit__real_btc_1000_days__matches_arch(btc_returns: np.ndarray) -> None:
    r = btc_returns[1000:2000]
    res = GjrGarchT(window=1000).fit(r)
    ref = arch_model(100 * r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t", rescale=False).fit(
        disp="off"
    )
    p = res.params
    assert [p.mu, p.omega, p.alpha, p.gamma, p.beta, p.nu] == pytest.approx(ref.params.tolist(), rel=1e-9)
    expected_var = ref.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]
    assert res.variance == pytest.approx(expected_var, rel=1e-10)


def test_gjr_update__fixed_params__matches_arch_filter(btc_returns: np.ndarray) -> None:
    r = btc_returns[1000:2030]
    res = GjrGarchT(window=1000).fit(r[:1000])
    p = res.params
    fixed = arch_model(100 * r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t", rescale=False).fix(
        [p.mu, p.omega, p.alpha, p.gamma, p.beta, p.nu]
    )
    expected = fixed.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]
    # arch back-casts the start; the 1000-day-old start is forgotten after 1030 days to ~1e-9
    assert res.update(r[1000:]).variance == pytest.approx(expected, rel=1e-6)


def test_gjr_forecast__var_es__standardised_student_t(btc_returns: np.ndarray) -> None:
    res = GjrGarchT().fit(btc_returns[:1500])
    nu, sigma = res.params.nu, math.sqrt(res.variance) / 100
    s = math.sqrt((nu - 2) / nu)
    q = sigma * s * stats.t.ppf(0.01, nu)
    tail_mean = stats.t.expect(lambda x: x, args=(nu,), ub=stats.t.ppf(0.01, nu), conditional=True)
    fc = res.forecast()
    assert fc.sigma_1d == pytest.approx(sigma, rel=1e-14)
    assert fc.var99 == pytest.approx(1 - math.exp(q), rel=1e-10)
    assert fc.var99_short == pytest.approx(math.exp(-q) - 1, rel=1e-10)
    assert fc.es99 == pytest.approx(1 - math.exp(sigma * s * tail_mean), rel=1e-6)
    assert fc.nu == nu


def test_gjr_fit__too_few_returns__model_error() -> None:
    with pytest.raises(ModelError, match="at least 250"):
        GjrGarchT().fit(np.full(100, 0.01))


def _calendar_history(close: np.ndarray, start_day: int = 20_000) -> MarketHistory:
    return MarketHistory("BTC", DAY * (start_day + np.arange(close.size)), close)


def test_baseline__older_history_prefix__same_forecast_bytes(btc: MarketHistory) -> None:
    a = BaselineForecaster(GjrGarchT(), EwmaModel()).forecast(btc)
    b = BaselineForecaster(GjrGarchT(), EwmaModel()).forecast(btc.tail(1200))
    assert a == b  # the fit window is anchored and fixed-length: older data does not matter


def test_baseline__rounds_between_anchors__one_fit_then_recursion(btc: MarketHistory) -> None:
    base = BaselineForecaster(GjrGarchT(), EwmaModel(), refit_every_days=7, fit_lag_days=1)
    start = int(anchor_ts(float(btc.ts[3000]), 7) // DAY)
    fcs = [base.forecast(btc.until(d * DAY)) for d in range(start + 1, start + 8)]
    assert base.fit_count == 1
    assert len({f.var99 for f in fcs}) == 7  # the variance recursion moves every day
    base.forecast(btc.until((start + 8) * DAY))
    assert base.fit_count == 2


def test_baseline__prefit_next_anchor__round_does_not_fit(btc: MarketHistory) -> None:
    base = BaselineForecaster(GjrGarchT(), EwmaModel(), refit_every_days=7, fit_lag_days=1)
    start = int(anchor_ts(float(btc.ts[3000]), 7) // DAY)
    base.forecast(btc.until(start * DAY))  # cold cache: the previous anchor is fitted inline
    assert base.prefit(btc.until(start * DAY)) is True  # background job: this anchor's fit
    fits = base.fit_count
    cold = BaselineForecaster(GjrGarchT(), EwmaModel(), refit_every_days=7, fit_lag_days=1)
    assert base.forecast(btc.until((start + 1) * DAY)) == cold.forecast(btc.until((start + 1) * DAY))
    assert base.fit_count == fits


def test_baseline__fit_fails__ewma_with_flags(btc: MarketHistory, monkeypatch: pytest.MonkeyPatch) -> None:
    gjr = GjrGarchT()

    def boom(_returns: object) -> None:
        raise ModelError("gjr_garch_t: optimiser did not converge")

    monkeypatch.setattr(gjr, "fit", boom)
    base = BaselineForecaster(gjr, EwmaModel())
    fc = base.forecast(btc)
    assert fc.flags == {Flag.GJR_FIT_FAILED, Flag.FALLBACK_EWMA}
    r = np.diff(np.log(btc.close[-1001:]))
    assert fc.sigma_1d == pytest.approx(math.sqrt(EwmaModel().fit(r).variance), rel=1e-14)
    assert "did not converge" in (base.fit_failure("BTC-USD") or "")


def test_baseline__short_history__insufficient_history_flag() -> None:
    close = 100 * np.exp(np.cumsum(np.r_[0.0, 0.02 * np.sin(np.arange(99))]))
    fc = BaselineForecaster(GjrGarchT(), EwmaModel()).forecast(_calendar_history(close))
    assert fc.flags == {Flag.INSUFFICIENT_HISTORY, Flag.FALLBACK_EWMA}
    assert fc.model == "ewma"


def test_baseline__revised_history__refits(btc: MarketHistory) -> None:
    base = BaselineForecaster(GjrGarchT(), EwmaModel())
    h = btc.tail(1100)
    base.forecast(h)
    close = h.close.copy()
    close[500] *= 1.05  # a revised old close inside the fit window
    revised = replace(h, close=close)
    base.forecast(revised)
    assert base.fit_count == 2
