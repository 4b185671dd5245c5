"""Walk-forward: poisoning everything after day t leaves every forecast up to t identical (and does
change later ones, so the check can fail); the expanding threshold reads the past only."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.cascade.data import MARKETS, read_liquidation_usd
from oracle_node.research.cascade.features import expanding_threshold, market_panel
from oracle_node.research.cascade.hawkes import HawkesParams
from oracle_node.research.cascade.synthetic import START, write_liquidations, write_prices
from oracle_node.research.cascade.walkforward import WalkSpan, walk_forward

DAY = 86400.0
CUT = START + 70 * DAY  # forecasts issued up to here must not move


def _poison(src: Path, dst: Path, price_src: Path, price_dst: Path) -> None:
    rows = list(csv.reader(src.open()))
    extra = [
        [str(int(CUT + 3600 * k + 1)), "WETH", "USDC", "1", "5e9", "", "1.0", "2000", "1"] for k in range(300)
    ]
    with dst.open("w", newline="") as fh:
        csv.writer(fh).writerows([rows[0], *[r for r in rows[1:] if float(r[0]) <= CUT], *extra,
                                  *[r for r in rows[1:] if float(r[0]) > CUT]])  # fmt: skip
    lines = price_src.read_text().splitlines()
    out = [
        ln if k == 0 or ln.split(",")[0] < "2021-03-12" else f"{ln.split(',')[0]},{1e6 + k},1"
        for k, ln in enumerate(lines)
    ]
    price_dst.write_text("\n".join(out) + "\n")


def _run(liq: Path, prices: Path) -> dict[tuple[str, float, str], tuple[float, float]]:
    ev = read_liquidation_usd(liq)
    hist = load_prices(prices, "BTC-USD")
    panels = [market_panel(hist, ev, m) for m in MARKETS]
    fc = walk_forward(panels, ev, WalkSpan(START + 64 * DAY, START + 76 * DAY, 6, ("logit_c0.1",)))
    return {(fc.market[k], fc.ts[k], fc.model[k]): (fc.p[k], fc.e_usd[k]) for k in range(len(fc.ts))}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cascade")
    f = {"liq": d / "liq.csv", "px": d / "px.csv", "liq_bad": d / "liq_bad.csv", "px_bad": d / "px_bad.csv"}
    write_liquidations(f["liq"], 100, seed=4, params=HawkesParams(1.0, 1.0, 2.0))
    write_prices(f["px"], START - 60 * DAY, 170, seed=4)
    _poison(f["liq"], f["liq_bad"], f["px"], f["px_bad"])
    return f


def test_walk_forward__future_poisoned__forecasts_up_to_cut_identical(files: dict[str, Path]) -> None:
    clean = _run(files["liq"], files["px"])
    poisoned = _run(files["liq_bad"], files["px_bad"])
    assert clean.keys() == poisoned.keys()
    before = [k for k in clean if k[1] <= CUT]
    after = [k for k in clean if k[1] > CUT]
    assert len(before) == 7 * 3 * 4 and after  # 7 days x 3 markets x 4 models
    assert all(clean[k] == poisoned[k] for k in before)  # bit-identical
    moved = {k[2] for k in after if clean[k] != poisoned[k]}
    assert moved == {"climatology", "hawkes", "hawkes_cal", "ml_logit_c0.1"}  # the poison reached every model


def test_expanding_threshold__reads_only_earlier_days() -> None:
    x = np.arange(1.0, 101.0)
    thr = expanding_threshold(x)
    assert np.isnan(thr[:30]).all()
    assert thr[30] == pytest.approx(np.quantile(x[:30], 0.9))
    y = x.copy()
    y[60:] = 0.0
    assert np.array_equal(expanding_threshold(y)[:61], thr[:61], equal_nan=True)
    assert expanding_threshold(y)[61] < thr[61]  # the change is seen the day after
