"""Hansen's skewed t: closed forms against arch's SkewStudent and numerical integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from arch.univariate.distribution import SkewStudent
from scipy import integrate

from oracle_node.errors import ModelError
from oracle_node.models.tails import std_t_es, std_t_quantile
from oracle_node.research.backtest.skewt import skewt_ab, skewt_left_tail, skewt_ppf

CASES = [(3.1, 0.02), (4.0, -0.2), (8.0, 0.3), (30.0, -0.5)]


def _pdf(z: float, eta: float, lam: float) -> float:
    ll = SkewStudent().loglikelihood(np.array([eta, lam]), np.array([z]), np.array([1.0]), individual=True)
    return float(np.exp(ll)[0])


@pytest.mark.parametrize(("eta", "lam"), CASES)
def test_skewt_ppf__grid__matches_arch(eta: float, lam: float) -> None:
    u = np.array([0.001, 0.01, 0.025, 0.2, 0.5, 0.8, 0.975, 0.999])
    np.testing.assert_allclose(
        skewt_ppf(u, eta, lam), SkewStudent().ppf(u, [eta, lam]), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize(("eta", "lam"), CASES)
@pytest.mark.parametrize("alpha", [0.01, 0.025])
def test_skewt_left_tail__es__matches_integral_of_density(eta: float, lam: float, alpha: float) -> None:
    """ES = (1/alpha) * integral_{-inf}^{q} z f(z) dz with f from arch's log-likelihood."""
    q, es = skewt_left_tail(alpha, eta, lam)
    mass, _ = integrate.quad(_pdf, -np.inf, q, args=(eta, lam))
    tail, _ = integrate.quad(lambda z: z * _pdf(z, eta, lam), -np.inf, q)
    assert mass == pytest.approx(alpha, rel=1e-6)
    assert es == pytest.approx(tail / alpha, rel=1e-6)
    assert es < q < 0


def test_skewt__lambda_zero__is_the_unit_variance_t() -> None:
    a, b = skewt_ab(5.0, 0.0)
    assert (a, b) == (0.0, 1.0)
    q, es = skewt_left_tail(0.01, 5.0, 0.0)
    assert q == pytest.approx(std_t_quantile(0.01, 5.0), rel=1e-12)
    assert es == pytest.approx(std_t_es(0.01, 5.0), rel=1e-12)


def test_skewt_ppf__large_sample__unit_variance_zero_mean() -> None:
    u = (np.arange(200_000) + 0.5) / 200_000
    z = skewt_ppf(u, 6.0, -0.3)
    assert abs(z.mean()) < 2e-3
    assert math.sqrt(z.var()) == pytest.approx(1.0, abs=0.02)


def test_skewt__bad_parameters__raise() -> None:
    with pytest.raises(ModelError, match="eta"):
        skewt_left_tail(0.01, 2.0, 0.0)
    with pytest.raises(ModelError, match="left part"):
        skewt_left_tail(0.3, 5.0, 0.5)
