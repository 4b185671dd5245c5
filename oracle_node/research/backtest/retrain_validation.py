"""The retrain gap of the ML family inside the walk (`--ml-retrain-every`), chosen on validation periods.

    python -m oracle_node.research.backtest.retrain_validation --data ../shared/data --out var/model-quality/retrain-walk

The validation cells are those of `validation.py` (BTC cut at 2023-12-05, ETH at 2020-01-25: the day
before each README test period, so nothing of a test period is read; 365 and 141 validation days;
alpha 1 % and 2.5 %). In each cell the baselines are walked once and the ML family (`qgbm`, `mlp`) once
per candidate gap N in GAPS (0 = trained once before the walk), every walk with the same training
cut at the first validation day. The rule: the N with the lowest mean over the cells of
FZ0(qgbm, N) - FZ0(gjr_skewt) (`qgbm` is the ML family's better model in every cell). With
`--hybrids`, the two GJR hybrids (`hybrid_gjr`, `hybrid_gjr_q10`) are also walked with N = 0 and the
chosen N: they retrain inside the walk only if that lowers the same mean for both. Writes
OUT/retrain_validation.json and prints one line per cell and gap, then the ranking.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.research.backtest.engine import DEFAULT_MODELS, WalkForwardConfig, walk_forward
from oracle_node.research.backtest.hybrid import HybridOptions, prepare_hybrid
from oracle_node.research.backtest.ml import MlOptions, prepare_ml
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import truncate
from oracle_node.research.backtest.validation import MARKETS, score
from oracle_node.research.script import run_script
from oracle_node.research.training.ml_data import with_funding

GAPS = (0, 30, 60, 90, 180)
REFERENCE = "gjr_skewt"
CHOSEN_BY = "qgbm"


def cell(
    data: Path, key: str, alpha: float, gaps: tuple[int, ...] = GAPS, hybrid_gaps: tuple[int, ...] = ()
) -> dict[str, Any]:
    """Scores of the baselines, of qgbm/mlp per retrain gap and of the hybrids per `hybrid_gaps`."""
    prices, asset, funding, pool, end, window, _lead, days = MARKETS[key]
    hist = truncate(with_funding(load_prices(data / prices, asset), data / funding if funding else None), end)
    pooled = MlOptions(None, tuple((data / p, a, data / f) for p, a, f in pool)).pooled()
    r = np.diff(np.log(hist.close))
    cfg = WalkForwardConfig(alpha, window, days, 1, 0, 0, 0)
    test_r = r[-days:]
    base = walk_forward(r, cfg, DEFAULT_MODELS, workers=2)
    out: dict[str, Any] = {m: score(test_r, p.var, p.es, alpha) for m, p in base.items()}
    for gap in gaps:
        bundle = prepare_ml(hist, r.size, cfg, pooled, retrain_every=gap)
        paths = walk_forward(r, cfg, tuple(bundle.models), workers=2)
        for m, p in paths.items():
            out[f"{m}_n{gap}"] = {**score(test_r, p.var, p.es, alpha), "fits": p.stats["fits"]}
    for gap in hybrid_gaps:
        names = []
        for opts in (HybridOptions(), HybridOptions.variant(0.1)):
            prepare_hybrid(hist, r.size, cfg, pooled, opts, retrain_every=gap)
            names.append(opts.name)
        for m, p in walk_forward(r, cfg, tuple(names), workers=2).items():
            out[f"{m}_n{gap}"] = {**score(test_r, p.var, p.es, alpha), "fits": p.stats["model_fits"]}
    return out


def ranking(
    doc: dict[str, dict[str, Any]], gaps: tuple[int, ...] = GAPS, model: str = CHOSEN_BY
) -> list[tuple[float, int]]:
    """(mean over cells of FZ0(model, N) - FZ0(gjr_skewt), N), lowest first."""
    cells = list(doc.values())
    return sorted(
        (float(np.mean([c[f"{model}_n{g}"]["fz0"] - c[REFERENCE]["fz0"] for c in cells])), g) for g in gaps
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("var/model-quality/retrain-walk"))
    ap.add_argument("--markets", default="btc,eth")
    ap.add_argument("--hybrids", type=int, metavar="N", help="also walk the hybrids with N = 0 and this N")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    hybrid_gaps = (0, args.hybrids) if args.hybrids else ()
    doc: dict[str, Any] = {}
    for key in args.markets.split(","):
        for alpha in (0.01, 0.025):
            res = cell(args.data, key, alpha, GAPS, hybrid_gaps)
            doc[f"{key}_a{alpha}"] = res
            for m, v in res.items():
                print(f"{key} {alpha:<6} {m:14s} breaches {v['breaches']:3d}/{v['expected']:5.1f} "
                      f"kupiec {v['kupiec_p']:.3f} cc {v['chr_cc_p']:.3f} fz0 {v['fz0']:.4f}", flush=True)  # fmt: skip
    ranked = ranking(doc)
    for value, gap in ranked:
        print(f"retrain every {gap:3d} days: mean FZ0({CHOSEN_BY}) - FZ0({REFERENCE}) {value:+.4f}")
    doc["_ranking"] = [{"retrain_every": g, f"mean_fz0_{CHOSEN_BY}_minus_{REFERENCE}": v} for v, g in ranked]
    for name in ("hybrid_gjr", "hybrid_gjr_q10") if hybrid_gaps else ():
        ranked_h = ranking({k: v for k, v in doc.items() if not k.startswith("_")}, hybrid_gaps, name)
        for value, gap in ranked_h:
            print(f"{name} retrain every {gap:3d} days: mean FZ0 - FZ0({REFERENCE}) {value:+.4f}")
        doc[f"_ranking_{name}"] = [
            {"retrain_every": g, f"mean_fz0_minus_{REFERENCE}": v} for v, g in ranked_h
        ]
    (args.out / "retrain_validation.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(run_script("retrain_validation", main))
