"""Hyper-parameter choice for `hybrid_gjr` and `combo` on validation periods only (issue 12).

    python -m oracle_node.research.backtest.validation --data ../shared/data --out var/model-quality/validation

For each market and alpha the price history is cut at the day before the README test period starts
(BTC 2023-12-06, ETH 2020-01-26: nothing of the test period is read). Every model, the two hybrid
variants (GBM fitted at alpha, or at 10 %) included, is walked forward over `lead` + `days` days at the
end of the cut history (ML models trained before the walk, as in a backtest); the combination
variants (weight window 250 or 500 days, growing from the lead days when those are fewer; shrinkage 0 or 0.5 towards equal weights; members: every
model, baselines + hybrid, or the GARCH family + both hybrids) are then
learned on the walked days and every model is scored on the last `days` days only, the validation
span. Writes OUT/validation.json and prints one line per candidate. The rule that turns this into a
choice is in docs/model-quality.md ("Issue 12: hybrid and combination").

`--ml-retrain-every 90 --pool-btc` walks the members as the README's test runs now do (`qgbm`/`mlp`
retrained every 90 walked days, BTC's ML fits pooled with ETH's rows); the defaults reproduce the
session-5 choice. Member sets with `qgbm` ("garch+hybrids+qgbm", "garch+qgbm") are candidates too.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.research.backtest.combination import combine
from oracle_node.research.backtest.engine import DEFAULT_MODELS, WalkForwardConfig, walk_forward
from oracle_node.research.backtest.hybrid import MODEL, HybridOptions, prepare_hybrid
from oracle_node.research.backtest.metrics import dm_group_best
from oracle_node.research.backtest.ml import MlOptions, prepare_ml
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import truncate
from oracle_node.research.backtest.stats import christoffersen, fz0_losses, hits, kupiec_pof
from oracle_node.research.script import run_script
from oracle_node.research.training.ml_data import with_funding

Q10 = "hybrid_gjr_q10"
# market: (prices, asset, funding, pool, end, window, lead, validation days)
MARKETS: dict[str, tuple[str, str, str | None, tuple, str, int, int, int]] = {
    "btc": ("prices/btc_usd_daily_2015_2026.csv", "BTC-USD", "funding/btc_perp_funding_daily_2019_2026.csv",
            (), "2023-12-06", 1000, 500, 365),
    "eth": ("prices/binance_ethusdt_spot_1h_2017_2021.csv", "ETH-USDT", None,
            (("prices/btc_usd_daily_2015_2026.csv", "BTC-USD", "funding/btc_perp_funding_daily_2019_2026.csv"),),
            "2020-01-26", 500, 250, 141),
}  # fmt: skip
# --pool-btc: BTC's ML fits also pool ETH (as `oracle-node backtest --pool` in the README commands)
BTC_POOL = (("prices/binance_ethusdt_spot_1h_2017_2021.csv", "ETH-USDT", None),)
COMBO_WINDOWS = (250, 500)
SHRINK = (0.0, 0.5)


def score(r: np.ndarray, var: np.ndarray, es: np.ndarray, alpha: float) -> dict[str, Any]:
    h = hits(r, var)
    return {"breaches": int(h.sum()), "expected": alpha * r.size, "kupiec_p": kupiec_pof(int(h.sum()), h.size, alpha).p_value,
            "chr_cc_p": christoffersen(h, alpha).conditional_coverage.p_value,
            "fz0": float(fz0_losses(r, var, es, alpha).mean())}  # fmt: skip


def walk(
    data: Path, key: str, alpha: float, out: Path, retrain_every: int = 0, pool_btc: bool = False
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Walked returns and member paths (cached in OUT/paths_<key>_a<alpha>.npz: one set-up per OUT)."""
    cache = out / f"paths_{key}_a{alpha}.npz"
    days = MARKETS[key][-1]
    if cache.is_file():
        z = np.load(cache)
        names = [k[4:] for k in z.files if k.startswith("var_")]
        return z["r"], {m: (z[f"var_{m}"], z[f"es_{m}"]) for m in names}, days
    r, paths = _walk(data, key, alpha, retrain_every, pool_btc)
    np.savez(
        cache,
        r=r,
        **{f"var_{m}": v for m, (v, _) in paths.items()},
        **{f"es_{m}": e for m, (_, e) in paths.items()},
    )
    return r, paths, days


