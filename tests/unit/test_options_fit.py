"""The fast paths of the surface fit against plain references, and the calendar repair on a crossing pair."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from oracle_node.options import arbitrage, black76, qp
from oracle_node.options.calendar import fit_surfaces
from oracle_node.options.chain import OptionQuote, quote_columns, read_chain
from oracle_node.options.fit import FitConfig, SliceProblem, fit_slices
from oracle_node.options.forward import (
    ForwardEstimate,
    check_against_curve,
    estimate_forward,
    forward_from_columns,
)
from oracle_node.options.market import MarketSmile, build_smile, build_smiles
from oracle_node.options.metrics import quality, rmse_vol_pts
from oracle_node.options.svi import SviParams

from .test_options_cli import write_chain

BASE_ROWS = np.array([[0, -1, 0.999], [0, 1, 0.999], [0, -1, -1], [0, 1, -1], [1, -1, 1], [1, 1, 1]], float)


def _feasible_problems(rng: np.random.Generator, g: int, extra: int) -> tuple[np.ndarray, ...]:
    """Random SPD QPs with per-problem rows, each strictly feasible at a known point.

    (Degenerate vertices where four or more nearly dependent rows meet are solved only to about 1e-8
    or not at all; the fit then leaves that candidate unconstrained and its penalty rejects it.)
    """
    x = rng.normal(size=(g, 12, 3))
    a = np.einsum("gni,gnj->gij", x, x) + 0.1 * np.eye(3)
    b = rng.normal(size=(g, 3)) * 3
    rows = np.concatenate([np.broadcast_to(BASE_ROWS, (g, 6, 3)), rng.normal(size=(g, extra, 3))], axis=1)
    inside = rng.normal(size=(g, 3))
    h = np.einsum("gqi,gi->gq", rows, inside) - rng.uniform(0.05, 1.0, (g, 6 + extra))
    return a, b, rows, h


def test_solve_batch__per_problem_rows__matches_reference_loop() -> None:
    a, b, rows, h = _feasible_problems(np.random.default_rng(7), 200, 4)
    p, f = qp.solve_batch(a, b, rows, h)
    constrained = 0
    for i in range(len(a)):
        p_ref, f_ref = qp.solve_reference(a[i], b[i], rows[i], h[i])
        assert f[i] == pytest.approx(f_ref, rel=1e-9, abs=1e-10)
        np.testing.assert_allclose(p[i], p_ref, atol=1e-7)
        assert np.all(rows[i] @ p[i] - h[i] >= -1e-8)
        constrained += bool(np.any(np.abs(rows[i] @ p[i] - h[i]) < 1e-9))
    assert constrained > 50  # most optima sit on some row


def test_check_slices_and_calendars__batched__match_the_single_checks() -> None:
    rng = np.random.default_rng(11)
    params = [
        SviParams(
            a=float(rng.uniform(-0.05, 0.1)),
            b=float(rng.uniform(0.01, 0.6)),
            rho=float(rng.uniform(-0.95, 0.95)),
            m=float(rng.uniform(-0.3, 0.3)),
            sigma=float(rng.uniform(0.02, 0.6)),
        )
        for _ in range(40)
    ]
    ts = [float(t) for t in rng.uniform(0.01, 1.5, 40)]
    grid = arbitrage.check_grid(-1.7, 1.6)
    batched = arbitrage.check_slices(params, ts, grid)
    single = [arbitrage.check_slice(p, t, grid) for p, t in zip(params, ts, strict=True)]
    assert [c.butterfly_points for c in batched] == [c.butterfly_points for c in single]
    assert [c.parameter_problems for c in batched] == [c.parameter_problems for c in single]
    np.testing.assert_allclose([c.min_g for c in batched], [c.min_g for c in single], rtol=1e-12)
    assert any(not c.ok for c in single) and any(c.ok for c in single)  # both kinds were exercised
    pairs = arbitrage.check_calendars(params, grid)
    assert pairs == [arbitrage.check_calendar(s, lo, grid) for s, lo in itertools.pairwise(params)]
    assert any(not c.ok for c in pairs)


def _quote(strike: float, kind: str, bid: float | None, ask: float | None, fut: float | None) -> OptionQuote:
    return OptionQuote(
        line=2,
        instrument=f"X-{strike}-{kind}",
        currency="BTC",
        option_type="call" if kind == "C" else "put",
        strike=strike,
        expiry=datetime(2026, 3, 27, 8, tzinfo=UTC),
        t=0.1,
        bid=bid,
        ask=ask,
        mark=0.01,
        futures_price=fut,
        underlying_price=100.0,
        index_price=100.0,
        open_interest=1.0,
        volume=None,
        mark_iv=None,
        delta=None,
        vega=None,
    )


@pytest.mark.parametrize("futures", [None, 101.5])
def test_forward_from_columns__duplicates_and_one_sided_quotes__matches_estimate_forward(
    futures: float | None,
) -> None:
    rng = np.random.default_rng(5)
    quotes = []
    for strike in (80.0, 90.0, 95.0, 100.0, 100.0, 105.0, 110.0, 120.0):  # 100 twice: the last row counts
        for kind in ("C", "P"):
            mid = max((100.0 - strike) / 100.0 if kind == "C" else (strike - 100.0) / 100.0, 0.0) + 0.02
            mid *= 1 + 0.05 * rng.normal()
            bid, ask = mid * 0.98, mid * 1.02
            if rng.random() < 0.2:
                bid = None  # one-sided: not a parity pair
            quotes.append(_quote(strike, kind, bid, ask, futures))
    ref = estimate_forward(quotes)
    assert forward_from_columns(quote_columns(quotes)) == ref
    assert ref.parity is not None and ref.parity_pairs == 4


def test_check_against_curve__parity_far_off_the_futures_curve__takes_the_curve() -> None:
    def est(f: float, source: str) -> ForwardEstimate:
        return ForwardEstimate(f, source, f if source == "futures" else None, f, 4)  # type: ignore[arg-type]

    spot = 100.0
    # index at T = 0, futures at 0.02 and 0.1: the curve at 0.01 is ~100.1, at 0.05 ~100.31
    forwards = [est(100.11, "parity"), est(100.2, "futures"), est(99.0, "parity"), est(100.5, "futures")]
    forwards.append(est(103.0, "parity"))  # beyond the last future: no curve to check against
    out = check_against_curve(forwards, [0.01, 0.02, 0.05, 0.1, 0.5], spot)
    assert out[0] == forwards[0]  # 1 bp off: parity kept
    assert out[2].source == "curve" and out[2].parity == 99.0
    assert out[2].forward == pytest.approx(100.2 * (100.5 / 100.2) ** 0.375, rel=1e-12)  # log-linear in T
    assert out[1] == forwards[1] and out[3] == forwards[3] and out[4] == forwards[4]
    assert check_against_curve(forwards[4:], [0.5], spot) == forwards[4:]  # no futures: nothing to check


def test_build_smiles__one_inversion_for_all_expiries__matches_one_call_per_expiry(tmp_path: Path) -> None:
    chain = read_chain(write_chain(tmp_path / "chain.csv"))
    table = chain.table()
    groups = [
        table.take((table.expiry == e) & (table.currency == ccy))
        for ccy in ("BTC", "ETH")
        for e in np.unique(table.expiry)
    ]
    batched = build_smiles([(g, forward_from_columns(g)) for g in groups])
    by_expiry: dict[tuple[str, datetime], list[OptionQuote]] = {}
    for q in chain.quotes:
        by_expiry.setdefault((q.currency, q.expiry), []).append(q)
    single = [build_smile(by_expiry[e], estimate_forward(by_expiry[e])) for e in sorted(by_expiry)]
    assert len(batched) == len(single) == 6
    for x, y in zip(batched, single, strict=True):
        assert x.instruments == y.instruments and x.expiry == y.expiry and x.ignored == y.ignored
        np.testing.assert_allclose(x.iv_mid, y.iv_mid, rtol=1e-9)
        np.testing.assert_allclose(x.iv_bid, y.iv_bid, rtol=1e-9)
        np.testing.assert_allclose(x.vega, y.vega, rtol=1e-9)


def _smile(true: SviParams, t: float, k: np.ndarray, half_vol: float) -> MarketSmile:
    """A market smile quoted exactly on `true`, with a bid-ask of +-half_vol in vol."""
    iv = true.implied_vol(k, t)
    call = k >= 0.0
    bid = black76.norm_price(k, (iv - half_vol) * np.sqrt(t), call)
    ask = black76.norm_price(k, (iv + half_vol) * np.sqrt(t), call)
    d1, _ = black76.d1_d2(k, iv * np.sqrt(t))
    return MarketSmile(
        expiry=datetime(2026, 1, 1, tzinfo=UTC),
        t=t,
        forward=ForwardEstimate(100.0, "futures", 100.0, None, 0),
        strike=100.0 * np.exp(k),
        k=k,
        is_call=call,
        bid=bid,
        ask=ask,
        iv_bid=iv - half_vol,
        iv_mid=iv,
        iv_ask=iv + half_vol,
        vega=black76.pdf(d1) * np.sqrt(t),
        open_interest=np.full(k.size, 10.0),
        instruments=tuple(f"q{i}" for i in range(k.size)),
        ignored=0,
    )


def test_fit_surfaces__long_slice_below_short_in_its_unquoted_wing__repaired_without_arbitrage() -> None:
    # the short expiry is quoted far into the wings; the long one only near the money, where its own
    # (flatter) smile is above the short one, while its extrapolated wings would fall below
    short = _smile(SviParams(0.004, 0.06, -0.2, 0.0, 0.08), 0.05, np.linspace(-0.9, 0.8, 25), 0.004)
    long = _smile(SviParams(0.02, 0.02, -0.2, 0.0, 0.1), 0.25, np.linspace(-0.12, 0.12, 9), 0.002)
    grid = arbitrage.check_grid(-0.9, 0.8)
    plain = fit_slices(
        [SliceProblem(short, k_range=(-0.9, 0.8)), SliceProblem(long, k_range=(-0.9, 0.8))], FitConfig()
    )
    assert not arbitrage.check_calendar(plain[0].params, plain[1].params, grid).ok  # the case exists

    fits = fit_surfaces([[short, long]], FitConfig())[0]
    assert arbitrage.check_calendar(fits[0].params, fits[1].params, grid).ok
    assert all(
        arbitrage.check_slice(f.params, s.t, grid).ok for f, s in zip(fits, (short, long), strict=True)
    )
    # the quoted parts survive: the repair moved the extrapolated wing, not the quotes
    assert quality(short, fits[0].params).inside_spread == 1.0
    assert quality(long, fits[1].params).inside_spread == 1.0
    assert rmse_vol_pts(long, fits[1].params) < 0.05


def test_fit_surfaces__two_underlyings_in_one_batch__same_as_each_alone() -> None:
    a = [
        _smile(SviParams(0.01 * t, 0.1 * t, -0.3, 0.0, 0.2), t, np.linspace(-0.4, 0.4, 15), 0.003)
        for t in (0.1, 0.3)
    ]
    b = [
        dataclasses.replace(s, iv_mid=s.iv_mid * 1.1, iv_bid=s.iv_bid * 1.1, iv_ask=s.iv_ask * 1.1) for s in a
    ]
    joint = fit_surfaces([a, b], FitConfig())
    alone = [fit_surfaces([g], FitConfig())[0] for g in (a, b)]
    for j, s in zip(joint, alone, strict=True):
        assert [f.params for f in j] == [f.params for f in s]
