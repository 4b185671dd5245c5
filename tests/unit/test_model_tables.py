"""scripts.model_tables renders the README's walk-forward tables from backtest metrics.json files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oracle_node.research.backtest.metrics import dm_group_best
from scripts import model_tables


def _metrics(fz0: float, ap: float | None = 0.5) -> dict:
    return {
        "violations": 3, "expected": 2.0, "kupiec_p": 0.5, "christoffersen_ind_p": 0.6,
        "christoffersen_cc_p": 0.7, "traffic_light": "green", "pinball": 1.5e-3, "fz0": fz0,
        "acerbi_szekely_z2": 0.1, "acerbi_szekely_p": ap, "mean_var": 0.05,
        "margin_efficiency": {"ratio": 0.9, "model_mean_margin": 0.06, "fixed_margin": 0.066},
    }  # fmt: skip


def _run(tmp: Path, name: str, models: dict, ml_models: tuple[str, ...] = ()) -> Path:
    d = tmp / name
    d.mkdir()
    run = {"asset": "BTC-USD", "alpha": 0.01, "test_start": "2024-01-01", "test_end": "2024-12-31",
           "test_days": 366, "wall_seconds": 12.0,
           "dm_fz0_best_ml_vs_best_baseline": {"ml": "combo", "baseline": "fhs", "fz0_ml": -2.0,
                                                "fz0_baseline": -2.1, "mean_differential": 0.1,
                                                "statistic": 1.2, "p_value": 0.23, "lags": 6},
           "ml_models": list(ml_models)}  # fmt: skip
    (d / "metrics.json").write_text(json.dumps({"run": run, "models": models}))
    return d


def test_tables__extra_run_same_baselines__its_ml_rows_join(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    main = _run(tmp_path, "main", {"fhs": _metrics(-2.1), "combo": _metrics(-2.0, None)})
    extra = _run(tmp_path, "extra", {"fhs": _metrics(-2.1 + 1e-7), "lstm": _metrics(-1.9)})
    assert model_tables.main([str(main), "--extra", str(extra)]) == 0
    out = capsys.readouterr().out
    assert "| combo | 3 / 2.0 |" in out and "0.100 (-)" in out  # no simulated p-value
    assert "| lstm | 3 / 2.0 |" in out and "-1.9000" in out
    assert "best ML `combo` (-2.0000) vs best baseline `fhs` (-2.1000)" in out and "p = 0.230" in out


def test_tables__extra_run_other_baselines__refused(tmp_path: Path) -> None:
    main = _run(tmp_path, "main", {"fhs": _metrics(-2.1)})
    extra = _run(tmp_path, "extra", {"fhs": _metrics(-2.0), "lstm": _metrics(-1.9)})
    with pytest.raises(SystemExit, match="baseline fhs differs"):
        model_tables.main([str(main), "--extra", str(extra)])


def _forecasts(d: Path, r: list[float], paths: dict[str, tuple[list[float], list[float]]]) -> None:
    head = "date,return," + ",".join(f"var_{m},es_{m}" for m in paths)
    rows = [
        f"2024-01-{i + 1:02d},{x:.8f}," + ",".join(f"{v[i]:.8f},{e[i]:.8f}" for v, e in paths.values())
        for i, x in enumerate(r)
    ]
    (d / "forecasts.csv").write_text("\n".join([head, *rows]) + "\n")


def test_tables__extra_row_beats_the_best_ml__dm_line_recomputed_from_forecasts(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rng = np.random.default_rng(5)
    r = (rng.standard_t(4, 300) * 0.03).tolist()
    fhs = ([0.07] * 300, [0.09] * 300)
    combo = ([0.02] * 300, [0.025] * 300)  # far too low: the worst FZ0 of the three
    served = ((0.075 + rng.normal(0, 0.003, 300)).tolist(), [0.095] * 300)
    main = _run(tmp_path, "main", {"fhs": _metrics(-2.1), "combo": _metrics(-2.0, None)}, ("combo",))
    extra = _run(tmp_path, "extra", {"fhs": _metrics(-2.1), "served": _metrics(-2.05, None)}, ("served",))
    _forecasts(main, r, {"fhs": fhs, "combo": combo})
    _forecasts(extra, r, {"fhs": fhs, "served": served})
    rounded = {m: tuple(np.round(np.array(x), 8) for x in p) for m, p in
               (("fhs", fhs), ("combo", combo), ("served", served))}  # fmt: skip
    want = dm_group_best(np.round(np.array(r), 8), rounded, 0.01, ["combo", "served"])
    assert want is not None and want["ml"] == "served"
    assert model_tables.main([str(main), "--extra", str(extra)]) == 0
    out = capsys.readouterr().out
    assert f"best ML `served` ({want['fz0_ml']:.4f}) vs best baseline `fhs`" in out
    assert f"p = {want['p_value']:.3f}" in out and "best ML `combo`" not in out
