"""Real Deribit snapshots: quality targets, no arbitrage on every snapshot, forward checks, Deribit's delta
convention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oracle_node.options import black76
from oracle_node.options.build import fit_chain
from oracle_node.options.chain import OptionQuote, quote_columns, read_chain
from oracle_node.options.forward import estimate_forward, forward_from_columns

pytestmark = pytest.mark.scenario
SNAPSHOT = "deribit_options_snapshot_20260408T214102Z.csv"  # has expiries without a futures price
FIRST = "deribit_options_snapshot_20251230T173115Z.csv"


@pytest.fixture(scope="module")
def chain_fit(shared_data: Path):  # type: ignore[no-untyped-def]
    return fit_chain(read_chain(shared_data / "options" / SNAPSHOT))


def test_fit_chain__first_snapshot__meets_quality_targets(shared_data: Path) -> None:
    fit = fit_chain(read_chain(shared_data / "options" / FIRST))
    quotes = inside = 0
    for u in fit.underlyings:
        rmse = [e.quality.rmse_vol_pts for e in u.expiries if e.slice.t >= 7 / 365]
        assert len(rmse) >= 6
        assert np.median(rmse) <= 0.25, u.surface.underlying
        quotes += sum(e.quality.quotes for e in u.expiries)
        inside += sum(e.quality.inside for e in u.expiries)
    assert inside / quotes >= 0.93


def test_fit_chain__real_snapshot__no_static_arbitrage_on_dense_grid(chain_fit) -> None:  # type: ignore[no-untyped-def]
    for u in chain_fit.underlyings:
        assert u.k_range[0] <= -1.5 and u.k_range[1] >= 1.5
        assert u.violations == {"butterfly": 0, "calendar": 0, "parameters": 0}
        for e in u.expiries:
            assert e.slice.params.wing_slope <= 4.0 / e.slice.t
            assert e.slice.params.min_total_variance >= 0.0


def test_fit_chain__every_shared_snapshot__no_static_arbitrage(shared_data: Path) -> None:
    files = sorted((shared_data / "options").glob("deribit_options_snapshot_*.csv"))
    assert len(files) >= 12
    for path in files:
        for u in fit_chain(read_chain(path)).underlyings:
            assert u.violations == {"butterfly": 0, "calendar": 0, "parameters": 0}, (
                path.name,
                u.surface.underlying,
            )


def test_forward_from_columns__real_snapshot__matches_estimate_forward(shared_data: Path) -> None:
    chain = read_chain(shared_data / "options" / SNAPSHOT)
    by_expiry: dict[tuple[str, object], list[OptionQuote]] = {}
    for q in chain.quotes:
        by_expiry.setdefault((q.currency, q.expiry), []).append(q)
    sources = set()
    for quotes in by_expiry.values():
        ref = estimate_forward(quotes)
        assert forward_from_columns(quote_columns(quotes)) == ref
        sources.add(ref.source)
    assert sources == {"futures", "parity"}


def test_forwards__futures_and_parity__agree_within_20bp(chain_fit) -> None:  # type: ignore[no-untyped-def]
    sources = set()
    for u in chain_fit.underlyings:
        for e in u.expiries:
            fwd = e.smile.forward
            sources.add(fwd.source)
            if fwd.parity_gap_bp is not None:
                assert abs(fwd.parity_gap_bp) < 20.0
    assert sources == {"futures", "parity"}  # this snapshot lacks futures prices for three short expiries


def test_deribit_delta__column_is_black76_forward_delta_not_premium_adjusted(shared_data: Path) -> None:
    chain = read_chain(shared_data / "options" / SNAPSHOT)
    q = [x for x in chain.quotes if x.mark_iv and x.delta is not None and x.futures_price]
    f = np.array([x.futures_price for x in q])
    k, t, iv = np.array([x.strike for x in q]), np.array([x.t for x in q]), np.array([x.mark_iv for x in q])
    call = np.array([x.is_call for x in q])
    bs = black76.delta(f, k, t, iv, call)
    coin = bs - black76.price(f, k, t, iv, call) / f
    deribit = np.array([x.delta for x in q])
    assert np.median(np.abs(deribit - bs)) < 1e-3
    assert np.median(np.abs(deribit - coin)) > 20 * np.median(np.abs(deribit - bs))
