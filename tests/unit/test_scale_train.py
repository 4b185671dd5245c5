"""`oracle-node train --markets FILE` (research.scale.training): one task per market writes, under
OUT/<market>/, the bytes `oracle-node train --prices` writes for that market; bad input is one line,
exit 2, before any task runs. Real data: the bundled BTC-USD daily prices, no walk-forward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oracle_node.cli import main
from oracle_node.research.scale.executor import SerialExecutor
from oracle_node.research.scale.markets import load_markets
from oracle_node.research.scale.training import run_train_markets
from oracle_node.research.training.ml_run import run_train

DATA = Path(__file__).resolve().parents[2] / "oracle_node" / "data"
BTC = DATA / "btc_usd_daily_2015_2026.csv.gz"
MARKETS = (
    "defaults:\n  train: {test_start: 2024-01-01, walk_forward: false}\n"
    f"markets:\n  - {{name: BTC-USD, asset: BTC, prices: {BTC}}}\n"
    f"  - {{name: BTC-2022, asset: BTC, prices: {BTC}, end: 2022-12-31, train: {{test_start: 2022-01-01}}}}\n"
)


def test_train_markets__serial__same_bytes_as_the_single_market_train(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MARKETS)
    with SerialExecutor() as serial:
        run = run_train_markets(load_markets(tmp_path / "m.yaml"), serial, tmp_path / "out")
    model_hash, _ = run_train(BTC, "BTC", "2024-01-01", tmp_path / "direct", walk=False)
    names = sorted(p.name for p in (tmp_path / "direct").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "out" / "BTC-USD").iterdir())
    for name in names:
        assert (tmp_path / "out" / "BTC-USD" / name).read_bytes() == (tmp_path / "direct" / name).read_bytes()
    a, b = run.results
    assert (a.model_hash, a.error, b.error, run.puts) == (model_hash, None, None, 2)
    cut = json.loads((tmp_path / "out" / "BTC-2022" / "manifest.json").read_text())["training"]
    assert cut["test_start"] == "2022-01-01" and b.model_hash != model_hash  # end and test_start per market


def error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["train", *argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("oracle-node train: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_train_markets__no_test_start__one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(f"markets:\n  - {{name: A, prices: {BTC}}}\n")
    line = error_line(capsys, "--markets", str(path), "--executor", "serial", "--out", str(tmp_path / "out"))
    assert str(path) in line and "markets.0.train.test_start" in line and "missing" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("--markets", "M", "--test-start", "2024-01-01"), "drop --test-start"),
        (("--markets", "M", "--pool", f"{BTC}:ETH"), "drop --pool"),
        (("--prices", str(BTC), "--asset", "BTC"), "give --prices, --asset and --test-start"),
        (
            ("--prices", str(BTC), "--asset", "BTC", "--test-start", "2024-01-01", "--cores", "2"),
            "--cores apply",
        ),
    ],
)
def test_train__flags__one_line_exit_2(
    argv: tuple[str, ...], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "M").write_text(MARKETS)
    argv = tuple(str(tmp_path / "M") if a == "M" else a for a in argv)
    assert needle in error_line(capsys, *argv, "--out", str(tmp_path / "o"))
