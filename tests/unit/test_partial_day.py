"""models.partial_day: the ML model on the node's partial day (issue 12, item 7).

A closed day is served bit for bit as before; the vectorised return features equal latest_features;
a partial day's forecast is smooth in the price, continuous across midnight and reacts to a crash
in the first hour of the day. The memo of the previous close's row (models.previous_row) returns the
uncached bits across rounds, a midnight, corrected past values and markets."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from oracle_node.features.build import LOOKBACK_DAYS, latest_features
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.models.ensemble import RiskModel, combine
from oracle_node.models.forecast import Forecast
from oracle_node.models.partial_day import (
    NODES,
    UNIT_NODES,
    combine_quantiles,
    elapsed_fraction,
    rest_of_day_sigma,
    return_features,
    row_set,
)
from oracle_node.models.previous_row import PreviousRowCache, previous_row
from oracle_node.risk import compute_params
from oracle_node.sources.history import load_history

pytestmark = pytest.mark.unit
MARKET = "BTC-USD"
EVE = 1583884800.0  # 2020-03-11 00:00 UTC: the history closes the day before the 2020-03-12 crash


@pytest.fixture(scope="module")
def model() -> RiskModel:
    return RiskModel.load()


@pytest.fixture(scope="module")
def closed() -> MarketHistory:
    return load_history(MARKET, "bundled:binance_btcusdt_spot_1h", until_ts=EVE)


def _partial(h: MarketHistory, hours: float, move: float) -> MarketHistory:
    """`h` plus a partial day `hours` after its last close at close x exp(move)."""
    ts = np.append(h.ts, h.ts[-1] + hours * 3600.0)
    close = np.append(h.close, h.close[-1] * np.exp(move))
    assert h.volume is not None
    return MarketHistory(h.market, ts, close, volume=np.append(h.volume, h.volume[-1]))


def _im(model: RiskModel, h: MarketHistory) -> int:
    f = model.forecast(h)
    return compute_params(MARKET, f, model_agreement=f.agreement).params.initial_margin


def test_elapsed_fraction__closed_and_partial_days() -> None:
    ts = np.array([0.0, 1.0, 2.0]) * SECONDS_PER_DAY
    h = MarketHistory("X", ts, np.array([1.0, 1.1, 1.2]))
    part = MarketHistory("X", np.append(ts, ts[-1] + 6 * 3600.0), np.array([1.0, 1.1, 1.2, 1.3]))
    assert elapsed_fraction(h) == 1.0 and rest_of_day_sigma(h) == 0.0
    assert elapsed_fraction(part) == 0.25
    r = np.diff(np.log([1.0, 1.1, 1.2]))
    assert rest_of_day_sigma(part) == pytest.approx(np.sqrt(0.75 * np.mean(r * r)), rel=1e-12)


def test_unit_nodes__equal_probability_quantiles__symmetric_unit_variance_ish() -> None:
    assert UNIT_NODES.size == NODES and np.all(np.diff(UNIT_NODES) > 0)
    np.testing.assert_allclose(UNIT_NODES, -UNIT_NODES[::-1], atol=1e-12)
    assert 0.85 < float(np.mean(UNIT_NODES**2)) < 1.0  # midpoint quantiles understate the tails a little


def test_return_features__vectorised__equal_latest_features_bit_for_bit(closed: MarketHistory) -> None:
    tail = closed.tail(40)
    prior = np.diff(np.log(tail.close))
    closes = tail.close[-1] * np.exp(np.array([-0.2, -0.013, 0.0, 0.004, 0.09]))
    last = np.log(closes) - np.log(tail.close[-1])  # what the node computes from a candidate close
    got = return_features(prior, last)
    ts = np.append(tail.ts, tail.ts[-1] + SECONDS_PER_DAY)
    for k, c in enumerate(closes.tolist()):
        ref = latest_features(MarketHistory(MARKET, ts, np.append(tail.close, c)))
        for name, values in got.items():
            assert values[k] == ref.column(name)[-1], (name, k)


def test_ml_on_closed_day__bit_for_bit_the_models_own_output(model: RiskModel, closed: MarketHistory) -> None:
    names = (*model.ml.features, model.ml.scale_feature)
    row = latest_features(closed).last_row(names)
    (ml,) = model.ml.forecast_rows(row[None, :-1], row[-1:])
    assert isinstance(ml, Forecast)
    expected = combine(ml, model.baseline.forecast(closed), model.tolerance)
    assert model.forecast(closed) == expected
    assert len(row_set(closed, names).rows) == 1


def test_combine_quantiles__endpoints() -> None:
    now = np.tile([-0.10, 0.08], (NODES, 1))
    anchor = np.tile([-0.05, 0.06], (NODES, 1))
    q = np.vstack([now, anchor, [[-0.04, 0.03]]])
    assert combine_quantiles(q, 1.0) == pytest.approx((-0.10, 0.08))
    assert combine_quantiles(q, 0.0) == pytest.approx((-0.10 * 0.8, 0.08 * 0.5))
    same = np.vstack([anchor, anchor, [[-0.04, 0.03]]])  # price unchanged since the close
    assert combine_quantiles(same, 0.0) == pytest.approx((-0.04, 0.03))


def test_partial_day__price_sweep__no_step(model: RiskModel, closed: MarketHistory) -> None:
    """IM as a function of the price at 09:00 in 0.05 % steps (before the change: steps up to 9 %)."""
    moves = np.linspace(-0.01, 0.01, 41)  # 0.05 % apart
    ims = np.array([_im(model, _partial(closed, 9.0, float(m))) for m in moves])
    steps = np.abs(np.diff(ims)) / ims[:-1]
    assert steps.max() < 0.03, steps.max()


def test_partial_day__first_hour__continuous_with_the_midnight_round(
    model: RiskModel, closed: MarketHistory
) -> None:
    at_close = _im(model, closed)
    first_hour = _im(model, _partial(closed, 1.0, 0.001))
    assert abs(first_hour / at_close - 1.0) < 0.05, (at_close, first_hour)  # before: 2455 -> 3435 bp


@pytest.mark.parametrize("hours", [1.0, 11.0])
def test_partial_day__crash__im_rises_in_the_same_round(
    model: RiskModel, closed: MarketHistory, hours: float
) -> None:
    before = _im(model, _partial(closed, hours, 0.0))
    crashed = _im(model, _partial(closed, hours, np.log(0.82)))  # -18 %, the 2020-03-12 10:00 hour
    assert crashed > 1.1 * before, (before, crashed)  # the bar (before the change: 1.32 x; now 1.6 x)


# models.previous_row: the previous close's row, memoised per market across a day's rounds.


def _names(model: RiskModel) -> tuple[str, ...]:
    return (*model.ml.features, model.ml.scale_feature)


def _tail(h: MarketHistory) -> MarketHistory:
    return h.tail(LOOKBACK_DAYS + 1)


def _corrected(h: MarketHistory, column: str, i: int, factor: float) -> MarketHistory:
    """`h` with one past value of `column` (close or volume) multiplied by `factor`."""
    cols = {"close": h.close.copy(), "volume": None if h.volume is None else h.volume.copy()}
    col = cols[column]
    assert col is not None
    col[i] *= factor
    return MarketHistory(h.market, h.ts, cols["close"], volume=cols["volume"])


def _renamed(h: MarketHistory, market: str) -> MarketHistory:
    return MarketHistory(market, h.ts, h.close, volume=h.volume)


def _rounds(closed: MarketHistory) -> list[MarketHistory]:
    """The node's hourly histories from 20:00 on the day after `closed` to 03:00 on the next day:
    partial days on `closed`, the midnight round (that day closed), partial days on the new close."""
    day2 = load_history(
        MARKET, "bundled:binance_btcusdt_spot_1h", until_ts=float(closed.ts[-1]) + SECONDS_PER_DAY
    )
    assert len(day2) == len(closed) + 1
    moves = [0.004, -0.011, 0.002, 0.007]
    first = [_partial(closed, float(h), m) for h, m in zip(range(20, 24), moves, strict=True)]
    second = [_partial(day2, float(h), m) for h, m in zip(range(1, 4), moves[:3], strict=True)]
    return [*first, day2, *second]


def test_previous_row_cache__hourly_rounds_across_midnight__bit_for_bit_the_uncached_forecasts(
    model: RiskModel, closed: MarketHistory
) -> None:
    cached = copy.copy(model)
    cached.previous_rows = PreviousRowCache()  # one memo for the whole sequence, as in the node
    names = _names(model)
    rows = []
    for h in _rounds(closed):
        uncached = copy.copy(model)
        uncached.previous_rows = PreviousRowCache()  # empty: previous_row computed from scratch
        assert cached.forecast(h) == uncached.forecast(h)
        got, ref = row_set(h, names, previous=cached.previous_rows), row_set(h, names)
        assert got.w == ref.w and got.rows.tobytes() == ref.rows.tobytes()
        rows.append(got.rows[-1])
    # the sequence does test a day change: the previous close's row differs after midnight
    assert rows[0].tobytes() == rows[3].tobytes() and rows[0].tobytes() != rows[-1].tobytes()
    assert len(cached.previous_rows) == 1


def test_previous_row_cache__same_inputs__served_from_the_entry(
    closed: MarketHistory, model: RiskModel
) -> None:
    cache, names = PreviousRowCache(), _names(model)
    first = cache.row(_tail(_partial(closed, 5.0, 0.01)), names)
    again = cache.row(_tail(_partial(closed, 6.0, -0.02)), names)  # a later round of the same day
    assert again is first and not first.flags.writeable
    assert first.tobytes() == previous_row(_tail(_partial(closed, 6.0, -0.02)), names).tobytes()


@pytest.mark.parametrize(
    ("column", "i"),
    [("close", -2), ("close", -9), ("close", -LOOKBACK_DAYS - 1), ("volume", -2), ("volume", -20)],
)
def test_previous_row_cache__corrected_past_value__recomputed(
    model: RiskModel, closed: MarketHistory, column: str, i: int
) -> None:
    """A past close or volume corrected under the same timestamps (the previous close itself, one
    inside the month, the oldest one the row reads): the cache must not serve the stale row."""
    cache, names = PreviousRowCache(), _names(model)
    h = _partial(closed, 5.0, 0.01)
    stale = cache.row(_tail(h), names)
    fixed = _corrected(h, column, i, 1.05)
    got = cache.row(_tail(fixed), names)
    want = previous_row(_tail(fixed), names)
    assert got.tobytes() == want.tobytes()
    assert got.tobytes() != stale.tobytes()  # the correction does move the row: the check can fail
    assert len(cache) == 1


def test_previous_row_cache__two_markets__separate_entries(model: RiskModel, closed: MarketHistory) -> None:
    eth = load_history("ETH-USD", "bundled:binance_ethusdt_spot_1h", until_ts=EVE)
    assert eth.ts.tobytes() == closed.ts.tobytes()  # same days, different prices
    cache, names = PreviousRowCache(), _names(model)
    btc_tail, eth_tail = _tail(_partial(closed, 5.0, 0.0)), _tail(_partial(eth, 5.0, 0.0))
    btc = cache.row(btc_tail, names)
    got = cache.row(eth_tail, names)
    assert got.tobytes() == previous_row(eth_tail, names).tobytes() != btc.tobytes()
    assert len(cache) == 2 and cache.row(btc_tail, names) is btc  # BTC's entry kept beside ETH's


def test_previous_row_cache__other_names__recomputed(model: RiskModel, closed: MarketHistory) -> None:
    cache, names = PreviousRowCache(), _names(model)
    tail = _tail(_partial(closed, 5.0, 0.0))
    cache.row(tail, names)
    other = names[::-1]
    assert cache.row(tail, other).tobytes() == previous_row(tail, other).tobytes()


def test_previous_row_cache__bounded__oldest_market_dropped(model: RiskModel, closed: MarketHistory) -> None:
    cache, names = PreviousRowCache(max_markets=2), _names(model)
    tails = {m: _tail(_partial(_renamed(closed, m), 5.0, 0.0)) for m in ("A", "B", "C")}
    first = {m: cache.row(t, names) for m, t in tails.items()}
    assert len(cache) == 2
    assert cache.row(tails["C"], names) is first["C"] and cache.row(tails["A"], names) is not first["A"]
