"""Exponential Hawkes: the fast excitation sums against the plain recursion, the likelihood against
a brute-force sum, parameter recovery from a simulation with known parameters, and the closed-form
24-hour expectation against simulated continuations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from oracle_node.errors import ModelError
from oracle_node.research.cascade.hawkes import (
    HawkesParams,
    excitation_sums,
    excitation_sums_loop,
    expected_count,
    fit_hawkes,
    log_likelihood,
    simulate,
    simulate_paths,
)


@pytest.mark.parametrize("beta", [0.01, 1.0, 40.0, 900.0])
def test_excitation_sums__blocked__equal_the_plain_recursion(beta: float) -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0.0, 400.0, 3000))
    t[10:15] = t[10]  # same-second events (one block, several liquidations)
    assert_allclose(excitation_sums(t, beta), excitation_sums_loop(t, beta), rtol=1e-10, atol=1e-300)


def test_log_likelihood__small_sample__equals_brute_force_sum() -> None:
    t = np.array([0.3, 0.9, 1.0, 2.5, 4.0])
    p = HawkesParams(0.7, 0.9, 2.0)
    lam = [p.mu + p.alpha * sum(math.exp(-p.beta * (ti - tj)) for tj in t[:i]) for i, ti in enumerate(t)]
    compensator = p.mu * 5.0 + sum(p.alpha / p.beta * (1 - math.exp(-p.beta * (5.0 - ti))) for ti in t)
    assert log_likelihood(t, 5.0, p) == pytest.approx(sum(math.log(x) for x in lam) - compensator, rel=1e-12)


@pytest.mark.parametrize(("mu", "alpha", "beta"), [(0.5, 0.8, 1.2), (2.0, 6.0, 12.0)])
def test_fit_hawkes__simulated_known_parameters__recovered(mu: float, alpha: float, beta: float) -> None:
    true = HawkesParams(mu, alpha, beta)
    t = simulate(np.random.default_rng(11), true, 1500.0)
    fit = fit_hawkes(t, 1500.0)
    assert fit.mu == pytest.approx(mu, rel=0.2)
    assert fit.beta == pytest.approx(beta, rel=0.2)
    assert fit.branching == pytest.approx(true.branching, abs=0.06)


def test_fit_hawkes__too_few_events__model_error() -> None:
    with pytest.raises(ModelError, match="at least 10 events"):
        fit_hawkes(np.array([1.0, 2.0]), 3.0)


def test_expected_count__closed_form__matches_simulated_mean() -> None:
    p = HawkesParams(2.0, 3.0, 5.0)
    _, path = simulate_paths(np.random.default_rng(5), p, excitation=20.0, horizon=1.0, n_paths=20000)
    counts = np.bincount(path, minlength=20000)
    assert counts.mean() == pytest.approx(expected_count(p, 20.0, 1.0), rel=0.03)


def test_simulate__stationary_rate__mu_over_one_minus_n() -> None:
    p = HawkesParams(1.0, 1.0, 2.0)
    t = simulate(np.random.default_rng(2), p, 4000.0)
    assert t.size / 4000.0 == pytest.approx(p.mu / (1 - p.branching), rel=0.08)
    assert np.all(np.diff(t) >= 0)
