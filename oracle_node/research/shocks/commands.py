"""`oracle-node shock-backtest` and `oracle-node shock-train` (the CLI only parses)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from oracle_node.atomic import refuse_overwrite
from oracle_node.errors import DataError
from oracle_node.options.shock_params import MANIFEST_FILE, MODEL_FILE
from oracle_node.options.shocks import SHOCK_DIR, ShockBounds, ShockModel
from oracle_node.research.shocks.report import OUTPUTS, write_report
from oracle_node.research.shocks.run import DataFiles, run_backtest
from oracle_node.research.shocks.select import ShockOptions
from oracle_node.research.shocks.train import run_train


def _options(args: Any) -> tuple[DataFiles, ShockOptions]:
    for flag in ("dvol", "prices", "funding"):
        path = getattr(args, flag)
        if path is not None and not Path(path).is_file():
            raise DataError(str(path), None, f"--{flag}", None, "file does not exist")
    bad = [
        (flag, v, why)
        for flag, v, ok, why in (
            ("--horizon", args.horizon, 1 <= args.horizon <= 30, "must be 1..30 days"),
            ("--level", args.level, 0.5 < args.level < 1.0, "must be in (0.5, 1)"),
            ("--val-days", args.val_days, args.val_days >= 60, "must be >= 60"),
            ("--test-days", args.test_days, args.test_days >= 60, "must be >= 60"),
            ("--refit-every", args.refit_every, args.refit_every >= 1, "must be >= 1"),
        )
        if not ok
    ]
    if bad:
        flag, v, why = bad[0]
        raise DataError("command line", None, flag, v, why)
    opts = ShockOptions(args.horizon, args.level, args.val_days, args.test_days, args.refit_every)
    inputs = {f"--{f}": getattr(args, f) for f in ("dvol", "prices", "funding")}
    outs = OUTPUTS if args.command == "shock-backtest" else (MODEL_FILE, MANIFEST_FILE)
    refuse_overwrite([_out(args) / n for n in outs], inputs)
    return DataFiles(args.dvol, args.prices, args.funding), opts


def _out(args: Any) -> Path:
    out = Path(args.out) if args.out is not None else SHOCK_DIR
    if out.exists() and not out.is_dir():
        raise DataError(str(out), None, "--out", None, "is a file; --out names the directory to write into")
    return out


def command_line(args: Any) -> str:
    """The command that reproduces this run, every option spelled out."""
    parts = ["oracle-node", "shock-backtest"]
    parts += [
        x
        for flag in ("dvol", "prices", "funding")
        if getattr(args, flag)
        for x in (f"--{flag}", str(getattr(args, flag)))
    ]
    parts += ["--horizon", str(args.horizon), "--level", str(args.level), "--val-days", str(args.val_days)]
    parts += [
        "--test-days",
        str(args.test_days),
        "--refit-every",
        str(args.refit_every),
        "--out",
        str(_out(args)),
    ]
    return shlex.join(parts)


def shock_backtest(args: Any) -> int:
    data, opts = _options(args)
    result = run_backtest(data, opts)
    write_report(_out(args), result, command_line(args))
    for name, sides in result.metrics["scores"]["test"].items():
        for s, m in sides.items():
            print(
                f"{name:10s} {s:5s} exceed {m['exceedances']:2d}/{m['expected']:.1f}  kupiec_p {m['kupiec_p']:.3f}  "
                f"pinball {m['pinball'] * 1e3:.4f}e-3  mean_shock {m['mean_shock']:.1%}"
            )
    print(f"wrote {', '.join(str(_out(args) / n) for n in OUTPUTS)} in {result.metrics['wall_seconds']} s")
    return 0


def shock_train(args: Any) -> int:
    data, opts = _options(args)
    out = _out(args)
    digest, params = run_train(data, opts, out)
    model = ShockModel.load(out)
    shock = model.predict(data.load(), ShockBounds())
    print(f"model {params.meta['candidate']} trained {params.meta['training']}")
    why = f"  (fallback: {shock.fallback})" if shock.fallback else ""
    print(f"latest day {shock.day}: vol_up {shock.vol_up:.1%}  vol_down {shock.vol_down:.1%}{why}")
    print(f"wrote {out / MODEL_FILE} sha256 {digest} and manifest.json")
    if not params.meta["selection"]["served_beats_empirical_on_validation"]:
        print(
            "warning: on the validation period this model did not beat the empirical quantile "
            f"(window {params.meta['selection']['empirical_window']} d); do not allow-list it",
            file=sys.stderr,
        )
    return 0
