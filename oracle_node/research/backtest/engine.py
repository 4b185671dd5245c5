"""The walk-forward loop: one forecast per test day and model, no look-ahead by construction.

For test day t (the last `test_days` indices of `returns`, preceded by `lead_days` walked but not
scored: the span a forecast combination learns its weights on) each model family receives
`returns[:t]`, a read-only view that ends before day t: nothing a model does can read day t or
later. Refits happen on every `refit_every`-th test day (the first one always); in between, models
only advance their filters. Simulated draws (for the Acerbi-Szekely p-value) come from a generator
seeded by (seed, family, t), so results do not depend on how families are spread over processes.

Families run in up to `workers` forked processes, split by their relative cost (the GJR fit dominates);
progress and results come back through one queue. `progress(task, done, total)` is called in the
parent process.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from oracle_node.errors import ConfigError, ModelError
from oracle_node.research.backtest.base import BacktestModel
from oracle_node.research.backtest.baselines import EwmaNormal, HistoricalSimulation
from oracle_node.research.backtest.garch import GARCH_T, GJR_SKEWT, ArchFamily
from oracle_node.research.backtest.stats import check_alpha

Progress = Callable[[str, int, int], None]
FamilyFactory = Callable[["WalkForwardConfig"], BacktestModel]
PROGRESS_EVERY = 5  # days between progress messages from a worker process
POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WalkForwardConfig:
    alpha: float
    window: int
    test_days: int
    refit_every: int = 1
    sims: int = 1000  # draws per day for the Z2 p-value (0: none)
    seed: int = 0
    lead_days: int = 0  # days walked before the test days (not scored; a combination's warm-up)

    @property
    def walk_days(self) -> int:
        return self.lead_days + self.test_days

    def validate(self, n_returns: int) -> None:
        check_alpha(self.alpha)
        if (
            self.window < 50
            or self.test_days < 2
            or self.refit_every < 1
            or min(self.sims, self.lead_days) < 0
        ):
            raise ConfigError(
                f"backtest: window = {self.window} (>= 50), test_days = {self.test_days} (>= 2), "
                f"refit_every = {self.refit_every} (>= 1), sims = {self.sims} and lead_days = "
                f"{self.lead_days} (>= 0) are required"
            )
        if self.window + self.walk_days > n_returns:
            raise ConfigError(
                f"backtest: window {self.window} + lead days {self.lead_days} + test days {self.test_days} = "
                f"{self.window + self.walk_days} returns needed, the series has {n_returns}"
            )


# family name -> factory; each model name maps to the family that produces it
FAMILIES: dict[str, FamilyFactory] = {
    "hs": lambda c: HistoricalSimulation(c.alpha, c.window, c.sims),
    "ewma_normal": lambda c: EwmaNormal(c.alpha, c.window, c.sims),
    "garch_t": lambda c: ArchFamily(GARCH_T, c.alpha, c.window, c.sims),
    "gjr_skewt": lambda c: ArchFamily(GJR_SKEWT, c.alpha, c.window, c.sims, fhs=True),
}
MODEL_FAMILY: dict[str, str] = {
    "hs": "hs",
    "ewma_normal": "ewma_normal",
    "garch_t": "garch_t",
    "gjr_skewt": "gjr_skewt",
    "fhs": "gjr_skewt",
}
DEFAULT_MODELS: tuple[str, ...] = ("hs", "ewma_normal", "garch_t", "gjr_skewt", "fhs")


def register_family(
    family: str, factory: FamilyFactory, models: Sequence[str], *, replace: bool = False
) -> None:
    """Add a model family (e.g. an ML model) producing the named forecasts; `replace` swaps the
    factory of a family registered before with the same models (a new run's trained ML models)."""
    same = family in FAMILIES and all(MODEL_FAMILY.get(m) == family for m in models)
    if not (replace and same) and (family in FAMILIES or any(m in MODEL_FAMILY for m in models)):
        raise ModelError(
            f"backtest family {family!r} or one of its models {list(models)} is already registered"
        )
    FAMILIES[family] = factory
    MODEL_FAMILY.update(dict.fromkeys(models, family))


@dataclass
class ModelPath:
    """A model's forecasts over the walked days (lead days, then test days); draws: test days only."""

    name: str
    var: np.ndarray
    es: np.ndarray
    draws: np.ndarray | None = None  # (sims, test_days) simulated returns, or None
    stats: dict[str, int] = field(default_factory=dict)

    def last(self, n: int) -> ModelPath:
        """The path over its last `n` days (the scored test days)."""
        return ModelPath(self.name, self.var[-n:], self.es[-n:], self.draws, self.stats)


def families_for(models: Sequence[str]) -> list[str]:
    unknown = [m for m in models if m not in MODEL_FAMILY]
    if unknown or not models:
        raise ConfigError(f"backtest: unknown models {unknown}; choose from {sorted(MODEL_FAMILY)}")
    return list(dict.fromkeys(MODEL_FAMILY[m] for m in models))


def run_family(family: str, returns: np.ndarray, cfg: WalkForwardConfig, report: Progress) -> list[ModelPath]:
    """Walk one family forward over the lead and test days; `report(family, done, total)` after each day."""
    model = FAMILIES[family](cfg)
    past = returns.view()
    past.flags.writeable = False
    start, total, lead = returns.size - cfg.walk_days, cfg.walk_days, cfg.lead_days
    var, es = np.empty((len(model.names), total)), np.empty((len(model.names), total))
    draws = np.empty((len(model.names), cfg.sims, cfg.test_days)) if cfg.sims else None
    drawn = [True] * len(model.names)  # False once a model gives no draws on a test day (no Z2 p-value)
    tag = zlib.crc32(family.encode())
    for i in range(total):
        t = start + i
        rng = np.random.default_rng([cfg.seed, tag, t])
        for j, fc in enumerate(model.forecast(past[:t], i % cfg.refit_every == 0, rng)):
            var[j, i], es[j, i] = fc.var, fc.es
            if draws is not None and i >= lead:
                if fc.draws is None:
                    drawn[j] = False
                else:
                    draws[j, :, i - lead] = fc.draws
        report(family, i + 1, total)
    return [
        ModelPath(name, var[j], es[j], None if draws is None or not drawn[j] else draws[j], model.stats)
        for j, name in enumerate(model.names)
    ]


def split_by_cost(families: Sequence[str], cfg: WalkForwardConfig, workers: int) -> list[list[str]]:
    """Longest-processing-time-first assignment of families to at most `workers` groups."""
    costs = {f: FAMILIES[f](cfg).cost for f in families}
    groups: list[list[str]] = [[] for _ in range(max(1, min(workers, len(families))))]
    loads = [0.0] * len(groups)
    for f in sorted(families, key=costs.__getitem__, reverse=True):
        k = loads.index(min(loads))
        groups[k].append(f)
        loads[k] += costs[f]
    return groups


def walk_forward(
    returns: object,
    cfg: WalkForwardConfig,
    models: Sequence[str] = DEFAULT_MODELS,
    progress: Progress | None = None,
    workers: int = 1,
) -> dict[str, ModelPath]:
    """Forecasts of every requested model over the last cfg.walk_days days of `returns`."""
    r = np.array(returns, dtype=np.float64)
    if r.ndim != 1 or not np.isfinite(r).all():
        raise ModelError(f"backtest: returns must be a finite 1-D series (shape {r.shape})")
    cfg.validate(r.size)
    report = progress or (lambda _task, _done, _total: None)
    groups = split_by_cost(families_for(models), cfg, workers)
    if len(groups) == 1:
        paths = [p for fam in groups[0] for p in run_family(fam, r, cfg, report)]
    else:
        paths = _run_parallel(groups, r, cfg, report)
    by_name = {p.name: p for p in paths}
    return {m: by_name[m] for m in models}


def _worker(group: list[str], returns: np.ndarray, cfg: WalkForwardConfig, out: mp.Queue) -> None:
    def report(task: str, done: int, total: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            out.put(("progress", task, (done, total)))

    for fam in group:
        try:
            out.put(("done", fam, run_family(fam, returns, cfg, report)))
        except ModelError as exc:
            out.put(("error", fam, str(exc)))
            return


def _run_parallel(
    groups: list[list[str]], r: np.ndarray, cfg: WalkForwardConfig, report: Progress
) -> list[ModelPath]:
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(g, r, cfg, out), daemon=True) for g in groups]
    for p in procs:
        p.start()
    try:
        return _collect(out, procs, sum(len(g) for g in groups), report)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()


def _collect(out: mp.Queue, procs: list, expected: int, report: Progress) -> list[ModelPath]:
    paths: list[ModelPath] = []
    done = 0
    while done < expected:
        try:
            kind, fam, payload = out.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                raise ModelError("backtest: a worker process died without a result") from None
            continue
        if kind == "progress":
            report(fam, *payload)
        elif kind == "error":
            raise ModelError(f"backtest family {fam}: {payload}")
        else:
            paths.extend(payload)
            done += 1
    return paths
