"""Quantile / ES maths against scipy.stats and numerical integration; hypothesis for invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from oracle_node.errors import ModelError
from oracle_node.models.tails import (
    loss_fractions,
    normal_es,
    normal_quantile,
    std_t_es,
    std_t_es_ratio,
    std_t_quantile,
)

alphas = st.floats(min_value=0.001, max_value=0.2)
nus = st.floats(min_value=2.1, max_value=200.0)


def _t_es_numeric(alpha: float, nu: float) -> float:
    s = math.sqrt((nu - 2) / nu)
    x = stats.t.ppf(alpha, nu)
    val, _ = integrate.quad(lambda u: u * stats.t.pdf(u, nu), -np.inf, x, limit=200)
    return s * val / alpha


def test_std_t_quantile__nu_5__scipy_scaled() -> None:
    assert std_t_quantile(0.01, 5.0) == pytest.approx(stats.t.ppf(0.01, 5.0) * math.sqrt(3 / 5), rel=1e-14)


def test_std_t_es__nu_4__numerical_integral() -> None:
    assert std_t_es(0.01, 4.0) == pytest.approx(_t_es_numeric(0.01, 4.0), rel=1e-8)


def test_normal_es__alpha_1pct__known_value() -> None:
    assert normal_quantile(0.01) == pytest.approx(-2.3263478740, rel=1e-9)
    assert normal_es(0.01) == pytest.approx(-2.6652142203, rel=1e-9)


def test_std_t__nu_below_2__model_error() -> None:
    with pytest.raises(ModelError, match=r"nu = 1\.5"):
        std_t_quantile(0.01, 1.5)


@settings(max_examples=60, deadline=None)
@given(alpha=alphas, nu=nus)
def test_std_t_es__random__matches_integral_and_below_quantile(alpha: float, nu: float) -> None:
    q, es = std_t_quantile(alpha, nu), std_t_es(alpha, nu)
    assert es < q < 0
    assert es == pytest.approx(_t_es_numeric(alpha, nu), rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(alpha=alphas, nu=st.floats(min_value=2.1, max_value=50.0))
def test_std_t_es_ratio__random__above_normal_and_decreasing_in_nu(alpha: float, nu: float) -> None:
    ratio = std_t_es_ratio(alpha, nu)
    normal_ratio = normal_es(alpha) / normal_quantile(alpha)
    assert ratio > normal_ratio > 1.0
    assert std_t_es_ratio(alpha, nu * 2) < ratio


def test_std_t__large_nu__normal_limit() -> None:
    assert std_t_quantile(0.01, 1e6) == pytest.approx(normal_quantile(0.01), rel=1e-5)
    assert std_t_es(0.01, 1e6) == pytest.approx(normal_es(0.01), rel=1e-5)


@settings(max_examples=100, deadline=None)
@given(
    q=st.floats(min_value=-3.0, max_value=-1e-6),
    k=st.floats(min_value=1.0, max_value=3.0),
    qh=st.floats(min_value=1e-6, max_value=3.0),
    kh=st.floats(min_value=1.0, max_value=3.0),
)
def test_loss_fractions__random__monotone_map_of_quantiles(q: float, k: float, qh: float, kh: float) -> None:
    var_l, es_l, var_s, es_s = loss_fractions(q, q * k, qh, qh * kh)
    assert var_l == pytest.approx(1 - math.exp(q), rel=1e-12)
    assert var_s == pytest.approx(math.exp(qh) - 1, rel=1e-12)
    assert 0 <= var_l <= es_l < 1
    assert 0 <= var_s <= es_s
