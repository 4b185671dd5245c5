"""Retrain-policy studies of many markets: one task = one market x one candidate policy.

The study of one market (`research.retrain.run.run_study`) walks every candidate policy (never, each
schedule period, each drift gap) over the same rows, then chooses on the validation span. Here the
driver builds each distinct ML feature matrix once (price file, funding file and `end`: a
`DataError`, or a study span the rows do not hold, stops the run before any task starts), stores it
once with `executor.put`, and submits one `walk_task` per market and candidate: a walk is 1 to ~100
model fits of 0.2-2 s, the seconds-long unit the executors want. When the last walk of a market
returns, the driver makes the choices (`run.choose`, cheap) and writes OUT/<market>/ with
`report.write_study`, exactly as `oracle-node retrain-policy --prices` writes OUT/ (metrics.json
`run.wall_seconds` is the sum of the market's task seconds; `run.market` and `run.end` are added).

A task holds BLAS and OpenMP to one thread, as the backtest tasks do. A walk that fails on its data
(an `OracleNodeError`) returns the error; that market is not written, the others go on.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from oracle_node.errors import ConfigError, OracleNodeError
from oracle_node.models.ml_features import MlRows, ml_rows
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import truncate
from oracle_node.research.retrain.command import run_info
from oracle_node.research.retrain.policy import Policy, PolicyPath, bundle_fitter, walk
from oracle_node.research.retrain.report import write_study
from oracle_node.research.retrain.run import Study, StudyConfig, choose, study_span
from oracle_node.research.scale.backtests import peak_rss_mb, per_task_stats
from oracle_node.research.scale.executor import Executor
from oracle_node.research.scale.markets import MarketSpec, MarketsPlan
from oracle_node.research.scale.summary import executor_doc
from oracle_node.research.training.ml_data import with_funding

RowsKey = tuple[Path, Path | None, str | None]  # price file, funding file, end day


@dataclass(frozen=True)
class WalkTask:
    market: str
    policy: Policy
    first: int  # rows first .. last - 1 are forecast (run.study_span)
    last: int
    cfg: StudyConfig


@dataclass(frozen=True)
class WalkResult:
    market: str
    label: str  # the policy's label
    seconds: float  # inside the task
    worker: str  # host:pid that ran it
    error: str | None = None
    cpu_seconds: float = 0.0
    max_rss_mb: float = 0.0
    path: PolicyPath | None = None


def walk_task(task: WalkTask, rows: MlRows) -> WalkResult:
    """One candidate policy walked over one market's rows, single-threaded; -> its forecasts."""
    started, cpu = time.perf_counter(), time.process_time()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    c = task.cfg
    error, path = None, None
    with threadpool_limits(limits=1):
        try:
            path = walk(rows, task.policy, task.first, task.last, c.alpha, bundle_fitter(c.alpha, c.model,
                        c.cal_window), c.cal_window)  # fmt: skip
        except OracleNodeError as exc:
            error = str(exc)
    spent = time.perf_counter() - started, time.process_time() - cpu
    return WalkResult(task.market, task.policy.label, spent[0], worker, error, spent[1], peak_rss_mb(), path)


def rows_key(m: MarketSpec) -> RowsKey:
    s = m.settings
    return m.prices, s.funding, None if s.end is None else s.end.isoformat()


def load_market_rows(plan: MarketsPlan) -> dict[RowsKey, MlRows]:
    """Each distinct (price file, funding file, end) turned into ML rows once."""
    out: dict[RowsKey, MlRows] = {}
    for m in plan.markets:
        key = rows_key(m)
        if key not in out:
            out[key] = ml_rows(with_funding(truncate(load_prices(m.prices, m.asset), key[2]), key[1]))
    return out


@dataclass(frozen=True)
class MarketStudy:
    market: MarketSpec
    cfg: StudyConfig
    dates: list[str]
    tasks: tuple[int, ...]  # indices into the run's task list, in cfg.candidates() order


def plan_tasks(plan: MarketsPlan, rows: dict[RowsKey, MlRows]) -> tuple[list[WalkTask], list[MarketStudy]]:
    """Every market x candidate; ConfigError (naming the file and market) when the study's span does
    not fit a market's rows: found before any task starts."""
    tasks: list[WalkTask] = []
    studies: list[MarketStudy] = []
    for m in plan.markets:
        cfg = m.settings.retrain.study()
        try:
            dates, first, last = study_span(rows[rows_key(m)], cfg)
        except OracleNodeError as exc:
            raise ConfigError(f"market {m.name}: {exc}", str(plan.source)) from None
        ids = range(len(tasks), len(tasks) + len(cfg.candidates()))
        tasks += [WalkTask(m.name, p, first, last, cfg) for p in cfg.candidates()]
        studies.append(MarketStudy(m, cfg, dates, tuple(ids)))
    return tasks, studies


@dataclass(frozen=True)
class MarketOutcome:
    market: str
    walks: list[WalkResult]  # in cfg.candidates() order
    study: Study | None  # None when a walk failed
    error: str | None


