"""Does the feature table help the quantile GBM? FZ0 on a validation period, with and without.

    python -m oracle_node.research.features_eval [--asset BTC] [--alpha 0.025]
        [--valid-start 2019-01-01] [--valid-end 2019-12-31]

Both arms are the backtest's `qgbm` (research.training.ml_train, the same hyper-parameters, rolling
conformal calibration of research.backtest.ml.MlFamily) trained on rows before the validation period
and walked forward day by day over it; the second arm appends EXTRA columns (scale-free transforms
of features.table) to models.ml_features' rows. Both arms use the same rows: a row counts only when
every column of the augmented set is finite. The other market's rows are pooled into the fit set,
as the backtest's --pool does. Printed: FZ0, breaches, Kupiec p, and a Diebold-Mariano test of the
two FZ0 loss series (negative: the augmented arm is better).

Data: the shared hourly Binance files (BTC and ETH spot, 2017-08..2021-06), the only shared prices
with OHLC and intraday bars; the BTC funding file. The default validation period, calendar 2019, is
before every shared test window (BTC: the last 800 days to 2026-02; ETH: 2020-2021) and was fixed
before any run; nothing here was chosen on a test period.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from oracle_node.features.frame import FeatureFrame
from oracle_node.features.table import feature_table
from oracle_node.models.ml_features import MlRows, ml_rows
from oracle_node.research.backtest import stats
from oracle_node.research.backtest.ml import MlFamily
from oracle_node.research.features_data import SHARED, FeatureFiles, external_inputs, market_history
from oracle_node.research.training.ml_train import train_bundle

EXTRA: tuple[str, ...] = (
    "log_parkinson_rel",
    "log_rs_rel",
    "log_rv_rel",
    "jump_share_7d",
    "range_rel_30d",
    "xa_corr_30d",
    "xa_absret_rel",
    "xa_har_w_rel",
    "log_xa_vol_ratio",
)


def extra_columns(frame: FeatureFrame) -> np.ndarray:
    """EXTRA, in order: log ratios of the range and intraday vols to har_m (scale-free), and the
    jump share, range ratio and cross-asset terms as they are."""
    har_m = frame.column("har_m")
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = [
            np.log(frame.column("parkinson_7d") / har_m),
            np.log(frame.column("rogers_satchell_7d") / har_m),
            np.log(frame.column("rv_1d") / har_m),
            frame.column("jump_share_7d"),
            frame.column("range_rel_30d"),
            frame.column("xa_corr_30d"),
            frame.column("xa_absret_rel"),
            frame.column("xa_har_w_rel"),
            np.log(frame.column("xa_vol_ratio")),
        ]
    return np.column_stack(cols)


def arms(asset: str, names: tuple[str, ...] = EXTRA) -> tuple[MlRows, MlRows]:
    """(plain rows, rows augmented with `names` of EXTRA) with the same `ok` mask."""
    btc_h = SHARED / "prices" / "binance_btcusdt_spot_1h_2017_2021.csv"
    eth_h = SHARED / "prices" / "binance_ethusdt_spot_1h_2017_2021.csv"
    funding = SHARED / "funding" / "btc_perp_funding_daily_2019_2026.csv"
    own, other, name = (btc_h, eth_h, "ETH") if asset == "BTC" else (eth_h, btc_h, "BTC")
    files = FeatureFiles(funding if asset == "BTC" else None, other_prices=other, other_asset=name)
    history = market_history(own, asset, files)
    rows = ml_rows(history)
    extra = extra_columns(feature_table(history, external_inputs(files)))[:, [EXTRA.index(n) for n in names]]
    x = np.column_stack([rows.x, extra])
    ok = rows.ok & np.isfinite(extra).all(axis=1)
    return replace(rows, ok=ok), replace(rows, x=x, ok=ok)


def _index(rows: MlRows, date: str) -> int:
    """Row whose target is the given UTC day (target_ts = that day's end)."""
    end = datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp() + 86_400
    return int(np.searchsorted(rows.target_ts, end))


def walk(rows: MlRows, pool: MlRows, start: int, stop: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES of the qgbm trained before `start`, walked over rows start..stop-1."""
    bundle = train_bundle(rows, start, alpha, [pool], models=("qgbm",))
    family = MlFamily(bundle, rows)
    returns = rows.returns[:-1]
    rng = np.random.default_rng(0)
    out = [family.forecast(returns[:t], False, rng)[0] for t in range(start, stop)]
    return np.array([d.var for d in out]), np.array([d.es for d in out])


def evaluate(
    asset: str, alpha: float, valid_start: str, valid_end: str, names: tuple[str, ...] = EXTRA
) -> dict[str, object]:
    plain, aug = arms(asset, names)
    other_plain, other_aug = arms("ETH" if asset == "BTC" else "BTC", names)
    start, stop = _index(plain, valid_start), _index(plain, valid_end) + 1
    r = plain.returns[start:stop]
    res: dict[str, object] = {"asset": asset, "alpha": alpha, "days": int(r.size),
                              "valid": f"{valid_start}..{valid_end}", "features": list(names)}  # fmt: skip
    losses = {}
    for label, rows, pool in (("qgbm", plain, other_plain), ("qgbm+features", aug, other_aug)):
        var, es = walk(rows, pool, start, stop, alpha)
        hit = stats.hits(r, var)
        losses[label] = stats.fz0_losses(r, var, es, alpha)
        res[label] = {"fz0": float(losses[label].mean()), "breaches": int(hit.sum()),
                      "kupiec_p": stats.kupiec_pof(int(hit.sum()), int(hit.size), alpha).p_value,
                      "mean_var": float(var.mean())}  # fmt: skip
    dm = stats.diebold_mariano(losses["qgbm+features"], losses["qgbm"])
    res["dm_features_vs_plain"] = {"statistic": dm.statistic, "p_value": dm.p_value}
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--asset", default="BTC", choices=("BTC", "ETH"))
    p.add_argument("--alpha", type=float, default=0.025)
    p.add_argument("--valid-start", default="2019-01-01")
    p.add_argument("--valid-end", default="2019-12-31")
    p.add_argument("--features", default=",".join(EXTRA), help="comma-separated subset of EXTRA")
    a = p.parse_args(argv)
    names = tuple(n.strip() for n in a.features.split(",") if n.strip())
    unknown = [n for n in names if n not in EXTRA]
    if unknown:
        p.error(f"unknown features {unknown}; choose from {list(EXTRA)}")
    print(evaluate(a.asset, a.alpha, a.valid_start, a.valid_end, names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
