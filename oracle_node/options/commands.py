"""`oracle-node surface` and `oracle-node greeks`: the CLI's option commands (the CLI only parses)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from oracle_node.errors import DataError
from oracle_node.options.build import ChainFit, fit_chain
from oracle_node.options.chain import OptionQuote, read_chain
from oracle_node.options.greeks import Greeks, greeks
from oracle_node.options.jsonio import read_surfaces, write_surface_json
from oracle_node.options.report import write_html
from oracle_node.options.surface import Surface

DEFAULT_MONEYNESS = (0.8, 0.9, 1.0, 1.1, 1.2)


def summary_lines(fit: ChainFit) -> Iterator[str]:
    for u in fit.underlyings:
        for e in u.expiries:
            q = e.quality
            yield (
                f"{u.surface.underlying} {e.slice.expiry:%Y-%m-%d} T={e.slice.t:.4f} F={e.slice.forward:,.2f} "
                f"({e.smile.forward.source}) quotes={q.quotes} rmse={q.rmse_vol_pts:.3f}vp "
                f"inside={q.inside_spread:.1%} fit={e.fit_ms:.1f}ms"
            )
        v = u.violations
        yield (
            f"{u.surface.underlying}: {len(u.expiries)} expiries in {u.fit_ms:.1f} ms; arbitrage violations "
            f"butterfly={v['butterfly']} calendar={v['calendar']} parameters={v['parameters']}"
            + (f"; skipped {len(u.skipped)}" if u.skipped else "")
        )


def surface(args: argparse.Namespace) -> int:
    fit = fit_chain(read_chain(args.chain))
    out: Path = args.out
    write_surface_json(fit, out / "surface.json")
    write_html(fit, out / "surface.html")
    for line in summary_lines(fit):
        print(line)
    print(f"chain fitted in {fit.fit_ms:.1f} ms -> {out / 'surface.json'}, {out / 'surface.html'}")
    return 0


def parse_expiry(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d%b%y"):
        try:
            return datetime.strptime(text.upper() if fmt == "%d%b%y" else text, fmt).date()
        except ValueError:
            continue
    raise DataError("--expiry", None, "expiry", text, "expected YYYY-MM-DD or Deribit's DDMMMYY (27MAR26)")


def _greeks_header() -> str:
    return (
        f"{'underlying':<6} {'expiry':<10} {'strike':>10} {'type':<4} {'iv_fit':>7} {'price_coin':>10} "
        f"{'delta':>8} {'d_smile':>8} {'d_coin':>8} {'gamma':>10} {'g_smile':>10} {'vega':>9} "
        f"{'vanna':>8} {'volga':>10} {'deribit_iv':>10} {'deribit_d':>9}"
    )


def _greeks_line(und: str, expiry: date, g: Greeks, quote: OptionQuote | None) -> str:
    iv = "" if quote is None or quote.mark_iv is None else f"{quote.mark_iv:.4f}"
    dd = "" if quote is None or quote.delta is None else f"{quote.delta:.5f}"
    return (
        f"{und:<6} {expiry:%Y-%m-%d} {g.strike:>10.2f} {'call' if g.is_call else 'put':<4} {g.sigma:>7.4f} "
        f"{g.price_coin:>10.6f} {g.delta:>8.5f} {g.delta_smile:>8.5f} {g.delta_coin:>8.5f} {g.gamma:>10.3e} "
        f"{g.gamma_smile:>10.3e} {g.vega:>9.2f} {g.vanna:>8.4f} {g.volga:>10.2f} {iv:>10} {dd:>9}"
    )


def _from_chain(args: argparse.Namespace) -> list[str]:
    chain = read_chain(args.chain)
    lines = []
    for u in fit_chain(chain).underlyings:
        s = u.surface
        if args.underlying and s.underlying != args.underlying.upper():
            continue
        expiries = {sl.expiry: sl.t for sl in s.slices}
        for q in sorted(
            chain.for_underlying(s.underlying), key=lambda q: (q.expiry, q.strike, q.option_type)
        ):
            if q.expiry not in expiries or (args.expiry and q.expiry.date() != parse_expiry(args.expiry)):
                continue
            if args.strike is not None and abs(q.strike - args.strike) > 1e-9:
                continue
            lines.append(
                _greeks_line(
                    s.underlying, q.expiry.date(), greeks(s, q.strike, expiries[q.expiry], q.is_call), q
                )
            )
    return lines


def _from_surface(args: argparse.Namespace) -> list[str]:
    lines = []
    for s in read_surfaces(args.surface):
        if args.underlying and s.underlying != args.underlying.upper():
            continue
        for sl in s.slices:
            if args.expiry and sl.expiry.date() != parse_expiry(args.expiry):
                continue
            strikes = (
                [args.strike] if args.strike is not None else [sl.forward * x for x in DEFAULT_MONEYNESS]
            )
            for k in strikes:
                for is_call in (k >= sl.forward, k < sl.forward):
                    lines.append(
                        _greeks_line(s.underlying, sl.expiry.date(), greeks(s, k, sl.t, is_call), None)
                    )
    return lines


def greeks_command(args: argparse.Namespace) -> int:
    lines = _from_chain(args) if args.chain is not None else _from_surface(args)
    if not lines:
        raise DataError(str(args.chain or args.surface), None, None, "", "no option matches the filters")
    print(_greeks_header())
    for line in lines:
        print(line)
    return 0


def surfaces_of(fit: ChainFit) -> list[Surface]:
    return [u.surface for u in fit.underlyings]
