"""Train the LSTM deterministically, choose its hyper-parameters on a validation block, export to ONNX.

Split (no look-ahead; `cut` = first test row, as ml_train): the last `cal_days` pre-test rows are the
conformal calibration block (never seen by training); the `val_days` rows before them are the
validation block (early stopping and the hyper-parameter choice); the rows before that are fitted,
with pooled markets' rows whose target day ends before the validation block. Every grid point
(LSTM_GRID: sequence length, hidden units, learning rate) is trained with early stopping on the
validation NLL (max LSTM_TRAIN["max_epochs"], patience LSTM_TRAIN["patience"]); the point with the
lowest validation NLL is kept with its best-epoch weights. Nothing at or after the calibration block
is read.

Determinism: torch.manual_seed, torch.use_deterministic_algorithms(True), one intra-op thread, a
seeded generator for the mini-batch order: two trainings give identical weights and ONNX bytes.
Export: torch.onnx.export (TorchScript path, opset ONNX_OPSET), checked against torch on the training
rows; refused when the max abs or rel difference exceeds ONNX_MAX_ABS / ONNX_MAX_REL.
"""

from __future__ import annotations

import copy
import io
import itertools
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oracle_node.errors import ModelError
from oracle_node.models.ml_features import MlRows
from oracle_node.research.training.lstm_data import (
    LSTM_INPUTS,
    ONNX_INPUT,
    ONNX_OUTPUT,
    LstmBundle,
    LstmModel,
    LstmRuntime,
    sequences,
)
from oracle_node.research.training.lstm_model import NU, LstmScale, student_t_nll, weights_of
from oracle_node.research.training.ml_train import CAL_DAYS, MIN_FIT_ROWS, day

LSTM_GRID: dict[str, tuple[Any, ...]] = {"length": (10, 30, 60), "hidden": (8, 16), "lr": (1e-3, 3e-3)}
LSTM_TRAIN: dict[str, Any] = {
    "batch": 128, "max_epochs": 100, "patience": 10, "weight_decay": 1e-4, "grad_clip": 1.0,
    "seed": 0, "nu": NU, "val_days": 250,
}  # fmt: skip
ONNX_OPSET = 17
ONNX_MAX_ABS = 1e-4
ONNX_MAX_REL = 1e-4


@contextmanager
def deterministic_torch(seed: int) -> Iterator[None]:
    """Seeded, deterministic kernels, one thread; the previous thread count and mode are restored."""
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)


@dataclass(frozen=True)
class LstmSets:
    x_fit: np.ndarray
    z_fit: np.ndarray
    x_val: np.ndarray
    z_val: np.ndarray


def _z(rows: MlRows) -> np.ndarray:
    return rows.returns / rows.scale


def lstm_sets(rows: MlRows, pool: Sequence[MlRows], cal_start: int, val_start: int, length: int) -> LstmSets:
    """Fit rows (own before val_start, pooled with targets before it) and validation rows."""
    seqs, ok = sequences(rows, length)
    z = _z(rows)
    fit = np.flatnonzero(ok[:val_start] & np.isfinite(z[:val_start]))
    val = val_start + np.flatnonzero(ok[val_start:cal_start])
    xs, zs = [seqs[fit]], [z[fit]]
    first_val_ts = rows.target_ts[val_start]
    for p in pool:
        ps, pok = sequences(p, length)
        pz = _z(p)
        sel = np.flatnonzero(pok & np.isfinite(pz) & (np.nan_to_num(p.target_ts, nan=np.inf) < first_val_ts))
        xs.append(ps[sel])
        zs.append(pz[sel])
    return LstmSets(np.concatenate(xs), np.concatenate(zs), seqs[val], z[val])


