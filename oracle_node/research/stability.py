"""`oracle-node stability`: do the published margins jump on noise? (issue 12, item 7)

Replays an hourly price file through the node's own code, round by round: the daily warm-up history
of the file up to --from (`service.wiring.build_pipeline`, as the demo and `replay` do), then one round
per hour with the ticks a demo node sees (the real venue plus the four derived venues of
`sources.synthetic`, guarded, aggregated), the same RiskModel, the same risk layer, the same partial
day. Per market it writes the hourly rounds (rounds.csv) and metrics.json:

- pairs: consecutive rounds with parameters (hourly pairs);
- calm_pairs: pairs whose guarded price moved by less than CALM_MOVE (1 %) in absolute relative terms;
- flip_share: share of pairs with |IM_t / IM_{t-1} - 1| > IM_JUMP (10 %) while the price moved by less
  than CALM_MOVE (the issue's stability measure; 0 is perfectly stable), flips: their number;
- max_calm_im_jump: the largest |IM_t / IM_{t-1} - 1| over calm pairs;
- confidence_flip_share: share of pairs whose confidence moved by more than CONF_JUMP (0.10) while the
  price was calm;
- crash: the first round whose price fell more than CRASH_MOVE (5 %) from the round before ("drop
  hour"), and the first round from there on whose IM is more than IM_JUMP above the IM of the round
  before the drop; lag_hours is the hour difference (0: margins rose in the same round). null when the
  window has no such drop.

The calm month is chosen by a rule, not by results: `calmest_month` is the calendar month of a year
(2019 by default) with the lowest RMS of hourly log returns of the given file (BTC), see docs/stability.md.

    python -m oracle_node.research.stability --prices FILE --from 2020-03-09 --to 2020-03-14 \
        --market BTC-USD --out DIR
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from oracle_node.config import NodeConfig
from oracle_node.errors import ConfigError, OracleNodeError
from oracle_node.service.wiring import build_pipeline
from oracle_node.sources.ohlcv import OhlcvBar, read_cdd_ohlcv
from oracle_node.sources.synthetic import window_ticks

HOUR = 3600.0
CALM_MOVE = 0.01
IM_JUMP = 0.10
CONF_JUMP = 0.10
CRASH_MOVE = 0.05


@dataclass(frozen=True)
class Round:
    """One market's published candidate in one hourly round (params in bp as the contract holds them)."""

    ts: float
    price: float
    volatility: int
    initial_margin: int
    confidence: int
    model: str
    flags: str


def utc(text: str, flag: str = "time") -> float:
    """'2020-03-12' or '2020-03-12T06' (UTC) -> unix seconds; ConfigError naming `flag` otherwise."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ConfigError(
            f"{flag} = {text!r}: not a UTC day or hour (e.g. 2020-03-09 or 2020-03-10T12)"
        ) from None


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H")


def read_bars(path: Path) -> list[OhlcvBar]:
    return read_cdd_ohlcv(path).bars


def calmest_month(bars: Sequence[OhlcvBar], year: int = 2019) -> str:
    """'YYYY-MM': the month of `year` with the lowest RMS of hourly log returns (at least 600 hours)."""
    close = np.array([b.close for b in bars])
    ts = np.array([b.ts for b in bars])
    r = np.diff(np.log(close))
    months = np.array([datetime.fromtimestamp(t, UTC).strftime("%Y-%m") for t in ts[1:]])
    rms = {
        m: float(np.sqrt(np.mean(r[months == m] ** 2)))
        for m in sorted(set(months.tolist()))
        if m.startswith(str(year)) and int((months == m).sum()) >= 600
    }
    return min(rms, key=rms.__getitem__)


def replay_rounds(prices: Path, market: str, start: float, end: float) -> list[Round]:
    """The node's rounds for `market` at every hour with a bar closing in (start, end]."""
    cfg = NodeConfig(
        node_name="stability",
        markets=[{"id": market, "history": str(prices)}],
        service={"store_path": Path("unused.sqlite")},  # never opened: no store is built here
    )
    pipeline = build_pipeline(cfg, [market], start)
    ticks = window_ticks(market, read_bars(prices), start - HOUR, end)
    out: list[Round] = []
    i = 0
    while i < len(ticks):
        ts = ticks[i].ts
        j = i
        while j < len(ticks) and ticks[j].ts == ts:
            j += 1
        for o in pipeline.step(ts, ticks[i:j]):
            if o.risk is not None and o.guard.aggregate_price is not None:
                p = o.risk.params
                flags = ";".join(sorted(o.flags))
                out.append(Round(ts, o.guard.aggregate_price, p.volatility, p.initial_margin,
                                 p.confidence, o.forecast.model if o.forecast else "", flags))  # fmt: skip
            pipeline.settle(o, published=o.would_publish)
        i = j
    return out


