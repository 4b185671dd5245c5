"""Retrain policies (research.retrain): causal, on schedule, and drift-triggered on synthetic data.

Synthetic daily closes: iid normal returns at 2 % a day, optionally x4 from day `shift` on. The drift
monitor needs 825 days of history before its first verdict, hence 1,300 days. Most tests use a cheap
stand-in fitter (raw VaR = 2.33 EWMA sigma): the retrain decisions do not depend on the model (the
verdict monitors EWMA-normal coverage and the features), and a real fit costs ~1 s. The poisoned-future
test trains the real model (`train_bundle`, qgbm) on each retrain day.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oracle_node.drift.coverage import Coverage
from oracle_node.drift.live import retrain_due
from oracle_node.drift.monitor import DriftVerdict
from oracle_node.errors import ConfigError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ml_features import MlRows, ml_rows
from oracle_node.research.retrain.evaluate import span_scores, yearly_scores
from oracle_node.research.retrain.policy import Fitted, Policy, PolicyPath, walk
from oracle_node.research.retrain.report import recommendation, write_study
from oracle_node.research.retrain.run import StudyConfig, row_dates, run_study

T0 = 1420156800.0  # 2015-01-02 00:00 UTC: the close of 2015-01-01
ALPHA = 0.01


def _history(
    n: int, shift: int | None = None, seed: int = 0, poison_after: int | None = None
) -> MarketHistory:
    rng = np.random.default_rng(seed)
    vol = np.full(n - 1, 0.02)
    if shift is not None:
        vol[shift:] *= 4.0
    r = vol * rng.standard_normal(n - 1)
    if poison_after is not None:  # returns after close `poison_after`: a crash of 20-40 % a day
        r[poison_after:] = -0.2 - 0.2 * np.random.default_rng(99).random(n - 1 - poison_after)
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    return MarketHistory("SYN", T0 + 86400.0 * np.arange(n), close)


def _ewma_fitter(rows: MlRows, t: int) -> Fitted:
    cal_start = t - 300
    return Fitted(t, cal_start, 2.33 * rows.scale[cal_start:])


def test_walk__future_poisoned__same_fits_and_forecasts_up_to_t() -> None:
    t = 1000
    clean, poisoned = ml_rows(_history(1100)), ml_rows(_history(1100, poison_after=t))
    assert not np.allclose(clean.returns[t:1099], poisoned.returns[t:1099])
    policy = Policy("schedule", every=100)
    a, b = (walk(r, policy, 800, 1099, ALPHA) for r in (clean, poisoned))  # the real qgbm fits
    assert a.fit_rows == b.fit_rows == (800, 900, 1000)
    k = t - 800 + 1  # forecasts of rows 800 .. t
    np.testing.assert_array_equal(a.var[:k], b.var[:k])
    np.testing.assert_array_equal(a.es[:k], b.es[:k])
    assert not np.allclose(a.var[k:], b.var[k:])  # the poison does reach the later forecasts


def test_walk__drift_policy_future_poisoned__same_retrain_days_up_to_t() -> None:
    t = 1060
    clean = ml_rows(_history(1300, shift=1000))
    poisoned = ml_rows(_history(1300, shift=1000, poison_after=t))
    policy = Policy("drift", min_gap=30)
    a, b = (walk(r, policy, 900, 1299, ALPHA, _ewma_fitter) for r in (clean, poisoned))
    assert [k for k in a.fit_rows if k <= t] == [k for k in b.fit_rows if k <= t]
    assert len([k for k in a.fit_rows if k <= t]) >= 2
    np.testing.assert_array_equal(a.var[: t - 900 + 1], b.var[: t - 900 + 1])


@pytest.mark.parametrize("every", [7, 45, 120])
def test_walk__schedule__retrains_exactly_every_n_days(every: int) -> None:
    rows = ml_rows(_history(1000))
    path = walk(rows, Policy("schedule", every=every), 400, 999, ALPHA, _ewma_fitter)
    assert path.fit_rows == tuple(range(400, 999, every))


def test_walk__never__one_fit_on_the_first_day() -> None:
    path = walk(ml_rows(_history(1000)), Policy("never"), 400, 999, ALPHA, _ewma_fitter)
    assert path.fit_rows == (400,) and path.retrains == ()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_walk__drift_after_regime_shift__retrains_within_two_weeks(seed: int) -> None:
    rows = ml_rows(_history(1300, shift=1000, seed=seed))
    path = walk(rows, Policy("drift", min_gap=30), 900, 1299, ALPHA, _ewma_fitter)
    assert path.retrains and 1000 < path.retrains[0] <= 1014
    assert np.all(np.diff(path.fit_rows) >= 30)


def test_walk__drift_on_stationary_series__no_retrain() -> None:
    """The monitor's feature check has false alarms on iid data: of seeds 0..5, 0 and 4 raise one
    episode of tail-PSI drift (log_har_m 0.74 and 0.89 > 0.5) in these 400 days (measured, see
    docs/retrain-policy.md). Seed 1 is a quiet one; what this pins is that nothing else (the gap, the
    coverage check, the first fit) makes the policy retrain."""
    rows = ml_rows(_history(1300, seed=1))
    path = walk(rows, Policy("drift", min_gap=30), 900, 1299, ALPHA, _ewma_fitter)
    assert path.fit_rows == (900,)


def test_policy__schedule_without_period__config_error() -> None:
    with pytest.raises(ConfigError, match="every"):
        Policy("schedule")


def _path(returns: list[float], var: list[float], first: int, fits: tuple[int, ...]) -> PolicyPath:
    r, v = np.array(returns), np.array(var)
    return PolicyPath(Policy("never"), first, v, 1.2 * v, r, fits, 0.0)


def test_span_scores__hand_path__breaches_and_retrains_in_span() -> None:
    dates = [f"2019-12-{d:02d}" for d in range(1, 32)] + [f"2020-01-{d:02d}" for d in range(1, 32)]
    r = [0.0] * 62
    r[5], r[40] = -0.2, -0.3  # breaches on 2019-12-06 and 2020-01-10
    path = _path(r, [0.1] * 62, 0, (0, 10, 45))
    s = span_scores(path, dates, "2019-12-01", "2020-01-31", 0.05)
    assert (s["breaches"], s["days"], s["retrains"]) == (2, 62, 2)
    years = yearly_scores(path, dates, "2019-12-01", "2020-01-31", 0.05)
    assert {y: (v["breaches"], v["retrains"]) for y, v in years.items()} == {"2019": (1, 1), "2020": (1, 1)}


def test_run_study__evaluation_span_poisoned__same_choices() -> None:
    """N and the gap are chosen on the validation span only: poisoning everything after it changes
    the evaluation scores but not the choice."""
    cfg = StudyConfig(start="2017-06-01", valid_end="2017-12-31", every_grid=(30, 120), gap_grid=(30, 90))
    h = _history(1300, shift=1000)
    clean = run_study(ml_rows(h), cfg, fitter=_ewma_fitter)
    cut = row_dates(ml_rows(h)).index("2018-01-01")
    poisoned = run_study(ml_rows(_history(1300, shift=1000, poison_after=cut)), cfg, fitter=_ewma_fitter)
    assert clean.chosen == poisoned.chosen
    assert clean.validation == poisoned.validation
    assert clean.evaluation["never"]["fz0"] != poisoned.evaluation["never"]["fz0"]
    best = min(clean.validation[m]["fz0"] for m in clean.paths if m.startswith("schedule"))
    assert clean.validation[clean.chosen["schedule"]]["fz0"] == best


@pytest.mark.parametrize(
    ("retrain", "age", "due"), [(True, 90, True), (True, 89, False), (False, 400, False)]
)
def test_retrain_due__verdict_and_model_age__default_gap_90(retrain: bool, age: int, due: bool) -> None:
    v = DriftVerdict(0, {}, Coverage(30, 0, 0.3, 1.0), retrain, False, retrain)
    assert retrain_due(v, age) is due
    assert retrain_due(None, 1000) is False


def test_write_study__synthetic__metrics_json_names_the_lowest_fz0_policy(tmp_path: Path) -> None:
    cfg = StudyConfig(start="2017-06-01", valid_end="2017-12-31", every_grid=(30,), gap_grid=(30,))
    study = run_study(ml_rows(_history(1300, shift=1000)), cfg, fitter=_ewma_fitter)
    write_study(tmp_path, study, {"asset": "SYN"})
    doc = json.loads((tmp_path / "metrics.json").read_text())
    fz0 = {m: doc["policies"][m]["evaluation"]["fz0"] for m in doc["chosen"].values()}
    assert doc["recommendation"]["policy"] == min(fz0, key=fz0.__getitem__)
    assert doc["policies"]["schedule_30d"]["fit_days"][:2] == ["2017-06-01", "2017-07-01"]
    assert set(doc["recommendation"]["dm_vs_other_chosen"]) == set(fz0) - {doc["recommendation"]["policy"]}
    assert recommendation(study) in (tmp_path / "report.md").read_text()
    assert len((tmp_path / "forecasts.csv").read_text().splitlines()) == 1 + study.paths["never"].var.size