def _scaler(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    return flat.mean(axis=0), np.maximum(flat.std(axis=0), 1e-6)


def fit_one(sets: LstmSets, hidden: int, lr: float, cfg: dict[str, Any]) -> tuple[LstmScale, dict[str, Any]]:
    """One grid point: Adam on mini-batches, early stopping on the validation NLL."""
    with deterministic_torch(cfg["seed"]):
        mean, std = _scaler(sets.x_fit)
        model = LstmScale(len(LSTM_INPUTS), hidden, mean, std)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=cfg["weight_decay"])
        gen = torch.Generator().manual_seed(cfg["seed"])
        x, z = torch.from_numpy(sets.x_fit), torch.from_numpy(sets.z_fit.astype(np.float32))
        xv, zv = torch.from_numpy(sets.x_val), torch.from_numpy(sets.z_val.astype(np.float32))
        best, best_epoch, state, bad, epoch = np.inf, 0, copy.deepcopy(model.state_dict()), 0, 0
        for epoch in range(1, cfg["max_epochs"] + 1):
            model.train()
            perm = torch.randperm(x.shape[0], generator=gen)
            for b in range(0, x.shape[0], cfg["batch"]):
                idx = perm[b : b + cfg["batch"]]
                loss = student_t_nll(model.log_scale(x[idx]), z[idx], cfg["nu"])
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
                opt.step()
            model.eval()
            with torch.no_grad():
                val = float(student_t_nll(model.log_scale(xv), zv, cfg["nu"]))
            if val < best - 1e-6:
                best, best_epoch, state, bad = val, epoch, copy.deepcopy(model.state_dict()), 0
            else:
                bad += 1
                if bad >= cfg["patience"]:
                    break
        model.load_state_dict(state)
        model.eval()
    return model, {"val_nll": best, "best_epoch": best_epoch, "epochs_run": epoch}