def _crash(rounds: Sequence[Round]) -> dict[str, object] | None:
    for k in range(1, len(rounds)):
        if rounds[k - 1].price - rounds[k].price > CRASH_MOVE * rounds[k - 1].price:
            ref = rounds[k - 1].initial_margin
            rise = next((r for r in rounds[k:] if r.initial_margin > ref * (1.0 + IM_JUMP)), None)
            return {
                "drop_hour": iso(rounds[k].ts),
                "drop": round(rounds[k].price / rounds[k - 1].price - 1.0, 4),
                "im_before_bp": ref,
                "im_rise_hour": None if rise is None else iso(rise.ts),
                "im_at_rise_bp": None if rise is None else rise.initial_margin,
                "lag_hours": None if rise is None else round((rise.ts - rounds[k].ts) / HOUR),
            }
    return None


def stability_metrics(rounds: Sequence[Round]) -> dict[str, object]:
    """The metrics of the module docstring over consecutive rounds (one hour apart)."""
    pairs = [(a, b) for a, b in itertools.pairwise(rounds) if b.ts - a.ts <= HOUR]
    calm = [(a, b) for a, b in pairs if abs(b.price - a.price) < CALM_MOVE * a.price]
    jumps = [abs(b.initial_margin / a.initial_margin - 1.0) for a, b in calm]
    flips = sum(abs(b.initial_margin - a.initial_margin) > IM_JUMP * a.initial_margin for a, b in calm)
    conf = sum(abs(b.confidence - a.confidence) / 10_000 > CONF_JUMP for a, b in calm)
    n = len(pairs)
    return {
        "rounds": len(rounds),
        "pairs": n,
        "calm_pairs": len(calm),
        "flips": flips,
        "flip_share": round(flips / n, 4) if n else None,
        "max_calm_im_jump": round(max(jumps), 4) if jumps else None,
        "confidence_flips": conf,
        "confidence_flip_share": round(conf / n, 4) if n else None,
        "im_range_bp": [min(r.initial_margin for r in rounds), max(r.initial_margin for r in rounds)]
        if rounds
        else None,
        "crash": _crash(rounds),
    }


def write_outputs(out: Path, market: str, rounds: Sequence[Round], metrics: dict[str, object]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"rounds_{market}.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["hour", *Round.__dataclass_fields__])
        for r in rounds:
            w.writerow([iso(r.ts), *asdict(r).values()])
    path = out / "metrics.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[market] = metrics
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def run(prices: Path, market: str, start: str, end: str, out: Path) -> dict[str, object]:
    rounds = replay_rounds(prices, market, utc(start, "--from"), utc(end, "--to"))
    metrics = {"prices": str(prices), "from": start, "to": end} | stability_metrics(rounds)
    write_outputs(out, market, rounds, metrics)
    return metrics


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prices", type=Path, help="hourly OHLCV export (CryptoDataDownload/Binance columns)")
    p.add_argument("--from", dest="start", help="first UTC hour, e.g. 2020-03-09 or 2020-03-10T12")
    p.add_argument("--to", dest="end", help="last UTC hour (exclusive)")
    p.add_argument("--market", default="BTC-USD", help="market id the rounds are named by")
    p.add_argument(
        "--out", type=Path, help="directory: metrics.json (one key per market), rounds_<market>.csv"
    )
    p.add_argument(
        "--calm-month", type=int, metavar="YEAR",
        help="print the calmest month of YEAR in --prices (lowest hourly RMS return) and exit",
    )  # fmt: skip


def command(args: argparse.Namespace) -> int:
    """`oracle-node stability` and `python -m oracle_node.research.stability` (the latter alone has
    --calm-month); a problem with the input is one line on stderr and exit 2."""
    try:
        return _command(args)
    except (OracleNodeError, ValueError) as exc:
        print(f"stability: error: {exc}", file=sys.stderr)
        return 2


def _command(args: argparse.Namespace) -> int:
    if getattr(args, "calm_month", None):
        print(calmest_month(read_bars(args.prices), args.calm_month))
        return 0
    if not (args.prices and args.start and args.end and args.out):
        print("stability: --prices, --from, --to and --out are required", file=sys.stderr)
        return 2
    m = run(args.prices, args.market, args.start, args.end, args.out)
    crash = m["crash"]
    lag = "no >5 % hourly drop" if crash is None else f"crash lag {crash['lag_hours']} h"  # type: ignore[index]
    print(
        f"{args.market} {args.start}..{args.end}: {m['pairs']} pairs, flip share {m['flip_share']} "
        f"({m['flips']} flips), max calm IM jump {m['max_calm_im_jump']}, {lag}; wrote {args.out}/metrics.json"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m oracle_node.research.stability", description=__doc__.split("\n")[0]
    )
    add_arguments(p)
    return command(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