def _walk(
    data: Path, key: str, alpha: float, retrain_every: int = 0, pool_btc: bool = False
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    prices, asset, funding, pool, end, window, lead, days = MARKETS[key]
    if pool_btc and key == "btc":
        pool = BTC_POOL
    hist = truncate(with_funding(load_prices(data / prices, asset), data / funding if funding else None), end)
    pooled = MlOptions(None, tuple((data / p, a, data / f if f else None) for p, a, f in pool)).pooled()
    r = np.diff(np.log(hist.close))
    cfg = WalkForwardConfig(alpha, window, days, 1, 0, 0, lead)
    bundle = prepare_ml(hist, r.size, cfg, pooled, retrain_every=retrain_every)
    prepare_hybrid(hist, r.size, cfg, pooled, HybridOptions(None))
    prepare_hybrid(hist, r.size, cfg, pooled, HybridOptions.variant(0.1))
    models = (*DEFAULT_MODELS, *bundle.models, MODEL, Q10)
    paths = walk_forward(r, cfg, models, workers=2)
    return r[-cfg.walk_days :], {m: (p.var, p.es) for m, p in paths.items()}


def evaluate(
    r: np.ndarray, paths: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float, days: int
) -> dict[str, Any]:
    out = {m: score(r[-days:], v[-days:], e[-days:], alpha) for m, (v, e) in paths.items()}
    base = [m for m in DEFAULT_MODELS if m in paths]
    sets = {"all": [m for m in paths if m != Q10], "base+hybrid": [*base, MODEL], "all_q10": [m for m in paths if m != MODEL],
            "garch+hybrids": ["garch_t", "gjr_skewt", "fhs", MODEL, Q10],
            "garch+hybrids+qgbm": ["garch_t", "gjr_skewt", "fhs", MODEL, Q10, "qgbm"],
            "garch+qgbm": ["garch_t", "gjr_skewt", "fhs", "qgbm"]}  # fmt: skip
    lead = r.size - days
    combos: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for w in COMBO_WINDOWS:
        for (label, members), shrink in itertools.product(sets.items(), SHRINK):
            c = combine(r, np.vstack([paths[m][0] for m in members]), np.vstack([paths[m][1] for m in members]),
                        alpha, w, lead, members, shrink)  # fmt: skip
            name = f"combo_w{w}_s{shrink}_{label}"
            combos[name] = (c.var, c.es)
            out[name] = {**score(r[-days:], c.var, c.es, alpha), "mean_weights": c.summary()["mean_weights"]}
    scored = {m: (v[-days:], e[-days:]) for m, (v, e) in paths.items()} | combos
    out["_dm_best_ml_vs_best_baseline"] = dm_group_best(
        r[-days:], scored, alpha, [m for m in scored if m not in base]
    )
    return out


def pooled_ranking(doc: dict[str, Any]) -> list[tuple[float, str]]:
    """The selection rule: mean over the validation cells of FZ0(candidate) - FZ0(gjr_skewt), lowest first."""
    cells = list(doc.values())
    names = [m for m in cells[0] if not m.startswith("_") and all(m in c for c in cells)]
    return sorted((float(np.mean([c[m]["fz0"] - c["gjr_skewt"]["fz0"] for c in cells])), m) for m in names)


def _gap(text: str) -> int:
    """--ml-retrain-every: days, 0 (trained once) or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: days between retrains, 0 or more")
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("var/model-quality/validation"))
    ap.add_argument("--markets", default="btc,eth")
    ap.add_argument("--ml-retrain-every", type=_gap, default=0, help="qgbm/mlp retrain gap inside the walk")
    ap.add_argument("--pool-btc", action="store_true", help="BTC's ML fits pool ETH's rows")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {}
    for key in args.markets.split(","):
        for alpha in (0.01, 0.025):
            r, paths, days = walk(args.data, key, alpha, args.out, args.ml_retrain_every, args.pool_btc)
            res = evaluate(r, paths, alpha, days)
            doc[f"{key}_a{alpha}"] = res
            for m, v in res.items():
                if not m.startswith("_"):
                    print(f"{key} {alpha:<6} {m:26s} breaches {v['breaches']:3d}/{v['expected']:5.1f} "
                          f"kupiec {v['kupiec_p']:.3f} cc {v['chr_cc_p']:.3f} fz0 {v['fz0']:.4f}", flush=True)  # fmt: skip
            print(f"{key} {alpha} DM {res['_dm_best_ml_vs_best_baseline']}", flush=True)
            (args.out / "validation.json").write_text(json.dumps(doc, indent=2) + "\n")
    ranking = pooled_ranking(doc)
    for score_, m in ranking:
        print(f"pooled {m:32s} mean FZ0 - gjr_skewt {score_:+.4f}")
    doc["_ranking"] = [{"model": m, "mean_fz0_minus_gjr_skewt": v} for v, m in ranking]
    (args.out / "validation.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(run_script("validation", main))