def export_onnx(model: LstmScale, length: int) -> bytes:
    """The scale graph X (n, length, F) float32 -> scale (n, 1), opset ONNX_OPSET, dynamic batch."""
    buf = io.BytesIO()
    example = torch.zeros((1, length, len(LSTM_INPUTS)), dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation / batch-size notices
        torch.onnx.export(
            model.eval(), (example,), buf, input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
            dynamic_axes={ONNX_INPUT: {0: "n"}, ONNX_OUTPUT: {0: "n"}}, opset_version=ONNX_OPSET, dynamo=False,
        )  # fmt: skip
    return buf.getvalue()


def onnx_agreement(model: LstmScale, runtime: LstmRuntime, x: np.ndarray) -> dict[str, float]:
    """Max abs and rel difference of onnxruntime vs torch on `x`; ModelError above the thresholds."""
    with torch.no_grad():
        ref = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy().reshape(-1)
    got = runtime.predict(x)
    diff = np.abs(got - ref.astype(np.float64))
    out = {"onnx_vs_torch_max_abs": float(diff.max()),
           "onnx_vs_torch_max_rel": float(np.max(diff / np.maximum(np.abs(ref), 1e-6))), "rows": int(x.shape[0])}  # fmt: skip
    if out["onnx_vs_torch_max_abs"] > ONNX_MAX_ABS or out["onnx_vs_torch_max_rel"] > ONNX_MAX_REL:
        raise ModelError(
            f"lstm: ONNX export differs from torch (max abs {out['onnx_vs_torch_max_abs']:.3g} > {ONNX_MAX_ABS} "
            f"or max rel {out['onnx_vs_torch_max_rel']:.3g} > {ONNX_MAX_REL}); refused"
        )
    return out


def select_and_fit(
    rows: MlRows, pool: Sequence[MlRows], cal_start: int, val_start: int,
    grid: dict[str, tuple[Any, ...]], cfg: dict[str, Any],
) -> tuple[LstmScale, dict[str, Any], LstmSets, list[dict[str, Any]]]:  # fmt: skip
    """Train every grid point; keep the lowest validation NLL (first one on ties)."""
    table, best = [], None
    sets_by_len = {n: lstm_sets(rows, pool, cal_start, val_start, n) for n in grid["length"]}
    for length, hidden, lr in itertools.product(grid["length"], grid["hidden"], grid["lr"]):
        sets = sets_by_len[length]
        if sets.x_fit.shape[0] < MIN_FIT_ROWS or sets.x_val.shape[0] < 50:
            raise ModelError(f"{rows.market}: lstm has {sets.x_fit.shape[0]} fit and {sets.x_val.shape[0]} "
                             f"validation rows (>= {MIN_FIT_ROWS} and >= 50 needed)")  # fmt: skip
        started = time.perf_counter()
        model, info = fit_one(sets, hidden, lr, cfg)
        hp = {"length": length, "hidden": hidden, "lr": lr}
        table.append({**hp, **info, "seconds": round(time.perf_counter() - started, 3)})
        if best is None or info["val_nll"] < best[2]:
            best = (model, hp, info["val_nll"], sets)
    assert best is not None
    return best[0], best[1], best[3], table


def train_lstm(
    rows: MlRows, cut: int, alpha: float, pool: Sequence[MlRows] = (), cal_days: int = CAL_DAYS,
    grid: dict[str, tuple[Any, ...]] | None = None, train: dict[str, Any] | None = None,
) -> LstmBundle:  # fmt: skip
    """Select, fit, export and check the LSTM on rows before the calibration block preceding `cut`."""
    grid, cfg = grid or LSTM_GRID, {**LSTM_TRAIN, **(train or {})}
    started = time.perf_counter()
    known = int(rows.ok[:cut].sum())
    n_cal = min(cal_days, known // 3)
    cal_start = cut - n_cal
    val_start = cal_start - min(cfg["val_days"], (cal_start - max(grid["length"])) // 4)
    if n_cal < 100:
        raise ModelError(
            f"{rows.market}: {n_cal} lstm calibration rows (>= 100) before {day(rows.target_ts[cut - 1])}"
        )
    model, hp, sets, table = select_and_fit(rows, pool, cal_start, val_start, grid, cfg)
    blob = export_onnx(model, hp["length"])
    runtime = LstmRuntime(blob, hp["length"])
    agreement = onnx_agreement(model, runtime, sets.x_fit)
    metrics = {**agreement, "selection": table, "train_seconds": round(time.perf_counter() - started, 3),
               "torch": torch.__version__, "onnx_opset": ONNX_OPSET}  # fmt: skip
    fitted = LstmModel("lstm", blob, runtime, weights_of(model), hp, metrics)
    split = {
        "fit": f"targets up to {day(rows.target_ts[val_start - 1])} (pooled: {[p.market for p in pool]})",
        "validation": f"{day(rows.target_ts[val_start])} .. {day(rows.target_ts[cal_start - 1])}",
        "calibration": f"{day(rows.target_ts[cal_start])} .. {day(rows.target_ts[cut - 1])}",
        "test_start": day(rows.target_ts[cut]) if cut < rows.target_ts.size and np.isfinite(rows.target_ts[cut]) else None,
        "fit_rows": int(sets.x_fit.shape[0]), "validation_rows": int(sets.x_val.shape[0]), "calibration_rows": int(n_cal),
    }  # fmt: skip
    return LstmBundle(rows.market, alpha, cut, cal_start, int(sets.x_fit.shape[0]), {"lstm": fitted}, split)


FIXTURE_ONNX, FIXTURE_WEIGHTS = "lstm_small.onnx", "lstm_small.npz"


def export_fixture(out: Path, length: int = 5, hidden: int = 4, seed: int = 7) -> None:
    """A small seeded (untrained) LSTM as ONNX + its weights (npz): the committed test fixture that
    checks onnxruntime serving against the NumPy reference without torch (tests/fixtures/lstm)."""
    from oracle_node.research.training.lstm_io import weights_bytes  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    with deterministic_torch(seed):
        model = LstmScale(len(LSTM_INPUTS), hidden, rng.normal(0, 1, 6), rng.uniform(0.5, 2.0, 6)).eval()
    out.mkdir(parents=True, exist_ok=True)
    (out / FIXTURE_ONNX).write_bytes(export_onnx(model, length))
    (out / FIXTURE_WEIGHTS).write_bytes(weights_bytes(weights_of(model), length))


if __name__ == "__main__":  # python -m oracle_node.research.training.lstm_train tests/fixtures/lstm
    import sys

    export_fixture(Path(sys.argv[1]))
