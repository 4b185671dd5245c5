"""Venues for the guard scenarios, derived from the real Binance BTC/USDT hourly series.

Real venues (read with the official reader, oracle_node.sources.ohlcv.read_cdd_ohlcv):
  binance_spot  close of the spot bar; volume = the bar's quote volume;
  binance_perp  close of the USDT-margined perpetual bar; volume = its quote volume.

Synthetic venues, each with its own seeded noise (numpy default_rng, fixed seeds, so every run is
identical). Noise is Gaussian in log price with sigma = 2 bp + 1 % of the bar's log range
ln(high / low): a few bp between venues in a calm hour, widening in a violent one (0.28 % in the
2020-03-12 10:00 bar, whose range is 28 %), which is how cross-venue dispersion behaves:
  venue_a      spot close x exp(+5 bp basis + noise), volume 30 % of spot;
  venue_b      spot close x exp(-3 bp basis + noise), volume 20 % of spot;
  venue_c      spot close x exp(noise), volume 10 % of spot            (crash day only);
  venue_d      spot close x exp(+2 bp basis + noise), volume 15 % of spot (crash day only);
  perp_lag     the perp priced 6 minutes late: exp(0.9 ln close_t + 0.1 ln close_(t-1)) x exp(noise),
               volume 50 % of the perp                                  (spot/perp window only).
A tick's ts is the bar's close time (open + 3600 s), and the guard is asked at that time.

Manipulations (applied to one venue's price path, everything else untouched): spike (x factor for a
few ticks), drift (x (1 + step)^k at the k-th tick), freeze (repeat the last price), and duplicate
(a second API fronting the same pool, same price with a tiny independent noise).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from oracle_node.guard import GuardParams, GuardResult, GuardState, evaluate
from oracle_node.sources.ohlcv import OhlcvBar, read_cdd_ohlcv
from oracle_node.sources.tick import Tick

MARKET = "BTC-USD"
HOUR = 3600.0
SPOT_FILE = "prices/binance_btcusdt_spot_1h_2017_2021.csv"
PERP_FILE = "prices/binance_btcusdt_perp_1h_2020.csv"
CRASH_DAY_START = datetime(2020, 3, 12, tzinfo=UTC).timestamp()
CRASH_DAY_END = datetime(2020, 3, 13, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class VenuePaths:
    """Aligned price and volume paths: close_ts[i] is the time of row i for every venue."""

    close_ts: tuple[float, ...]
    prices: dict[str, list[float]]
    volumes: dict[str, list[float]]
    pools: dict[str, str]

    def ticks_at(self, i: int) -> list[Tick]:
        ts = self.close_ts[i]
        return [
            Tick(ts, MARKET, name, path[i], volume=self._volume(name, i), pool=self.pools.get(name))
            for name, path in self.prices.items()
        ]

    def _volume(self, name: str, i: int) -> float | None:
        path = self.volumes.get(name)
        return None if path is None else path[i]

    def with_price(self, name: str, path: Sequence[float], pool: str | None = None) -> VenuePaths:
        """A copy where venue `name` has `path` (added if new, volume copied from the first venue)."""
        prices = {**self.prices, name: list(path)}
        volumes = dict(self.volumes)
        if self.volumes and name not in volumes:
            volumes[name] = list(next(iter(self.volumes.values())))
        pools = {**self.pools, name: pool} if pool else dict(self.pools)
        return VenuePaths(self.close_ts, prices, volumes, pools)

    def without_volumes(self) -> VenuePaths:
        """The same prices with no volume reported: the guard weights the venues equally."""
        return VenuePaths(self.close_ts, self.prices, {}, self.pools)

    def only(self, names: Sequence[str]) -> VenuePaths:
        keep = set(names)
        return VenuePaths(
            self.close_ts,
            {n: p for n, p in self.prices.items() if n in keep},
            {n: v for n, v in self.volumes.items() if n in keep},
            {n: p for n, p in self.pools.items() if n in keep},
        )


@lru_cache(maxsize=4)
def _bars(path: Path) -> tuple[OhlcvBar, ...]:
    return read_cdd_ohlcv(path).bars


def _noise(bars: Sequence[OhlcvBar], seed: int) -> np.ndarray:
    ranges = np.array([math.log(b.high / b.low) for b in bars])
    return np.random.default_rng(seed).standard_normal(len(bars)) * (0.0002 + 0.01 * ranges)


def _derived(bars: Sequence[OhlcvBar], basis: float, seed: int) -> list[float]:
    closes = np.array([b.close for b in bars])
    return list(closes * np.exp(basis + _noise(bars, seed)))


def _lagged(bars: Sequence[OhlcvBar], seed: int) -> list[float]:
    logs = np.log([b.close for b in bars])
    prev = np.concatenate([logs[:1], logs[:-1]])
    return list(np.exp(0.9 * logs + 0.1 * prev + _noise(bars, seed)))


def _scaled(bars: Sequence[OhlcvBar], share: float) -> list[float]:
    return [share * (b.volume_quote or 0.0) for b in bars]


def spot_perp_venues(shared_data: Path) -> VenuePaths:
    """2020-08-02..2020-12-30: real spot and perp plus venue_a, venue_b and perp_lag, hours in both."""
    spot = {b.ts: b for b in _bars(shared_data / SPOT_FILE)}
    perp_all = _bars(shared_data / PERP_FILE)
    perp = [b for b in perp_all if b.ts in spot]
    spot_rows = [spot[b.ts] for b in perp]
    prices = {
        "binance_spot": [b.close for b in spot_rows],
        "binance_perp": [b.close for b in perp],
        "venue_a": _derived(spot_rows, 0.0005, seed=11),
        "venue_b": _derived(spot_rows, -0.0003, seed=12),
        "perp_lag": _lagged(perp, seed=13),
    }
    volumes = {
        "binance_spot": _scaled(spot_rows, 1.0),
        "binance_perp": _scaled(perp, 1.0),
        "venue_a": _scaled(spot_rows, 0.3),
        "venue_b": _scaled(spot_rows, 0.2),
        "perp_lag": _scaled(perp, 0.5),
    }
    return VenuePaths(tuple(b.ts + HOUR for b in perp), prices, volumes, {})


def spot_only_venues(shared_data: Path, start: float, end: float) -> VenuePaths:
    """Real spot plus four noisy spot-derived venues for bars opening in [start, end)."""
    bars = [b for b in _bars(shared_data / SPOT_FILE) if start <= b.ts < end]
    derived = {"venue_a": (0.0005, 21, 0.3), "venue_b": (-0.0003, 22, 0.2)}
    derived |= {"venue_c": (0.0, 23, 0.1), "venue_d": (0.0002, 24, 0.15)}
    prices = {"binance_spot": [b.close for b in bars]}
    volumes = {"binance_spot": _scaled(bars, 1.0)}
    for name, (basis, seed, share) in derived.items():
        prices[name] = _derived(bars, basis, seed)
        volumes[name] = _scaled(bars, share)
    return VenuePaths(tuple(b.ts + HOUR for b in bars), prices, volumes, {})


# --- manipulations ---------------------------------------------------------------------------------


def spiked(path: Sequence[float], start: int, ticks: int, factor: float) -> list[float]:
    return [p * factor if start <= i < start + ticks else p for i, p in enumerate(path)]


def drifting(path: Sequence[float], start: int, step: float) -> list[float]:
    """From `start` on, the k-th tick (k = 1, 2, ...) is pushed up by (1 + step)^k."""
    return [p * (1 + step) ** (i - start + 1) if i >= start else p for i, p in enumerate(path)]


def frozen(path: Sequence[float], start: int, ticks: int) -> list[float]:
    """From `start` on, for `ticks` ticks, the venue repeats the price it showed at start - 1."""
    return [path[start - 1] if start <= i < start + ticks else p for i, p in enumerate(path)]


def mirrored(path: Sequence[float], seed: int) -> list[float]:
    """A second API on the same book: the same price give or take 1 bp of independent noise."""
    noise = np.random.default_rng(seed).standard_normal(len(path)) * 0.0001
    return list(np.asarray(path) * np.exp(noise))


# --- running the guard -----------------------------------------------------------------------------


def run_guard(
    venues: VenuePaths,
    params: GuardParams | None = None,
    rows: range | None = None,
    tick_filter: Callable[[int, list[Tick]], list[Tick]] | None = None,
) -> Iterator[GuardResult]:
    """Feed the venues to the guard tick by tick (now = the ticks' time), threading the state."""
    guard_params = params or GuardParams()
    state: GuardState | None = None
    for i in rows if rows is not None else range(len(venues.close_ts)):
        ticks = venues.ticks_at(i)
        if tick_filter is not None:
            ticks = tick_filter(i, ticks)
        result = evaluate(MARKET, ticks, venues.close_ts[i], state, guard_params)
        state = result.state
        yield result


def guarded_crash_prices(shared_data: Path, warmup_hours: int = 48) -> list[tuple[float, float | None]]:
    """(close time, guarded aggregate) for every hour of 2020-03-12 after a warm-up: the price path
    the risk layer sees over the crash (feed it to the risk parameters to check margins rise)."""
    start = CRASH_DAY_START - warmup_hours * HOUR
    venues = spot_only_venues(shared_data, start, CRASH_DAY_END)
    return [(r.ts, r.aggregate_price) for r in run_guard(venues) if CRASH_DAY_START < r.ts <= CRASH_DAY_END]


def assert_margins_rise(
    margin_at: Mapping[float, float], calm_until: float, stressed_from: float, min_ratio: float = 1.0
) -> None:
    """Assert that every margin from `stressed_from` on exceeds min_ratio x the last one before
    `calm_until` (e.g. initial margin in bp keyed by time over 2020-03-12). Raises AssertionError with
    the numbers otherwise."""
    calm = [m for t, m in sorted(margin_at.items()) if t <= calm_until]
    stressed = [(t, m) for t, m in sorted(margin_at.items()) if t >= stressed_from]
    if not calm or not stressed:
        raise AssertionError(f"need margins before {calm_until} and from {stressed_from}: {margin_at}")
    floor = min_ratio * calm[-1]
    low = [(t, m) for t, m in stressed if m <= floor]
    assert not low, f"margins did not rise over the crash: calm {calm[-1]}, not above {floor} at {low}"
