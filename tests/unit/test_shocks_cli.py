"""`oracle-node shock-backtest` and `shock-train` end to end on small synthetic files (about 6 s)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from oracle_node import cli
from oracle_node.options.shock_params import MANIFEST_FILE, MODEL_FILE
from oracle_node.options.shocks import ShockBounds, ShockModel, bundled_inputs
from tests.unit.shock_fixtures import synthetic_inputs

SMALL = ["--val-days", "60", "--test-days", "60", "--refit-every", "60"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("shock-data")
    inp = synthetic_inputs(420)
    pairs = [[int(t) * 86_400_000, round(v * 100, 4)] for t, v in zip(inp.dvol_day, inp.dvol, strict=True)]
    (d / "dvol.json").write_text(json.dumps(pairs))
    dates = [str(np.datetime64(int(t), "D")) for t in inp.price_day]
    rows = zip(dates, inp.close, inp.funding, strict=True)
    (d / "px.csv").write_text("date,price,volume\n" + "".join(f"{a},{p:.6f},1000\n" for a, p, _ in rows))
    rows = zip(dates, inp.close, inp.funding, strict=True)
    (d / "fu.csv").write_text(
        "date,funding_mean,funding_abs\n" + "".join(f"{a},{f:.8f},{abs(f):.8f}\n" for a, _, f in rows)
    )
    return {"dvol": d / "dvol.json", "prices": d / "px.csv", "funding": d / "fu.csv"}


def _data_args(files: dict[str, Path]) -> list[str]:
    return [x for k, p in files.items() for x in (f"--{k}", str(p))]


@pytest.mark.slow  # about 10 s: 18 candidates walked forward twice
def test_shock_backtest__small_files__writes_the_four_outputs_with_consistent_figures(
    files, tmp_path
) -> None:
    out = tmp_path / "bt"
    assert cli.main(["shock-backtest", *_data_args(files), *SMALL, "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    test = m["scores"]["test"]
    assert set(test) == {"ml", "trees", "fixed", "empirical"}
    assert test["fixed"]["up"]["mean_shock"] == pytest.approx(0.5)
    assert test["fixed"]["down"]["mean_shock"] == pytest.approx(0.25)
    assert all(test[n][s]["days"] == 60 for n in test for s in ("up", "down"))
    assert m["selection"]["served"] in m["selection"]["validation_pooled_pinball"]
    assert len(m["robustness_test_all_candidates"]) == 18
    with (out / "forecasts.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 120 and {r["period"] for r in rows} == {"validation", "test"}
    up = np.array([float(r["ml_q_up"]) for r in rows if r["period"] == "test"])
    assert np.mean(np.expm1(up)) == pytest.approx(test["ml"]["up"]["mean_shock"], rel=1e-5)
    assert "oracle-node shock-backtest --dvol" in (out / "report.md").read_text()
    assert (out / "shocks.png").read_bytes()[:4] == b"\x89PNG"


def test_shock_train__small_files__loadable_reproducible_artifact(files, tmp_path, capsys) -> None:
    args = ["shock-train", *_data_args(files), *SMALL]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr()
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in (MODEL_FILE, MANIFEST_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    model = ShockModel.load(tmp_path / "a")
    shock = model.predict(
        bundled_inputs(files["dvol"], str(files["prices"]), files["funding"]), ShockBounds()
    )
    assert f"vol_up {shock.vol_up:.1%}" in printed.out
    beat = model.params.meta["selection"]["served_beats_empirical_on_validation"]
    assert ("did not beat the empirical quantile" in printed.err) is (not beat)


def test_shock_backtest__out_holds_an_input__refused_before_reading(files, tmp_path, capsys) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "metrics.json").write_bytes(files["dvol"].read_bytes())
    rc = cli.main(["shock-backtest", "--dvol", str(out / "metrics.json"), "--out", str(out)])
    assert rc == 2
    assert "refusing to overwrite" in capsys.readouterr().err
