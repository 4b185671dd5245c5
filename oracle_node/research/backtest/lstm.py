"""The LSTM as a walk-forward family (`lstm`), served by onnxruntime with MlFamily's rolling conformal.

`lstm_preparer` trains the LSTM once, in the parent process, on rows before the walk
(training.lstm_train: fit block, validation block for early stopping and the hyper-parameter grid,
then the held-out calibration block), writes OUT/lstm/ (ONNX, weights, manifest.json) and registers
the family. The family is MlFamily over the LSTM bundle: the same inference-then-calibrate day loop,
scores from `past` only. Training needs torch (`pip install -e '.[train]'`); it is imported only here,
lazily, so backtests without `--lstm` and inference never load it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ml_features import MlRows, ml_rows
from oracle_node.research.backtest.engine import WalkForwardConfig, register_family
from oracle_node.research.backtest.ml import MlFamily, MlOptions
from oracle_node.research.training.lstm_data import LstmBundle
from oracle_node.research.training.ml_data import data_hashes, with_funding
from oracle_node.research.training.ml_train import CAL_DAYS

FAMILY = "lstm"
MODELS: tuple[str, ...] = ("lstm",)


class LstmFamily(MlFamily):
    """MlFamily with an LstmBundle (same split fields and raw_var)."""

    cost = 0.2


def register_lstm(bundle: LstmBundle, rows: MlRows, cal_window: int = CAL_DAYS) -> None:
    def factory(c: WalkForwardConfig) -> LstmFamily:
        return LstmFamily(bundle, rows, c.sims, cal_window)  # type: ignore[arg-type]  # duck-typed bundle

    register_family(FAMILY, factory, MODELS, replace=True)


def train_lstm_bundle(rows: MlRows, n_returns: int, cfg: WalkForwardConfig, pool: list[MlRows],
                      cal_window: int = CAL_DAYS, **kw: Any) -> LstmBundle:  # fmt: skip
    """Train on the days before the test period (torch needed) and register the family."""
    try:
        from oracle_node.research.training.lstm_train import train_lstm  # noqa: PLC0415 - torch: optional extra
    except ImportError as exc:
        raise ModelError(f"lstm needs torch (pip install -e '.[train]'): {exc}") from None
    if rows.x.shape[0] != n_returns + 1:
        raise ModelError(f"lstm: {rows.x.shape[0]} feature rows for {n_returns} returns (expected one more)")
    cut = n_returns - cfg.walk_days  # before the lead days when a combination learns on them
    bundle = train_lstm(rows, cut, cfg.alpha, pool, cal_window, **kw)
    register_lstm(bundle, rows, cal_window)
    return bundle


def lstm_preparer(ml: MlOptions | None, prices: object, **train_kw: Any) -> Callable[..., Any]:
    """run_backtest's FamilyPreparer for the LSTM: trains before the walk (ML inputs: funding, pool),
    registers the family, writes OUT/lstm/; its metadata goes to metrics.json `run.lstm`."""
    opts = ml or MlOptions()

    def prepare(history: MarketHistory, n_returns: int, cfg: WalkForwardConfig, out: Path) -> Any:
        from oracle_node.research.backtest.run import PreparedFamily  # noqa: PLC0415 - run imports the preparers' callers
        from oracle_node.research.training.lstm_io import write_lstm_bundle  # noqa: PLC0415

        started = time.perf_counter()
        rows = ml_rows(with_funding(history, opts.funding))
        pool = [ml_rows(h) for h in opts.pooled()]
        bundle = train_lstm_bundle(rows, n_returns, cfg, pool, opts.cal_window, **train_kw)
        digest = write_lstm_bundle(out / "lstm", bundle, rows, data_hashes(opts.data_files(prices)))
        m = bundle.models["lstm"]
        meta = {"split": bundle.split, "params": m.params, "manifest_hash": "0x" + digest.hex(),
                "onnx_vs_torch_max_abs": m.metrics["onnx_vs_torch_max_abs"],
                "onnx_vs_torch_max_rel": m.metrics["onnx_vs_torch_max_rel"],
                "train_seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
        return PreparedFamily("lstm", MODELS, meta)

    return prepare
