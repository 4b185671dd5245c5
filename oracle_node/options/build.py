"""Fit a whole chain: every underlying's expiries, forwards, SVI slices, quality and checks.

Expiries with fewer than MIN_QUOTES usable OTM quotes are skipped (listed in `skipped`); an
underlying with no fittable expiry is a `DataError` naming the file and the currency.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from oracle_node.errors import DataError
from oracle_node.options import arbitrage
from oracle_node.options.calendar import fit_expiries
from oracle_node.options.chain import OptionChain, OptionQuote
from oracle_node.options.fit import FitConfig
from oracle_node.options.forward import estimate_forward
from oracle_node.options.market import MarketSmile, build_smile
from oracle_node.options.metrics import SliceQuality, quality
from oracle_node.options.surface import Surface, SurfaceSlice

MIN_QUOTES = 5


@dataclass(frozen=True, slots=True)
class ExpiryResult:
    smile: MarketSmile
    slice: SurfaceSlice
    quality: SliceQuality
    check: arbitrage.SliceCheck
    calendar_next: arbitrage.CalendarCheck | None  # against the next longer expiry
    fit_ms: float


@dataclass(frozen=True, slots=True)
class UnderlyingFit:
    surface: Surface
    expiries: tuple[ExpiryResult, ...]
    k_range: tuple[float, float]  # the no-arbitrage check grid's range (step arbitrage.STEP)
    fit_ms: float  # wall time from parsed quotes to checked surface
    skipped: tuple[str, ...] = ()

    @property
    def violations(self) -> dict[str, int]:
        return {
            "butterfly": sum(e.check.butterfly_points for e in self.expiries),
            "calendar": sum(e.calendar_next.points for e in self.expiries if e.calendar_next is not None),
            "parameters": sum(len(e.check.parameter_problems) for e in self.expiries),
        }


@dataclass(frozen=True, slots=True)
class ChainFit:
    path: str
    observed_at: datetime
    underlyings: tuple[UnderlyingFit, ...]
    fit_ms: float = field(default=0.0)


def _smiles(quotes: list[OptionQuote]) -> tuple[list[MarketSmile], list[str]]:
    by_expiry: dict[datetime, list[OptionQuote]] = defaultdict(list)
    for q in quotes:
        by_expiry[q.expiry].append(q)
    smiles, skipped = [], []
    for expiry in sorted(by_expiry):
        group = by_expiry[expiry]
        smile = build_smile(group, estimate_forward(group))
        if smile.size >= MIN_QUOTES:
            smiles.append(smile)
        else:
            skipped.append(f"{expiry.isoformat()}: {smile.size} usable quotes (< {MIN_QUOTES})")
    return smiles, skipped


def fit_underlying(chain: OptionChain, currency: str, cfg: FitConfig) -> UnderlyingFit:
    started = time.perf_counter()
    quotes = chain.for_underlying(currency)
    smiles, skipped = _smiles(quotes)
    if not smiles:
        raise DataError(
            chain.path, None, "currency", currency, "no usable quotes: no expiry has 5 two-sided OTM quotes"
        )
    fits = fit_expiries(smiles, cfg)
    k_range = (min(-1.5, *(float(s.k.min()) for s in smiles)), max(1.5, *(float(s.k.max()) for s in smiles)))
    grid = arbitrage.check_grid(*k_range)
    slices = [
        SurfaceSlice(s.expiry, s.t, s.forward.forward, f.params) for s, f in zip(smiles, fits, strict=True)
    ]
    spot = sorted(q.index_price for q in quotes)[len(quotes) // 2]
    results = tuple(
        ExpiryResult(
            smile=s,
            slice=sl,
            quality=quality(s, sl.params),
            check=arbitrage.check_slice(sl.params, s.t, grid),
            calendar_next=arbitrage.check_calendar(sl.params, slices[i + 1].params, grid)
            if i + 1 < len(slices)
            else None,
            fit_ms=f.fit_ms,
        )
        for i, (s, sl, f) in enumerate(zip(smiles, slices, fits, strict=True))
    )
    surface = Surface(currency, spot, tuple(slices))
    return UnderlyingFit(surface, results, k_range, (time.perf_counter() - started) * 1e3, tuple(skipped))


def fit_chain(chain: OptionChain, cfg: FitConfig | None = None) -> ChainFit:
    """Fit every underlying of a parsed chain."""
    cfg = cfg or FitConfig()
    started = time.perf_counter()
    fits = tuple(fit_underlying(chain, ccy, cfg) for ccy in chain.underlyings())
    return ChainFit(chain.path, chain.observed_at, fits, (time.perf_counter() - started) * 1e3)
