"""`oracle-node cascade fit-addon` and `oracle-node cascade replay` (every expected failure: DataError)."""

from __future__ import annotations

import csv
import json
import shlex
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oracle_node.atomic import refuse_overwrite
from oracle_node.errors import DataError
from oracle_node.research.cascade.addon_fit import fit_artifact, write_artifact
from oracle_node.research.cascade.data import read_liquidation_usd

REPLAY_OUTPUTS = ("metrics.json", "hours.csv", "report.html")
FIT_OUTPUTS = ("fit.json",)


def _file(args: Any, flag: str) -> Path:
    path = getattr(args, flag.replace("-", "_"))
    if not Path(path).is_file():
        raise DataError(str(path), None, f"--{flag}", None, "file does not exist")
    return Path(path)


def _day(flag: str, value: str) -> float:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise DataError("command line", None, f"--{flag}", value, "expected YYYY-MM-DD") from None


def _out_dir(out: Path, names: tuple[str, ...], inputs: dict[str, Any]) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(str(out), None, "--out", None, "is a file; --out names the directory to write into")
    refuse_overwrite([out, *(out / n for n in names)], inputs)


def _prices(args: Any) -> dict[str, Path]:
    return {"ETH-USD": _file(args, "eth-prices"), "BTC-USD": _file(args, "btc-prices")}


def fit_addon(args: Any) -> int:
    started = time.perf_counter()
    liq, prices = _file(args, "liquidations"), _prices(args)
    val, cut = _day("val-start", args.val_start), _day("cut", args.cut)
    if val >= cut:
        raise DataError(
            "command line", None, "--val-start", args.val_start, f"must be before --cut {args.cut}"
        )
    out = Path(args.out)
    _out_dir(out, FIT_OUTPUTS, {"--liquidations": liq})
    doc, report = fit_artifact({"ETH": prices["ETH-USD"], "BTC": prices["BTC-USD"]}, read_liquidation_usd(liq),
                               args.val_start, args.cut)  # fmt: skip
    sha = write_artifact(doc, Path(args.artifact))
    report |= {"artifact": str(args.artifact), "artifact_sha256": sha, "command": shlex.join(sys.argv),
               "wall_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "fit.json").write_text(json.dumps(report, indent=1) + "\n")
    for name in ("full", "price_only"):
        r = report[name]
        print(f"{name:10s} validation brier {r['brier']:.4f} (climatology {r['brier_climatology']:.4f})  "
              f"p_ref {r['p_ref']:.2f}  a {r['a_bp']:.0f} bp")  # fmt: skip
    print(f"wrote {args.artifact} (sha256 {sha}) and {out / 'fit.json'} in {report['wall_seconds']} s")
    return 0


def replay(args: Any) -> int:
    from oracle_node.research.cascade.replay import replay_hours, summary  # noqa: PLC0415 - loads the node's model
    from oracle_node.research.cascade.replay_report import render  # noqa: PLC0415

    started = time.perf_counter()
    liq, prices = _file(args, "liquidations"), _prices(args)
    start, end = _day("from", args.start), _day("to", args.end)
    if not start < end <= start + 31 * 86400:
        raise DataError("command line", None, "--to", args.end, "must be after --from, at most 31 days later")
    out = Path(args.out)
    _out_dir(out, REPLAY_OUTPUTS, {"--liquidations": liq})
    events = read_liquidation_usd(liq)
    hours = replay_hours(prices, events, start, end, feed=not args.no_feed)
    if not hours:
        raise DataError(str(prices["ETH-USD"]), None, "--from", args.start, "no hourly bars in the window")
    metrics = summary(hours, events, started)
    metrics["command"] = shlex.join(sys.argv)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    with (out / "hours.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(asdict(hours[0])))
        w.writeheader()
        w.writerows(asdict(h) for h in hours)
    (out / "report.html").write_text(render(hours, metrics))
    for m in ("ETH-USD", "BTC-USD"):
        r = metrics[m]
        e = r["estimate"]
        print(f"{m}: p_cascade {r['p_cascade']['min']:.3f}..{r['p_cascade']['max']:.3f}, add-on max {r['addon_bp_max']} bp, "
              f"LT dynamic {r['lt_dynamic']['min']}..{r['lt_dynamic']['max']} vs static {r['lt_static']['min']}..{r['lt_static']['max']}; "
              f"pre-empted {e['usd_pre_empted'] / 1e6:.1f} of {e['usd_total'] / 1e6:.1f} M$")  # fmt: skip
    print(f"wrote {', '.join(str(out / n) for n in REPLAY_OUTPUTS)} in {metrics['wall_seconds']} s")
    return 0
