"""`oracle-node cascade backtest` (the CLI only parses; every expected failure is a DataError)."""

from __future__ import annotations

import json
import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from oracle_node.atomic import refuse_overwrite
from oracle_node.errors import DataError
from oracle_node.research.cascade.report import render
from oracle_node.research.cascade.run import OUTPUTS, CascadeOptions, run_cascade, write_forecasts

DATE_FLAGS = ("val_start", "test_start", "end")


def _check(args: Any) -> CascadeOptions:
    for flag in ("liquidations", "prices", "funding"):
        path = getattr(args, flag)
        if path is not None and not Path(path).is_file():
            raise DataError(str(path), None, f"--{flag}", None, "file does not exist")
    for flag in DATE_FLAGS:
        value = getattr(args, flag)
        try:
            if value is not None:
                datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            raise DataError(
                "command line", None, "--" + flag.replace("_", "-"), value, "expected YYYY-MM-DD"
            ) from None
    if args.val_start >= args.test_start:
        raise DataError(
            "command line",
            None,
            "--val-start",
            args.val_start,
            f"must be before --test-start {args.test_start}",
        )
    if not 1 <= args.refit_every <= 90:
        raise DataError("command line", None, "--refit-every", args.refit_every, "must be 1..90 days")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DataError(str(out), None, "--out", None, "is a file; --out names the directory to write into")
    inputs = {f"--{f}": getattr(args, f) for f in ("liquidations", "prices", "funding")}
    refuse_overwrite([out, *(out / n for n in OUTPUTS)], inputs)
    return CascadeOptions(args.val_start, args.test_start, args.end, args.refit_every)


def command_line(args: Any) -> str:
    parts = ["oracle-node", "cascade", "backtest"]
    for flag in ("liquidations", "prices", "funding"):
        if getattr(args, flag) is not None:
            parts += [f"--{flag}", str(getattr(args, flag))]
    for flag in DATE_FLAGS:
        if getattr(args, flag) is not None:
            parts += ["--" + flag.replace("_", "-"), getattr(args, flag)]
    return shlex.join([*parts, "--refit-every", str(args.refit_every), "--out", str(args.out)])


def cascade_backtest(args: Any) -> int:
    opts = _check(args)

    def progress(span: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{span:10s} {done}/{total} days", end="", file=sys.stderr)

    result, forecasts = run_cascade(args.liquidations, args.prices, args.funding, opts, progress)
    result["command"] = command_line(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    write_forecasts(forecasts, out / "forecasts.csv")
    (out / "report.html").write_text(render(result, forecasts, result["command"]))
    for model, r in result["test"].items():
        a = r["alerts"]
        print(f"{model:18s} brier {r['brier']:.4f}  bss {r['bss']:+.3f} [{r['bss_90ci'][0]:+.3f}, {r['bss_90ci'][1]:+.3f}]  "
              f"precision {_pct(a['precision'])} recall {_pct(a['recall'])} at p >= {a['level']:.2f}")  # fmt: skip
    print(f"wrote {', '.join(str(out / n) for n in OUTPUTS)} in {result['wall_seconds']:.1f} s")
    return 0


def _pct(x: float | None) -> str:
    return "  -  " if x is None else f"{x:5.1%}"
