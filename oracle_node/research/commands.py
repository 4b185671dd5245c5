"""`oracle-node backtest` and `oracle-node train`: the offline commands (the CLI only parses)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from oracle_node.research.backtest.ml import MlOptions
from oracle_node.research.backtest.run import run_backtest
from oracle_node.research.training.ml_run import parse_pool, run_train


def backtest(args: Any) -> int:
    """Walk-forward backtest of the baselines and the ML models (trained before the test period)."""
    ml = None if args.no_ml else MlOptions(args.funding, tuple(parse_pool(p) for p in args.pool))
    with Progress(
        TextColumn("{task.description:12s}"), BarColumn(), TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(), disable=not sys.stderr.isatty(),
    ) as bar:  # fmt: skip
        tasks: dict[str, Any] = {}

        def progress(family: str, done: int, total: int) -> None:
            if family not in tasks:
                tasks[family] = bar.add_task(family, total=total)
            bar.update(tasks[family], completed=done)

        result = run_backtest(
            args.prices, args.asset, args.alpha, args.window, args.test_days, args.refit_every,
            args.out, progress=progress, sims=args.sims, ml=ml,
        )  # fmt: skip
    for name, m in result.metrics.items():
        print(
            f"{name:12s} violations {m['violations']:3d}/{m['expected']:.1f}  kupiec_p {m['kupiec_p']:.3f}  "
            f"cc_p {m['christoffersen_cc_p']:.3f}  {m['traffic_light']:6s}  fz0 {m['fz0']:.4f}  "
            f"mean_var {m['mean_var']:.4f}"
        )
    print(f"wrote {args.out}/metrics.json, forecasts.csv, report.html in {result.wall_seconds:.1f} s")
    return 0


def train(args: Any) -> int:
    """Train the ML models before --test-start and export ONNX files with a manifest."""
    model_hash, manifest = run_train(
        args.prices, args.asset, args.test_start, args.alpha or [0.01, 0.025], args.out,
        funding=args.funding, pool=[parse_pool(p) for p in args.pool],
    )  # fmt: skip
    for key, entry in manifest["by_alpha"].items():
        print(f"{key}: split {json.dumps(entry['split'])}")
        for name, met in entry["metrics"].items():
            oos = met["test_static_conformal"]
            print(f"  {name:5s} VaR multiplier {met['conformal_var_multiplier']:.3f}  "
                  f"test violations {oos['violations']}/{oos['days']}")  # fmt: skip
    print(f"wrote {args.out}/manifest.json  model hash {model_hash}")
    return 0
