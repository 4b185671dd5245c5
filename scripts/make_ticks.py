"""Build a multi-source tick CSV from the bundled real hourly data plus derived venues.

    python -m scripts.make_ticks --start 2020-03-10 --end 2020-03-15 --markets BTC-USD,ETH-USD \
        --attack venue_b:spike:2020-03-11T10:2020-03-11T12 --out examples/ticks_2020-03-12.csv

Each market gets the real Binance spot venue and four derived venues (oracle_node.sources.synthetic);
`--attack SOURCE:KIND:START:END` (KIND spike|drift|freeze, times ISO-8601 UTC) manipulates one
source of every market in the window.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from oracle_node.sources.bundled import HOURLY_SPOT, resolve
from oracle_node.sources.ohlcv import read_cdd_ohlcv
from oracle_node.sources.synthetic import Manipulation, window_ticks
from oracle_node.sources.tickcsv import write_ticks


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _attack(text: str) -> Manipulation:
    source, kind, start, end = text.split(":", 3) if text.count(":") == 3 else _split_iso(text)
    return Manipulation(source, kind, _ts(start), _ts(end))  # type: ignore[arg-type]


def _split_iso(text: str) -> list[str]:
    source, kind, rest = text.split(":", 2)
    start, end = rest.split("/") if "/" in rest else rest.rsplit(":", 1)
    return [source, kind, start, end]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--start", required=True)
    p.add_argument("--end", required=True)
    p.add_argument("--markets", default="BTC-USD,ETH-USD")
    p.add_argument("--attack", action="append", default=[], help="SOURCE:KIND:START/END")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    start, end = _ts(args.start), _ts(args.end)
    attacks = [_attack(a) for a in args.attack]
    ticks = []
    for market in args.markets.split(","):
        bars = read_cdd_ohlcv(resolve(f"bundled:{HOURLY_SPOT[market]}")).bars
        ticks += window_ticks(market, bars, start, end, attacks=attacks)
    n = write_ticks(args.out, sorted(ticks, key=lambda t: (t.ts, t.market, t.source)))
    print(f"wrote {n} ticks to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
