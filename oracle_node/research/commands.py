"""`oracle-node backtest` and `oracle-node train`: the offline commands (the CLI only parses)."""

from __future__ import annotations

import sys
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from oracle_node.errors import ConfigError
from oracle_node.models.manifest import MANIFEST_FILE
from oracle_node.research.backtest.combination import (
    CHOSEN_MEMBERS,
    CHOSEN_SHRINK,
    CHOSEN_WINDOW,
    ComboOptions,
)
from oracle_node.research.backtest.hybrid import HybridOptions
from oracle_node.research.backtest.lstm import lstm_preparer
from oracle_node.research.backtest.ml import MlOptions
from oracle_node.research.backtest.run import run_backtest
from oracle_node.research.backtest.served import require_served_alpha, served_preparer
from oracle_node.research.training.ml_run import parse_pool, run_train
from oracle_node.research.training.train_run import format_report


def combo_members(args: Any) -> tuple[str, ...]:
    """--combo-members (default CHOSEN_MEMBERS), without the hybrids when --no-hybrid (empty: every
    other model)."""
    given = args.combo_members
    members = CHOSEN_MEMBERS if given is None else tuple(m for m in given.split(",") if m)
    return tuple(m for m in members if not (args.no_hybrid and m.startswith("hybrid_gjr")))


def combo_options(args: Any) -> ComboOptions:
    """--combo-*, the chosen defaults where not given."""
    window = CHOSEN_WINDOW if args.combo_window is None else args.combo_window
    shrink = CHOSEN_SHRINK if args.combo_shrink is None else args.combo_shrink
    return ComboOptions(window, combo_members(args), shrink, args.combo_lead)


def backtest(args: Any) -> int:
    """Walk-forward backtest of the baselines and the ML models (trained before the test period)."""
    if args.ml_retrain_every < 0:
        raise ConfigError(f"--ml-retrain-every = {args.ml_retrain_every}: days between retrains, 0 or more")
    pool = tuple(parse_pool(p) for p in args.pool)
    ml = None if args.no_ml else MlOptions(args.funding, pool, retrain_every=args.ml_retrain_every)
    no_hybrid = ml is None or args.no_hybrid
    hybrids = () if no_hybrid else (HybridOptions(), HybridOptions.variant(args.hybrid_quantile))
    combo = None if ml is None or args.no_combo else combo_options(args)
    preparers = [lstm_preparer(MlOptions(args.funding, pool), args.prices)] if args.lstm else []
    if args.served:
        require_served_alpha(args.alpha)  # before the ML models train
        preparers.append(served_preparer(MlOptions(args.funding, pool), args.prices, args.ml_retrain_every))
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
            args.out, progress=progress, sims=args.sims, ml=ml, hybrids=hybrids, combo=combo, end=args.end,
            preparers=preparers,
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
    """Train the served model before --test-start; write OUT/ (ONNX + manifest.json) the node loads."""
    pool = [parse_pool(p) for p in args.pool]
    model_hash, manifest = run_train(
        args.prices, args.asset, args.test_start, args.out, pool=pool, walk=not args.no_walk_forward
    )
    print(format_report(manifest))
    print(
        f"wrote {args.out / MANIFEST_FILE} ({', '.join(sorted(manifest['artifacts']))})  model hash {model_hash}"
    )
    print(f"serve it: model.manifest: {args.out / MANIFEST_FILE} in the node config, once allow-listed "
          f"(python -m scripts.allow_model schedule --manifest {args.out}, then execute after the delay)")  # fmt: skip
    return 0
