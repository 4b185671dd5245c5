"""Walk-forward backtests of many markets x levels: one task = one market at one level.

The driver (this process) loads every distinct price file once (a `DataError` or a setting that does
not fit the series stops the run before any task starts), stores each history once with
`executor.put`, and submits one `backtest_task` per market and level with the handle: on Ray every
task of a market reads the same object-store copy. A task runs `run_backtest` single-process
(workers=1: the executor is the parallelism) into a scratch directory on its worker and returns the
files it wrote (metrics.json, forecasts.csv, report.html, models/), which the driver writes under
OUT/<market>/alpha_<level>/: a cluster needs no shared filesystem for the outputs.

A task runs with BLAS and OpenMP held to one thread (threadpoolctl): one task is one core, so two
tasks on two cores do not oversubscribe them, and every executor gives the same numbers (a GARCH fit
with a 2-thread BLAS sums in another order and drifts by ~1e-7 from the 1-thread fit a Ray worker
makes, since Ray sets OMP_NUM_THREADS=1 for a 1-CPU task). A task that fails
on its data (an `OracleNodeError`) returns the error; the others go on.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

from oracle_node import atomic
from oracle_node.errors import ConfigError, DataError, OracleNodeError
from oracle_node.features.history import MarketHistory
from oracle_node.research.backtest.combination import ComboOptions
from oracle_node.research.backtest.engine import WalkForwardConfig
from oracle_node.research.backtest.hybrid import HybridOptions
from oracle_node.research.backtest.ml import MlOptions
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import run_backtest, truncate
from oracle_node.research.scale.executor import Executor
from oracle_node.research.scale.markets import MarketsPlan, Settings
from oracle_node.research.training.ml_data import with_funding


@dataclass(frozen=True)
class BacktestTask:
    market: str
    asset: str
    alpha: float
    settings: Settings
    prices: str  # the price file, recorded in metrics.json (the task reads the shared history)

    @property
    def label(self) -> str:
        return f"alpha_{self.alpha:g}"


@dataclass(frozen=True)
class TaskResult:
    market: str
    alpha: float
    seconds: float  # inside the task: the backtest, its outputs and reading them back
    worker: str  # host:pid that ran it
    error: str | None = None
    cpu_seconds: float = 0.0  # CPU time of the task's process (all its threads) over the same span
    max_rss_mb: float = 0.0  # peak resident memory of the process that ran it, after the task
    run: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # output path (relative) -> content


def backtest_task(task: BacktestTask, history: MarketHistory) -> TaskResult:
    """One market at one level, single-process, into a scratch directory; -> metrics and files."""
    started, cpu = time.perf_counter(), time.process_time()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    s = task.settings
    with tempfile.TemporaryDirectory(prefix="oracle-scale-") as tmp, threadpool_limits(limits=1):
        try:
            result = run_backtest(
                history, task.asset, task.alpha, s.window, s.test_days, s.refit_every, tmp,
                workers=1, sims=s.sims, seed=s.seed, ml=ml_options(s),
                hybrids=hybrid_options(s), combo=combo_options(s), end=_end(s),
            )  # fmt: skip
        except OracleNodeError as exc:
            spent = time.perf_counter() - started, time.process_time() - cpu
            return TaskResult(task.market, task.alpha, spent[0], worker, str(exc), spent[1], peak_rss_mb())
        run = {**result.run, "market": task.market, "prices": task.prices}
        path = Path(tmp) / "metrics.json"
        doc = json.loads(path.read_text())
        path.write_text(json.dumps({**doc, "run": {**doc["run"], **run}}, indent=2) + "\n")
        files = {
            p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(Path(tmp).rglob("*")) if p.is_file()
        }
    spent = time.perf_counter() - started, time.process_time() - cpu
    return TaskResult(
        task.market, task.alpha, spent[0], worker, None, spent[1], peak_rss_mb(), run, result.metrics, files
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def ml_options(s: Settings) -> MlOptions | None:
    """The ML family's options (the funding column is already in the shared history)."""
    return MlOptions(retrain_every=s.ml_retrain_every) if s.ml else None


def hybrid_options(s: Settings) -> tuple[HybridOptions, ...]:
    return (HybridOptions(), HybridOptions.variant(s.hybrid_quantile)) if s.ml and s.hybrid else ()


