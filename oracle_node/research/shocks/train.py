"""`oracle-node shock-train`: the served artifact. Choose the candidate on the validation period (as the
backtest does), refit it on every row whose target is known, and write shock_model.json plus a
manifest pinning its sha256 (oracle_node/models/artifacts/shocks/ by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node import atomic
from oracle_node.errors import ModelError
from oracle_node.models.manifest import sha256_file
from oracle_node.options.shock_features import build_features
from oracle_node.options.shock_params import MANIFEST_FILE, MODEL_FILE, SCHEMA_VERSION, ShockParams
from oracle_node.research.shocks.models import SERVABLE, candidates, fit
from oracle_node.research.shocks.run import DataFiles
from oracle_node.research.shocks.select import ShockOptions, select
from oracle_node.research.shocks.walkforward import split, train_rows


def write_artifact(directory: Path, params: ShockParams, model_name: str) -> str:
    """Write shock_model.json and manifest.json; returns the model file's sha256."""
    directory.mkdir(parents=True, exist_ok=True)
    atomic.write_text(directory / MODEL_FILE, json.dumps(params.to_json(), indent=1, sort_keys=True) + "\n")
    digest = sha256_file(directory / MODEL_FILE)
    manifest = {"schema_version": SCHEMA_VERSION, "model": model_name, "artifacts": {MODEL_FILE: digest}}
    atomic.write_text(directory / MANIFEST_FILE, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return digest


def run_train(data: DataFiles, opts: ShockOptions, out: Path) -> tuple[str, ShockParams]:
    frame = build_features(data.load(), opts.horizon)
    sp = split(frame, opts.val_days, opts.test_days)
    servable = [c for c in candidates() if c.family in SERVABLE]  # the served choice is the same either way
    sel = select(frame, sp.val, opts, servable)
    last = int(frame.day[-1])
    rows = train_rows(frame, last)
    params = fit(sel.served, frame.x[rows], frame.y[rows], opts.level, opts.horizon)
    if not isinstance(params, ShockParams):
        raise ModelError(f"shock-train: candidate {sel.served.name} is not JSON-servable")
    iso = lambda d: str(np.datetime64(int(d), "D"))  # noqa: E731
    meta: dict[str, Any] = {
        "candidate": sel.served.name,
        "family": sel.served.family,
        "penalty": sel.served.penalty,
        "selection": sel.to_json(),
        "periods_used_for_selection": sp.describe(frame.day),
        "training": {
            "first_day": iso(frame.day[rows[0]]),
            "last_day": iso(frame.day[rows[-1]]),
            "rows": int(rows.size),
        },
        "data": data.describe(),
        "options": {"horizon_days": opts.horizon, "level": opts.level, "refit_every": opts.refit_every},
        "created_by": "oracle-node shock-train (same data and options -> the same bytes)",
    }
    params = ShockParams(**{**params.__dict__, "meta": meta})
    return write_artifact(out, params, f"shock-{sel.served.name}-h{opts.horizon}"), params
