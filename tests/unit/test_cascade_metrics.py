"""Cascade scores on hand-computed cases, and the CLI: metrics.json's Brier scores are recomputed
from forecasts.csv (computed, not asserted); bad input is one line on stderr and exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from oracle_node.cli import main
from oracle_node.research.cascade import metrics as mt
from oracle_node.research.cascade.synthetic import START, write_liquidations, write_prices

DAY = 86400.0


def test_brier_and_skill__hand_computed() -> None:
    p, y = np.array([0.2, 0.8, 0.5]), np.array([0.0, 1.0, 1.0])
    assert mt.brier(p, y) == pytest.approx((0.04 + 0.04 + 0.25) / 3)
    ref = np.full(3, 0.5)
    assert mt.brier_skill(p, ref, y) == pytest.approx(1 - 0.11 / 0.25)
    assert mt.brier_skill(ref, ref, y) == 0.0


def test_reliability__bins_hold_mean_forecast_and_frequency() -> None:
    p = np.array([0.05, 0.05, 0.15, 0.95, 1.0])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    bins = {b["lo"]: b for b in mt.reliability(p, y)}
    assert bins[0.0]["n"] == 2 and bins[0.0]["observed"] == 0.5
    assert bins[0.9]["n"] == 2 and bins[0.9]["mean_p"] == pytest.approx(0.975)  # p = 1 falls in the top bin


def test_precision_recall__alerts_at_level() -> None:
    p = np.array([0.9, 0.6, 0.2, 0.1])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    r = mt.precision_recall(p, y, 0.5)
    assert (r["alerts"], r["hits"], r["precision"], r["recall"]) == (2, 1, 0.5, 0.5)
    assert mt.precision_recall(p, y, 0.95)["precision"] is None


def test_lead_time__alert_run_and_crossing_hour() -> None:
    wave = START + 10 * DAY
    ts = START + DAY * np.arange(12, dtype=float)
    p = np.full(12, 0.1)
    p[8:11] = 0.6  # alerts issued on days 8, 9, 10 (the wave day)
    ev_ts = wave + 3600.0 * np.array([1.0, 5.0, 7.0])
    res = mt.lead_time(ts, p, 0.5, wave, thr=150.0, ev_ts=ev_ts, ev_usd=np.array([100.0, 100.0, 100.0]))
    assert res["lead_days"] == 2.0
    assert res["hours_to_crossing"] == pytest.approx(48.0 + 5.0)  # cumulative 200 > 150 at 05:00
    p[10] = 0.4
    assert mt.lead_time(ts, p, 0.5, wave, 150.0, ev_ts, np.ones(3))["lead_days"] is None


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cascade_cli")
    write_liquidations(d / "liq.csv", 120, seed=7)
    write_prices(d / "px.csv", START - 60 * DAY, 200, seed=7)
    return d


def _args(d: Path, out: Path, *extra: str) -> list[str]:
    return ["cascade", "backtest", "--liquidations", str(d / "liq.csv"), "--prices", str(d / "px.csv"),
            "--val-start", "2021-03-05", "--test-start", "2021-04-01", "--refit-every", "10", "--out", str(out), *extra]  # fmt: skip


def test_cascade_backtest__small_files__metrics_recomputed_from_forecasts(
    small: Path, tmp_path: Path
) -> None:
    assert main(_args(small, tmp_path / "out")) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    rows = list(csv.DictReader((tmp_path / "out" / "forecasts.csv").open()))
    assert (tmp_path / "out" / "report.html").read_text().count('src="data:image/png;base64,') >= 2
    by_model: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append((float(r["p"]), float(r["event"])))
    clim = np.array(by_model["climatology"])
    for model, pairs in by_model.items():
        a = np.array(pairs)
        brier = float(np.mean((a[:, 0] - a[:, 1]) ** 2))
        assert metrics["test"][model]["brier"] == pytest.approx(brier, abs=1e-6)
        assert metrics["test"][model]["bss"] == pytest.approx(
            1 - brier / np.mean((clim[:, 0] - clim[:, 1]) ** 2), abs=1e-5
        )
    assert metrics["validation"]["ml_chosen"] in metrics["validation"]["ml_brier"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--test-start", "2021-13-01"), "--test-start"),
        (("--val-start", "2021-05-01"), "must be before --test-start"),
        (("--refit-every", "0"), "--refit-every"),
    ],
)
def test_cascade_backtest__bad_option__one_line_exit_2(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, str], needle: str
) -> None:
    assert main(_args(small, tmp_path / "out", *extra)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_cascade_backtest__bad_row__names_file_line_field_value(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (small / "liq.csv").read_text().splitlines()
    lines[5] = lines[5].replace("USDC", "NOPE", 1)
    (tmp_path / "liq.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "px.csv").write_text((small / "px.csv").read_text())
    assert main(_args(tmp_path, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and f"{tmp_path / 'liq.csv'}:6" in err
        and "principalReserve" in err
        and "NOPE" in err
    )
