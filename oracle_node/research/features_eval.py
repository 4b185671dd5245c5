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
from pathlib import Path

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


def _files(asset: str) -> tuple[Path, Path, str]:
    """(own hourly file, the other market's, the other's name)."""
    btc_h = SHARED / "prices" / "binance_btcusdt_spot_1h_2017_2021.csv"
    eth_h = SHARED / "prices" / "binance_ethusdt_spot_1h_2017_2021.csv"
    return (btc_h, eth_h, "ETH") if asset == "BTC" else (eth_h, btc_h, "BTC")


def arms(asset: str, names: tuple[str, ...] = EXTRA) -> tuple[MlRows, MlRows]:
    """(plain rows, rows augmented with `names` of EXTRA) with the same `ok` mask."""
    own, other, name = _files(asset)
    funding = SHARED / "funding" / "btc_perp_funding_daily_2019_2026.csv"
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


HAR_SETS: dict[str, tuple[str, ...]] = {
    "close HAR": ("har_d", "har_w", "har_m"),
    "+ range": ("har_d", "har_w", "har_m", "parkinson_1d", "parkinson_7d"),
    "+ RV/BV": ("har_d", "har_w", "har_m", "rv_1d", "bv_1d", "rv_intraday_7d"),
}


def har_check(asset: str, fit: tuple[str, str], valid: tuple[str, str]) -> list[dict[str, object]]:
    """Is the information there? OLS of tomorrow's log RV^2 (intraday) and log r^2 on the logs of
    squared vols, fitted on `fit` and scored out of sample on `valid`: R^2 against the fit mean."""
    own, other, _ = _files(asset)
    files = FeatureFiles(other_prices=other, other_asset="X")
    h = market_history(own, asset, files)
    frame = feature_table(h, external_inputs(files))
    days = np.array([datetime.fromtimestamp(t - 1, UTC).strftime("%Y-%m-%d") for t in h.ts])
    tr = (days >= fit[0]) & (days <= fit[1])
    va = (days >= valid[0]) & (days <= valid[1])
    with np.errstate(divide="ignore"):
        logsq = {n: np.log(frame.column(n) ** 2) for n in {c for cols in HAR_SETS.values() for c in cols}}
        targets = {"log RV^2": np.r_[logsq["rv_1d"][1:], np.nan],
                   "log r^2": np.r_[np.log(np.diff(np.log(h.close)) ** 2), np.nan]}  # fmt: skip
    out = []
    for label, cols in HAR_SETS.items():
        x = np.column_stack([np.ones(len(h)), *(logsq[c] for c in cols)])
        for tname, y in targets.items():
            ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
            beta = np.linalg.lstsq(x[ok & tr], y[ok & tr], rcond=None)[0]
            err = y[ok & va] - x[ok & va] @ beta
            base = y[ok & va] - y[ok & tr].mean()
            out.append({"asset": asset, "set": label, "target": tname, "days": int((ok & va).sum()),
                        "r2_oos": float(1.0 - np.mean(err**2) / np.mean(base**2))})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--asset", default="BTC", choices=("BTC", "ETH"))
    p.add_argument("--alpha", type=float, default=0.025)
    p.add_argument("--valid-start", default="2019-01-01")
    p.add_argument("--valid-end", default="2019-12-31")
    p.add_argument("--features", default=",".join(EXTRA), help="comma-separated subset of EXTRA")
    p.add_argument(
        "--har", action="store_true", help="the HAR information check instead (fit 2017-09-20..2018)"
    )
    a = p.parse_args(argv)
    if a.har:
        for row in har_check(a.asset, ("2017-09-20", "2018-12-31"), (a.valid_start, a.valid_end)):
            print(row)
        return 0
    names = tuple(n.strip() for n in a.features.split(",") if n.strip())
    unknown = [n for n in names if n not in EXTRA]
    if unknown:
        p.error(f"unknown features {unknown}; choose from {list(EXTRA)}")
    print(evaluate(a.asset, a.alpha, a.valid_start, a.valid_end, names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
