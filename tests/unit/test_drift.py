"""Drift monitors: PSI and rolling coverage against hand-computed values, and the monitor on real BTC
data: it fires in the 2020-03 crash and the 2022-05 LUNA collapse and stays quiet in calm periods."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from oracle_node.drift.coverage import breaches, rolling_coverage
from oracle_node.drift.monitor import DriftConfig, DriftMonitor
from oracle_node.drift.psi import psi, tail_psi
from oracle_node.errors import ConfigError, ModelError
from oracle_node.models.ml_features import ML_FEATURES, MlRows, ml_rows
from oracle_node.models.tails import normal_quantile
from oracle_node.research.backtest.prices import load_prices


def test_psi__all_mass_in_lower_half__hand_value() -> None:
    ref, cur = np.arange(100.0), np.full(30, 10.0)
    # bins split at the median: p = (0.5, 0.5), q = (1, 0 -> 1e-4)
    expected = 0.5 * math.log(2.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert psi(ref, cur, bins=2) == pytest.approx(expected, rel=1e-12)


def test_psi__same_distribution__near_zero() -> None:
    rng = np.random.default_rng(1)
    assert psi(rng.standard_normal(20_000), rng.standard_normal(20_000)) < 0.002


def test_tail_psi__three_of_thirty_beyond_p99__hand_value() -> None:
    ref = np.arange(1000.0)  # 10 of 1000 above the 0.99 quantile (989.01)
    cur = np.r_[np.zeros(27), np.full(3, 995.0)]
    expected = (0.9 - 0.99) * math.log(0.9 / 0.99) + (0.1 - 0.01) * math.log(0.1 / 0.01)
    assert tail_psi(ref, cur, 0.99) == pytest.approx(expected, rel=1e-12)


def test_tail_psi__current_below_reference_tail__zero() -> None:
    assert tail_psi(np.arange(1000.0), np.zeros(30), 0.99) == 0.0


def test_psi__too_few_reference_values__model_error() -> None:
    with pytest.raises(ModelError, match="reference has 5 finite values"):
        psi(np.arange(5.0), np.arange(3.0))


def test_rolling_coverage__three_breaches_in_thirty__binomial_tail() -> None:
    hits = np.zeros(30, dtype=bool)
    hits[[3, 9, 20]] = True
    q = 0.99
    p_le_2 = q**30 + 30 * 0.01 * q**29 + 435 * 0.01**2 * q**28
    cov = rolling_coverage(hits, 0.01)
    assert (cov.days, cov.breaches) == (30, 3)
    assert cov.expected == pytest.approx(0.3)
    assert cov.p_value == pytest.approx(1.0 - p_le_2, rel=1e-9)


def test_breaches__return_below_minus_var__counted() -> None:
    got = breaches(np.array([-0.05, -0.02, 0.03]), np.array([0.04, 0.04, 0.01]))
    assert got.tolist() == [True, False, False]


def test_monitor__unknown_feature__config_error() -> None:
    with pytest.raises(ConfigError, match="nope"):
        DriftMonitor(np.zeros((200, 2)), ("a", "b"), DriftConfig(features=("nope",)))


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> tuple[MlRows, list[str]]:
    h = load_prices(shared_data / "prices" / "btc_usd_daily_2015_2026.csv", "BTC-USD")
    return ml_rows(h), [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d") for t in h.ts.tolist()]


def _scan(btc: tuple[MlRows, list[str]], first: str, last: str) -> list:
    """Monitor trained on the two years before the window (ending a month earlier), monitoring the
    EWMA-normal 1 % VaR; day k's row predicts the return of the day starting at ts[k]."""
    rows, days = btc
    k0, k1 = days.index(first), days.index(last)
    monitor = DriftMonitor(rows.x[k0 - 760 : k0 - 30], ML_FEATURES)
    var = -normal_quantile(0.01) * rows.scale
    return monitor.scan(rows.x, rows.returns, var, range(k0, k1 + 1))


def test_monitor__covid_crash_2020_03__feature_drift_and_retrain(btc: tuple[MlRows, list[str]]) -> None:
    verdicts = _scan(btc, "2020-03-01", "2020-04-30")
    days = btc[1]
    fired = [days[v.day] for v in verdicts if v.flag]
    assert fired and fired[0] <= "2020-03-31"
    assert any(v.feature_drift and v.psi["log_har_m"] > 0.5 for v in verdicts)
    assert any(v.retrain for v in verdicts)


def test_monitor__luna_2022_05__coverage_drift_and_retrain(btc: tuple[MlRows, list[str]]) -> None:
    verdicts = _scan(btc, "2022-05-01", "2022-06-30")
    cov = [v for v in verdicts if v.coverage_drift]
    assert cov and all(v.retrain for v in cov)
    assert min(v.coverage.p_value for v in verdicts) < 0.01
    assert any(btc[1][v.day].startswith("2022-05") for v in cov)


@pytest.mark.parametrize(
    ("first", "last"),
    [("2019-09-01", "2019-10-31"), ("2023-06-01", "2023-08-31"), ("2024-04-01", "2024-06-30"),
     ("2025-05-01", "2025-07-31")],
)  # fmt: skip
def test_monitor__calm_periods__quiet(btc: tuple[MlRows, list[str]], first: str, last: str) -> None:
    verdicts = _scan(btc, first, last)
    assert len(verdicts) > 55
    assert not any(v.flag or v.retrain for v in verdicts)
    assert max(max(v.psi.values()) for v in verdicts) <= 0.5
