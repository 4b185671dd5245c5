"""The research scripts run with `python -m` answer bad input with one line and exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("module", ["validation", "retrain_validation"])
def test_research_script__missing_data__one_line_exit_2(module: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", f"oracle_node.research.backtest.{module}", "--data", str(tmp_path / "none"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{module}: error: ") and "price file does not exist" in lines[0]
    assert "Traceback" not in proc.stderr
