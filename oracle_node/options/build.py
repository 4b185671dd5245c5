"""Fit a whole chain: every underlying's expiries, forwards, SVI slices, quality and checks.

Expiries with fewer than MIN_QUOTES usable OTM quotes are skipped (listed in `skipped`); an
underlying with no fittable expiry is a `DataError` naming the file and the currency.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from oracle_node.errors import DataError
from oracle_node.options import arbitrage
from oracle_node.options.calendar import fit_surfaces, k_range
from oracle_node.options.chain import OptionChain, QuoteColumns
from oracle_node.options.fit import FitConfig, SliceFit
from oracle_node.options.forward import ForwardEstimate, check_against_curve, forward_from_columns
from oracle_node.options.market import MarketSmile, build_smiles
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
    fit_ms: float  # its share (by expiries) of the chain's wall time from parsed quotes to checked surfaces
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


def _groups(cols: QuoteColumns) -> list[tuple[QuoteColumns, ForwardEstimate]]:
    """One underlying's quotes split by expiry (sorted), each with its forward (parity checked against
    the futures curve)."""
    groups = [cols.take(cols.expiry == e) for e in np.unique(cols.expiry)]
    spot = float(np.sort(cols.index)[cols.size // 2])
    forwards = [forward_from_columns(g) for g in groups]
    forwards = check_against_curve(forwards, [float(g.t[0]) for g in groups], spot)
    return list(zip(groups, forwards, strict=True))


def _usable(smiles: list[MarketSmile]) -> tuple[list[MarketSmile], list[str]]:
    kept, skipped = [], []
    for smile in smiles:
        if smile.size >= MIN_QUOTES:
            kept.append(smile)
        else:
            skipped.append(f"{smile.expiry.isoformat()}: {smile.size} usable quotes (< {MIN_QUOTES})")
    return kept, skipped


def _smiles_by_underlying(
    chain: OptionChain, table: QuoteColumns, currencies: list[str]
) -> list[tuple[list[MarketSmile], list[str]]]:
    """Every underlying's usable smiles (one implied-vol inversion for the whole chain) and skipped expiries."""
    groups = [_groups(table.take(table.currency == ccy)) for ccy in currencies]
    flat = build_smiles([x for g in groups for x in g])
    out, at = [], 0
    for ccy, g in zip(currencies, groups, strict=True):
        smiles, skipped = _usable(flat[at : at + len(g)])
        at += len(g)
        if not smiles:
            raise DataError(
                chain.path, None, "currency", ccy, "no usable quotes: no expiry has 5 two-sided OTM quotes"
            )
        out.append((smiles, skipped))
    return out


def _results(
    smiles: list[MarketSmile], fits: list[SliceFit]
) -> tuple[tuple[ExpiryResult, ...], tuple[float, float]]:
    kr = k_range(smiles)
    k_checked = (min(-1.5, kr[0]), max(1.5, kr[1]))
    grid = arbitrage.check_grid(*k_checked)
    slices = [
        SurfaceSlice(s.expiry, s.t, s.forward.forward, f.params) for s, f in zip(smiles, fits, strict=True)
    ]
    params = [sl.params for sl in slices]
    checks = arbitrage.check_slices(params, [s.t for s in smiles], grid)
    calendars: list[arbitrage.CalendarCheck | None] = [*arbitrage.check_calendars(params, grid), None]
    results = tuple(
        ExpiryResult(s, sl, quality(s, sl.params), c, cal, f.fit_ms)
        for s, sl, c, cal, f in zip(smiles, slices, checks, calendars, fits, strict=True)
    )
    return results, k_checked


def fit_chain(chain: OptionChain, cfg: FitConfig | None = None) -> ChainFit:
    """Fit every underlying of a parsed chain (all underlyings' expiries in one joint fit)."""
    cfg = cfg or FitConfig()
    started = time.perf_counter()
    table = chain.table()
    currencies = [str(c) for c in np.unique(table.currency)]
    per = _smiles_by_underlying(chain, table, currencies)
    fits = fit_surfaces([smiles for smiles, _ in per], cfg)
    out = []
    for ccy, (smiles, skipped), u_fits in zip(currencies, per, fits, strict=True):
        results, k_checked = _results(smiles, u_fits)
        index = np.sort(table.index[table.currency == ccy])
        spot = float(index[index.size // 2])
        surface = Surface(ccy, spot, tuple(e.slice for e in results))
        out.append(UnderlyingFit(surface, results, k_checked, 0.0, tuple(skipped)))
    total = (time.perf_counter() - started) * 1e3
    slices = sum(len(u.expiries) for u in out)
    shared = tuple(dataclasses.replace(u, fit_ms=total * len(u.expiries) / slices) for u in out)
    return ChainFit(chain.path, chain.observed_at, shared, total)
