"""Inputs of the research feature table: the Aave liquidation CSV reader and the coverage table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oracle_node.errors import DataError
from oracle_node.features.frame import FeatureFrame
from oracle_node.research.features_data import coverage_markdown
from oracle_node.sources.aave_csv import read_aave_liquidations


def test_read_aave_liquidations__sorted_times_and_span(tmp_path: Path) -> None:
    path = tmp_path / "liq.csv"
    path.write_text(
        "collateralReserve,timestamp,type\nWETH,1626124715,liquidation\nENJ,1619145033,liquidation\n"
    )
    liq = read_aave_liquidations(path)
    assert liq.ts.tolist() == [1619145033.0, 1626124715.0]
    assert liq.span == (1619145033.0, 1626124715.0)


def test_read_aave_liquidations__bad_timestamp__names_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "liq.csv"
    path.write_text("collateralReserve,timestamp,type\nWETH,1626124715,liquidation\nENJ,soon,liquidation\n")
    with pytest.raises(DataError) as info:
        read_aave_liquidations(path)
    assert (info.value.line, info.value.field) == (3, "timestamp") and "soon" in str(info.value)


def test_coverage_markdown__first_last_and_days_per_table() -> None:
    ts = 86_400.0 * np.arange(1, 4)
    frame = FeatureFrame("X", ts, ("a", "b"), np.array([[np.nan, 1.0], [2.0, 1.0], [3.0, np.nan]]))
    text = coverage_markdown({"t": frame})
    assert "| a | 1970-01-02..1970-01-03 (2) |" in text
    assert "| b | 1970-01-01..1970-01-02 (2) |" in text