def combo_options(s: Settings) -> ComboOptions | None:
    c = s.combo
    return None if c is None or not s.ml else ComboOptions(c.window, c.members, c.shrink, c.lead)


def _end(s: Settings) -> str | None:
    return None if s.end is None else s.end.isoformat()


def load_histories(plan: MarketsPlan) -> dict[tuple[Path, Path | None], MarketHistory]:
    """Each distinct (price file, funding file) loaded once, with the funding column when given."""
    out: dict[tuple[Path, Path | None], MarketHistory] = {}
    for m in plan.markets:
        key = (m.prices, m.settings.funding)
        if key not in out:
            out[key] = with_funding(load_prices(m.prices, m.asset), m.settings.funding)
    return out


def check_fits(plan: MarketsPlan, histories: dict[tuple[Path, Path | None], MarketHistory]) -> None:
    """ConfigError (naming the markets file and market) when a market's settings need more days than
    its prices hold before `end`, or a level is out of range: found before any task starts."""
    for m in plan.markets:
        s = m.settings
        try:
            n = truncate(histories[(m.prices, s.funding)], _end(s)).close.size - 1
            combo = combo_options(s)
            lead = 0 if combo is None else combo.lead_days(n - s.window - s.test_days)
            for alpha in s.levels:
                WalkForwardConfig(alpha, s.window, s.test_days, s.refit_every, s.sims, s.seed, lead).validate(
                    n
                )
        except OracleNodeError as exc:
            raise ConfigError(f"market {m.name}: {exc}", str(plan.source)) from None


def tasks_for(plan: MarketsPlan) -> list[BacktestTask]:
    return [
        BacktestTask(m.name, m.asset, alpha, m.settings, str(m.prices))
        for m in plan.markets
        for alpha in m.settings.levels
    ]


@dataclass(frozen=True)
class ScaleRun:
    results: list[TaskResult]  # in the plan's order (market, then level)
    wall_seconds: float  # submitting the first task to writing the last output
    load_seconds: float  # loading the price files in the driver
    puts: int  # shared values stored (one per distinct price file)


def run_markets(
    plan: MarketsPlan,
    executor: Executor,
    out: Path,
    on_done: Callable[[TaskResult, int, int], None] | None = None,
) -> ScaleRun:
    """Every market x level of `plan` on `executor`; outputs under out/<market>/alpha_<level>/."""
    started = time.perf_counter()
    histories = load_histories(plan)
    check_fits(plan, histories)
    refs = {key: executor.put(h) for key, h in histories.items()}
    loaded = time.perf_counter()
    tasks = tasks_for(plan)
    calls = [(t, refs[(Path(t.prices), t.settings.funding)]) for t in tasks]
    results: list[TaskResult | None] = [None] * len(tasks)
    for n, (i, res) in enumerate(executor.run(backtest_task, calls), start=1):
        results[i] = res
        write_task_outputs(out, tasks[i], res)
        if on_done is not None:
            on_done(res, n, len(tasks))
    done = [r for r in results if r is not None]
    return ScaleRun(done, time.perf_counter() - loaded, loaded - started, executor.puts)


def write_task_outputs(out: Path, task: BacktestTask, res: TaskResult) -> None:
    target = out / task.market / task.label
    try:
        for rel, data in res.files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(target / rel, data)
    except OSError as exc:
        raise DataError(str(target), None, None, exc.strerror, "cannot write the backtest outputs") from exc


def per_task_stats(results: Sequence[Any], cpu: bool = False) -> dict[str, float]:
    """Of tasks' results (anything with `seconds` and `cpu_seconds`): n, mean, p50, p95, min, max, sum of the in-task wall seconds (`cpu`: CPU seconds)."""
    secs = np.array([r.cpu_seconds if cpu else r.seconds for r in results], dtype=np.float64)
    if secs.size == 0:
        return {}
    return {
        "n": int(secs.size),
        "mean": round(float(secs.mean()), 3),
        "p50": round(float(np.percentile(secs, 50)), 3),
        "p95": round(float(np.percentile(secs, 95)), 3),
        "min": round(float(secs.min()), 3),
        "max": round(float(secs.max()), 3),
        "sum": round(float(secs.sum()), 3),
    }
