"""Vol shocks, offline side: no look-ahead (poisoned future, identical past), metrics on known inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from oracle_node.errors import ModelError
from oracle_node.options.shock_features import FEATURES, ShockInputs, build_features
from oracle_node.research.shocks import baselines
from oracle_node.research.shocks.metrics import pooled_pinball, side_metrics
from oracle_node.research.shocks.models import conformal_quantile
from oracle_node.research.shocks.walkforward import candidate_fitter, split, walk_forward
from tests.unit.shock_fixtures import LS, QR, synthetic_inputs

CUT = 330  # index of the last day whose data stays clean


def _poisoned(inp: ShockInputs, after_day: int, factor: float = 3.0) -> ShockInputs:
    """Every value labelled after `after_day` multiplied by `factor` (funding shifted)."""
    dv, px, fu = inp.dvol.copy(), inp.close.copy(), inp.funding.copy()
    dv[inp.dvol_day > after_day] *= factor
    px[inp.price_day > after_day] *= factor
    fu[inp.funding_day > after_day] += 0.01
    return ShockInputs(inp.dvol_day, dv, inp.price_day, px, inp.funding_day, fu)


def test_features__poisoned_future__rows_up_to_the_cut_unchanged() -> None:
    inp = synthetic_inputs()
    cut_day = int(inp.dvol_day[CUT])
    clean, dirty = build_features(inp), build_features(_poisoned(inp, cut_day))
    rows = clean.day <= cut_day
    np.testing.assert_array_equal(clean.x[rows], dirty.x[rows])
    assert not np.allclose(clean.x[~rows][:, 0], dirty.x[~rows][:, 0])  # the poison did reach later rows
    known = clean.day + clean.horizon <= cut_day
    np.testing.assert_array_equal(clean.y[known], dirty.y[known])
    assert clean.y[CUT] != dirty.y[CUT]  # the target of the cut day looks one day ahead


def test_features__truncated_history__same_row_as_the_full_history() -> None:
    inp = synthetic_inputs()
    full = build_features(inp)
    part = build_features(inp.until(int(inp.dvol_day[CUT])))
    np.testing.assert_array_equal(part.x[-1], full.x[CUT])
    assert np.isnan(part.y[-1])  # the future is not known
    assert full.x.shape[1] == len(FEATURES)


@pytest.mark.parametrize("candidate", [LS, QR], ids=lambda c: c.name)
def test_walk_forward__poisoned_future__past_forecasts_identical(candidate) -> None:
    inp = synthetic_inputs()
    cut_day = int(inp.dvol_day[320])  # a refit day: a refit that peeks one day ahead fails
    fitter = candidate_fitter(candidate, 0.99, 1)
    results = []
    for data in (inp, _poisoned(inp, cut_day)):
        frame = build_features(data)
        rows = np.flatnonzero(frame.ok & (frame.day >= frame.day[300]))
        results.append((frame.day[rows], walk_forward(frame, rows, fitter, refit_every=20)))
    (days, (up_a, down_a)), (_, (up_b, down_b)) = results
    past = days <= cut_day
    np.testing.assert_array_equal(up_a[past], up_b[past])
    np.testing.assert_array_equal(down_a[past], down_b[past])
    assert not np.allclose(up_a[~past], up_b[~past])  # later forecasts do see the poisoned data


def test_empirical_baseline__poisoned_future__past_forecasts_identical() -> None:
    inp = synthetic_inputs()
    cut_day = int(inp.dvol_day[CUT])
    out = []
    for data in (inp, _poisoned(inp, cut_day, factor=5.0)):
        f = build_features(data)
        rows = np.arange(250, f.day.size)
        out.append(baselines.empirical(f.day, f.y, rows, 1, 90, 0.99))
    past = np.arange(250, inp.dvol_day.size) <= CUT
    np.testing.assert_array_equal(out[0][0][past], out[1][0][past])
    assert not np.array_equal(out[0][0][~past], out[1][0][~past])


def test_empirical_baseline__known_window__numpy_quantile_of_the_last_changes() -> None:
    day = np.arange(10)
    y = np.array([0.0, 0.1, -0.1, 0.2, -0.3, 0.05, 0.0, 0.4, np.nan, 0.0])
    up, down = baselines.empirical(day, y, np.array([6]), 1, 4, 0.99)
    seen = y[[2, 3, 4, 5]]  # targets ending on or before day 6: rows 0..5, the last 4 of them
    assert up[0] == pytest.approx(np.quantile(seen, 0.99))
    assert down[0] == pytest.approx(np.quantile(seen, 0.01))


def test_fixed_baseline__deribit_shock__log_of_one_and_a_half_and_three_quarters() -> None:
    up, down = baselines.fixed(3)
    assert np.expm1(up) == pytest.approx([0.5] * 3)
    assert -np.expm1(down) == pytest.approx([0.25] * 3)


def test_side_metrics__known_inputs__hand_computed_values() -> None:
    y = np.array([0.1, -0.2, 0.05, 0.3])
    up = side_metrics(y, np.full(4, 0.2), "up", 0.99)
    assert up["exceedances"] == 1
    # pinball at 0.99: 0.99 (y - q) above q, 0.01 (q - y) below
    assert up["pinball"] == pytest.approx((0.001 + 0.004 + 0.0015 + 0.099) / 4)
    lr = -2 * ((3 * math.log(0.99) + math.log(0.01)) - (3 * math.log(0.75) + math.log(0.25)))
    assert up["kupiec_p"] == pytest.approx(stats.chi2.sf(lr, 1))
    assert up["mean_shock"] == pytest.approx(math.expm1(0.2))
    down = side_metrics(y, np.full(4, -0.1), "down", 0.99)
    assert down["exceedances"] == 1  # -0.2 < -0.1
    assert down["pinball"] == pytest.approx((0.01 * 0.2 + 0.99 * 0.1 + 0.01 * 0.15 + 0.01 * 0.4) / 4)
    assert down["mean_shock"] == pytest.approx(-math.expm1(-0.1))


def test_side_metrics__no_exceedance_in_365_days__kupiec_rejects_over_coverage() -> None:
    m = side_metrics(np.zeros(365), np.full(365, 0.4), "up", 0.99)
    assert m["exceedances"] == 0
    assert m["kupiec_p"] == pytest.approx(stats.chi2.sf(-2 * 365 * math.log(0.99), 1))
    assert m["kupiec_p"] < 0.01


def test_pooled_pinball__mean_of_the_two_sides() -> None:
    y = np.array([0.1, -0.2, 0.05, 0.3])
    up, down = np.full(4, 0.2), np.full(4, -0.1)
    want = 0.5 * (side_metrics(y, up, "up", 0.99)["pinball"] + side_metrics(y, down, "down", 0.99)["pinball"])
    assert pooled_pinball(y, up, down, 0.99) == pytest.approx(want)


def test_conformal_quantile__ranks() -> None:
    z = np.arange(1.0, 200.0)  # n = 199: (n + 1) * 0.99 = 198 -> the 198th smallest
    assert conformal_quantile(z, 0.99, upper=True) == 198.0
    assert conformal_quantile(z, 0.99, upper=False) == 2.0  # floor(200 * 0.01) = 2


def test_split__last_days_are_the_test__validation_before_it() -> None:
    frame = build_features(synthetic_inputs())
    sp = split(frame, 100, 80)
    assert sp.test.size == 80 and sp.val.size == 100
    assert frame.day[sp.val[-1]] + 1 == frame.day[sp.test[0]]
    assert np.isfinite(frame.y[sp.test]).all()


@pytest.mark.parametrize(
    ("val_days", "test_days", "text"),
    [
        (100, 1000, "the validation period has 0 usable days"),
        (25, 80, "the validation period has 25 usable days"),
    ],
)
def test_split__periods_too_short_or_beyond_the_data__model_error(val_days, test_days, text) -> None:
    frame = build_features(synthetic_inputs())
    with pytest.raises(ModelError, match=text):
        split(frame, val_days, test_days)


def test_walk_forward__too_little_training_history__model_error_naming_the_day() -> None:
    frame = build_features(synthetic_inputs())
    rows = np.flatnonzero(frame.ok)[100:130]
    with pytest.raises(ModelError, match=r"only \d+ training rows before 2022-"):
        walk_forward(frame, rows, candidate_fitter(LS, 0.99, 1), refit_every=30)
