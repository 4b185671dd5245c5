"""Funding and DVOL series on the real files: scale of the 8h file checked against the daily file."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

import pytest

from oracle_node.errors import DataError
from oracle_node.sources.series import (
    daily_means,
    read_dvol,
    read_funding_8h,
    read_funding_daily,
    read_ms_pairs,
)


def test_read_funding_daily__real_file__2348_days_fractions(shared_data: Path) -> None:
    daily = read_funding_daily(shared_data / "funding" / "btc_perp_funding_daily_2019_2026.csv")
    assert len(daily.mean) == len(daily.mean_abs) == 2_348
    assert daily.mean.values[0] == 1e-4  # 2019-09-10: Binance's neutral 0.01 % per 8 h
    assert daily.mean.ts[0] == 1568073600.0
    assert all(abs(m) <= a + 1e-15 for m, a in zip(daily.mean.values, daily.mean_abs.values, strict=True))


def test_read_funding_8h__real_file__percent_converted_to_fraction(shared_data: Path) -> None:
    eight = read_funding_8h(shared_data / "funding" / "btc_perp_funding_8h.json")
    assert len(eight) == 3_316
    assert eight.values[0] == pytest.approx(0.00044 / 100)
    assert eight.ts[0] == 1667462400.016
    steps = {round(b - a) for a, b in itertools.pairwise(eight.ts)}
    assert steps == {28_800}


def test_funding_scales__overlap_2022_2025__8h_daily_mean_equals_daily_file(shared_data: Path) -> None:
    daily = read_funding_daily(shared_data / "funding" / "btc_perp_funding_daily_2019_2026.csv")
    eight = read_funding_8h(shared_data / "funding" / "btc_perp_funding_8h.json")
    ours = daily_means(eight)
    theirs = dict(zip(daily.mean.ts, daily.mean.values, strict=True))
    common = sorted(ours.keys() & theirs.keys())
    assert len(common) == 1_106
    ratios = [ours[d] / theirs[d] for d in common if abs(theirs[d]) > 1e-6]
    assert statistics.median(ratios) == pytest.approx(1.0, abs=1e-6)
    err = [abs(ours[d] - theirs[d]) for d in common]
    assert statistics.median(err) < 1e-7


def test_read_dvol__real_file__vol_points_to_fraction(shared_data: Path) -> None:
    dvol = read_dvol(shared_data / "vol" / "deribit_btc_dvol_daily.json")
    assert len(dvol) == 1_102
    assert dvol.values[0] == pytest.approx(0.5676)
    assert min(dvol.values) > 0.2 and max(dvol.values) < 1.5
    assert list(dvol.ts) == sorted(dvol.ts)
    ftx = dvol.between(1667865600.0, 1667952000.0)  # 2022-11-08..09: FTX, DVOL 76.66 -> 114.72
    assert ftx.values == pytest.approx((0.7666, 1.1472))


def test_read_ms_pairs__non_finite_value__data_error_names_index(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[[1667462400000, 0.1], [1667491200000, "NaN"]]')
    with pytest.raises(DataError) as err:
        read_ms_pairs(path, 1.0, "x")
    assert (err.value.field, err.value.value) == ("[1][1]", "NaN")


def test_read_ms_pairs__truncated_json__data_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text("[[1667462400000, 0.1], [16674912")
    with pytest.raises(DataError, match="not valid JSON"):
        read_ms_pairs(path, 1.0, "x")
