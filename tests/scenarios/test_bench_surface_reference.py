"""bench.surface's Deribit-mark reference scores marks with the fitted quotes' own measures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.surface import _mark_quality
from oracle_node.options import black76
from oracle_node.options.build import fit_chain
from oracle_node.options.chain import read_chain

FIRST = "deribit_options_snapshot_20251230T173115Z.csv"


def test_mark_quality__marks_at_mid_bid_and_outside__rmse_and_inside_follow(shared_data: Path) -> None:
    fit = fit_chain(read_chain(shared_data / "options" / FIRST))
    e = max(fit.underlyings[0].expiries, key=lambda x: x.smile.size)
    sm = e.smile
    mid = black76.norm_price(sm.k, sm.iv_mid * np.sqrt(sm.t), sm.is_call)
    at_mid = dict(zip(sm.instruments, mid, strict=True))
    rmse, inside = _mark_quality(e, at_mid)
    assert rmse < 1e-6 and inside == sm.size

    below = dict(zip(sm.instruments, 0.5 * sm.bid, strict=True))
    rmse, inside = _mark_quality(e, below)
    assert inside == 0 and rmse > 1.0  # half the bid is far outside, in price and in vol