@dataclass(frozen=True)
class RetrainRun:
    outcomes: list[MarketOutcome]  # in the plan's order
    walks: list[WalkResult]  # every task, in the plan's order
    wall_seconds: float  # submitting the first task to writing the last market
    load_seconds: float  # loading the price files and building the rows in the driver
    puts: int


def run_retrain_markets(
    plan: MarketsPlan,
    executor: Executor,
    out: Path,
    on_done: Callable[[WalkResult, int, int], None] | None = None,
) -> RetrainRun:
    """Every market x candidate of `plan` on `executor`; each market's study under out/<market>/."""
    started = time.perf_counter()
    rows = load_market_rows(plan)
    tasks, studies = plan_tasks(plan, rows)
    refs = {key: executor.put(r) for key, r in rows.items()}
    loaded = time.perf_counter()
    of_task = {i: s for s in studies for i in s.tasks}
    calls = [(t, refs[rows_key(of_task[i].market)]) for i, t in enumerate(tasks)]
    results: dict[int, WalkResult] = {}
    outcomes: dict[str, MarketOutcome] = {}
    for n, (i, res) in enumerate(executor.run(walk_task, calls), start=1):
        results[i] = res
        s = of_task[i]
        if all(k in results for k in s.tasks):
            outcomes[s.market.name] = finish_market(out, s, [results[k] for k in s.tasks])
        if on_done is not None:
            on_done(res, n, len(tasks))
    return RetrainRun(
        [outcomes[s.market.name] for s in studies],
        [results[i] for i in range(len(tasks))],
        time.perf_counter() - loaded,
        loaded - started,
        executor.puts,
    )


def finish_market(out: Path, s: MarketStudy, walks: list[WalkResult]) -> MarketOutcome:
    """The market's choices from its walks, written under out/<market>/ as the single-market command."""
    failed = [w for w in walks if w.error is not None]
    if failed:
        return MarketOutcome(s.market.name, walks, None, f"{failed[0].label}: {failed[0].error}")
    paths = {w.label: w.path for w in walks if w.path is not None}
    study = choose(s.cfg, s.dates, paths, sum(w.seconds for w in walks))
    m = s.market
    run = run_info(m.prices, m.asset, m.settings.funding) | {"market": m.name, "end": rows_key(m)[2]}
    write_study(out / m.name, study, run)
    return MarketOutcome(m.name, walks, study, None)


def summary_row(o: MarketOutcome) -> dict[str, Any]:
    """Per market: the evaluation span, never / chosen schedule / chosen drift scores, the winner."""
    row: dict[str, Any] = {
        "market": o.market, "status": "error" if o.error else "ok", "error": o.error, "out": o.market,
        "tasks": len(o.walks), "seconds": round(sum(w.seconds for w in o.walks), 3),
        "walk_seconds": {w.label: round(w.seconds, 3) for w in o.walks},
    }  # fmt: skip
    if o.study is None:
        return row
    st = o.study
    keep = ("fz0", "breaches", "expected", "kupiec_p", "retrains")
    row.update(
        eval_first=st.eval_span[0],
        eval_last=st.eval_span[1],
        policies={k: {"label": m, **{f: st.evaluation[m][f] for f in keep}} for k, m in st.chosen.items()},
        winner=st.recommended,
    )
    return row


def summary_doc(plan: MarketsPlan, executor: Executor, run: RetrainRun) -> dict[str, Any]:
    """summary.json of `retrain-policy --markets` (the executor block as backtest's summary.json)."""
    rows = [summary_row(o) for o in run.outcomes]
    return {
        "markets_file": str(plan.source),
        "executor": executor_doc(executor),
        "markets": len(rows),
        "failed": sum(r["status"] == "error" for r in rows),
        "tasks": len(run.walks),
        "wall_seconds": round(run.wall_seconds, 3),
        "load_seconds": round(run.load_seconds, 3),
        "shared_objects": run.puts,
        "per_task_seconds": per_task_stats(run.walks),
        "per_task_cpu_seconds": per_task_stats(run.walks, cpu=True),
        "results": rows,
    }


def format_table(doc: dict[str, Any]) -> str:
    """market, evaluation span, FZ0 and breaches of never / schedule / drift, the winner, seconds."""
    cols = ("never", "schedule", "drift")
    head = f"{'market':20s} {'evaluation span':23s} " + " ".join(f"{c:>28s}" for c in cols)
    lines = [head + f" {'winner':16s} {'s':>7s}"]
    for r in doc["results"]:
        if r["status"] == "error":
            lines.append(f"{r['market']:20s} error: {r['error']}")
            continue
        cells = []
        for c in cols:
            p = r["policies"][c]
            cells.append(f"{p['label']} {p['fz0']:.4f} {p['breaches']}/{p['expected']:.1f}".rjust(28))
        span = f"{r['eval_first']}..{r['eval_last']}"
        lines.append(f"{r['market']:20s} {span:23s} {' '.join(cells)} {r['winner']:16s} {r['seconds']:7.1f}")
    return "\n".join(lines)
