"""run_backtest end to end on the real BTC daily file (small window), and the price readers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from oracle_node.errors import DataError
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import run_backtest

METRIC_KEYS = {
    "violations", "expected", "rate", "kupiec_p", "christoffersen_ind_p", "christoffersen_cc_p",
    "traffic_light", "pinball", "fz0", "acerbi_szekely_z2", "mean_var",
}  # fmt: skip


def test_run_backtest__btc_daily__writes_consistent_outputs(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "prices" / "btc_usd_daily_2015_2026.csv"
    seen: list[tuple[str, int, int]] = []
    res = run_backtest(src, "BTC-USD", 0.025, 300, 40, 1, tmp_path / "out", ["hs", "ewma_normal", "garch_t"],
                       lambda *a: seen.append(a), workers=1, sims=200)  # fmt: skip
    doc = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert doc["run"]["test_end"] == "2026-02-13" and doc["run"]["test_days"] == 40
    assert set(doc["models"]) == {"hs", "ewma_normal", "garch_t"}
    rows = list(csv.DictReader((tmp_path / "out" / "forecasts.csv").open()))
    assert len(rows) == 40 and rows[-1]["date"] == "2026-02-13"
    with src.open() as fh:
        raw = list(csv.DictReader(fh))
    expect = math.log(float(raw[-1]["price"]) / float(raw[-2]["price"]))
    assert float(rows[-1]["return"]) == pytest.approx(expect, abs=1e-8)
    for name, m in doc["models"].items():
        assert set(m) >= METRIC_KEYS
        breaches = sum(float(x["return"]) < -float(x[f"var_{name}"]) for x in rows)
        assert m["violations"] == breaches
        assert m["expected"] == pytest.approx(1.0)
        assert m["mean_var"] == pytest.approx(np.mean([float(x[f"var_{name}"]) for x in rows]), rel=1e-6)
        assert 0.0 <= m["acerbi_szekely_p"] <= 1.0
        score = m["risk_score"]  # the score's calibration: the last test day's 2-day move is unknown
        assert score["days_with_outcome"] == 39 and 0.0 <= score["brier"] <= 1.0
        assert sum(b["days"] for b in score["reliability"]) == 39
    page = (tmp_path / "out" / "report.html").read_text()
    # price + 3 VaR charts + one reliability figure (a panel per model), PNG inlined
    assert page.count('src="data:image/png;base64,') == 5 and "<script" not in page
    assert "Risk score calibration" in page and "<svg" not in page
    assert ("garch_t", 40, 40) in seen
    assert res.metrics["hs"]["violations"] == doc["models"]["hs"]["violations"]


def test_load_prices__generic_ms_timestamps_hourly__aggregated_to_daily(tmp_path: Path) -> None:
    """48 hourly closes over two UTC days (ms epochs): two daily closes, the last price of each day."""
    path = tmp_path / "p.csv"
    base = 1_600_000_000 - 1_600_000_000 % 86400  # a UTC midnight
    lines = ["timestamp,open,close"] + [f"{(base + 3600 * h) * 1000},1,{100 + h}" for h in range(48)]
    path.write_text("\n".join(lines) + "\n")
    h = load_prices(path, "X")
    np.testing.assert_array_equal(h.close, [123.0, 147.0])
    np.testing.assert_array_equal(h.ts, [base + 86400, base + 2 * 86400])


def test_load_prices__generic_daily_dates__stamped_at_day_end(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("Date,Close\n2024-01-02,11\n2024-01-01,10\n2024-01-03,12\n")
    h = load_prices(path, "X")
    np.testing.assert_array_equal(h.close, [10.0, 11.0, 12.0])
    assert h.ts[0] == 1704067200 + 86400  # 2024-01-01 00:00 UTC + 1 day


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("when,close\n2024-01-01,1\n", "expected one of the columns"),
        ("date,close\n2024-01-01,1\n2024-01-01,2\n", "duplicate timestamp"),
        ("date,close\n2024-01-01,1\n2024-01-02,-2\n", r"d.csv:3: field 'close' value -2.0"),
        ("date,close\n2024-01-01,1\nyesterday,2\n", "expected an ISO date"),
    ],
)
def test_load_prices__bad_file__data_error_names_line(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        load_prices(path, "X")
