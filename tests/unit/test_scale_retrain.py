"""`oracle-node retrain-policy --markets FILE` (research.scale.retrain): one task per market x candidate
policy gives, per market, exactly the files the single-market study writes; bad input is one line,
exit 2, before any task runs.

Real data: the bundled BTC-USD daily prices cut at 2019-03-31, a 9-month study (validation
2018-07-01 .. 2018-12-31, evaluation 2019 Q1) with one schedule period and one drift gap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_limits

from oracle_node.cli import main
from oracle_node.models.ml_features import ml_rows
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import truncate
from oracle_node.research.retrain.command import run_info
from oracle_node.research.retrain.report import study_doc, write_study
from oracle_node.research.retrain.run import StudyConfig, run_study
from oracle_node.research.scale.executor import SerialExecutor
from oracle_node.research.scale.markets import load_markets
from oracle_node.research.scale.retrain import run_retrain_markets

DATA = Path(__file__).resolve().parents[2] / "oracle_node" / "data"
BTC = DATA / "btc_usd_daily_2015_2026.csv.gz"
CFG = StudyConfig(start="2018-07-01", valid_end="2018-12-31", every_grid=(90,), gap_grid=(90,))
MARKETS = (
    "defaults:\n  end: 2019-03-31\n"
    "  retrain: {start: 2018-07-01, valid_end: 2018-12-31, every_grid: [90], gap_grid: [90]}\n"
    f"markets:\n  - {{name: BTC-2019Q1, asset: BTC, prices: {BTC}}}\n"
)
TIMING = (
    "wall_seconds",
    "fit_seconds",
    "market",
    "end",
)  # differ by construction (run.market, run.end: added)


def untimed(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: untimed(v) for k, v in doc.items() if k not in TIMING}
    return doc


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("retrain")
    (tmp / "markets.yaml").write_text(MARKETS)
    plan = load_markets(tmp / "markets.yaml")
    with SerialExecutor() as serial:
        run = run_retrain_markets(plan, serial, tmp / "out")
    with threadpool_limits(limits=1):  # as a task: one BLAS/OpenMP thread
        study = run_study(ml_rows(truncate(load_prices(BTC, "BTC"), "2019-03-31")), CFG)
    write_study(tmp / "direct", study, run_info(BTC, "BTC", None))
    return {"run": run, "study": study, "tmp": tmp}


def test_retrain_markets__serial__same_files_as_the_single_market_study(runs: dict[str, Any]) -> None:
    tmp, study = runs["tmp"], runs["study"]
    got = json.loads((tmp / "out" / "BTC-2019Q1" / "metrics.json").read_text())
    assert untimed(got) == untimed(study_doc(study, run_info(BTC, "BTC", None)))
    assert (got["run"]["market"], got["run"]["end"]) == ("BTC-2019Q1", "2019-03-31")
    for name in ("forecasts.csv", "report.md"):
        assert (tmp / "out" / "BTC-2019Q1" / name).read_bytes() == (tmp / "direct" / name).read_bytes(), name


def test_retrain_markets__one_task_per_candidate__rows_put_once(runs: dict[str, Any]) -> None:
    run, study = runs["run"], runs["study"]
    assert [w.label for w in run.walks] == [p.label for p in CFG.candidates()]
    assert run.puts == 1 and all(w.error is None for w in run.walks)
    (outcome,) = run.outcomes
    assert outcome.study is not None and outcome.study.recommended == study.recommended
    assert [w.path.fit_rows for w in run.walks] == [study.paths[p.label].fit_rows for p in CFG.candidates()]


def error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["retrain-policy", *argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("oracle-node retrain-policy: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("retrain", "needles"),
    [
        ("{valid_end: 2016-12-31}", ("markets.0.retrain.valid_end", "'2016-12-31'", "after retrain.start")),
        (
            "{every_grid: [0, 90]}",
            (":4:", "markets.0.retrain.every_grid.0", "0", "greater than or equal to 1"),
        ),
        ("{gap_grid: []}", (":4:", "markets.0.retrain.gap_grid", "at least one value")),
        ("{alpha: 0.7}", (":4:", "markets.0.retrain.alpha", "0.7", "less than 0.5")),
        ("{start: 2019-02-01, valid_end: 2019-06-30}", ("market A", "validation end 2019-06-30 <")),
    ],
)
def test_retrain_markets__bad_retrain_section__one_line_exit_2(
    retrain: str, needles: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        f"markets:\n  - name: A\n    prices: {BTC}\n    retrain: {retrain}\n    end: 2019-03-31\n"
    )
    line = error_line(capsys, "--markets", str(path), "--executor", "serial", "--out", str(tmp_path / "out"))
    assert str(path) in line
    for needle in needles:
        assert needle in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("--alpha", "0.05"), "drop --alpha"),
        (("--prices", str(BTC), "--asset", "BTC"), "drop --prices and --asset"),
        (("--valid-end", "2018-12-31"), "drop --valid-end"),
    ],
)
def test_retrain_markets__single_market_flags__refused(
    argv: tuple[str, ...], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MARKETS)
    assert needle in error_line(capsys, "--markets", str(path), *argv, "--out", str(tmp_path / "o"))


def test_retrain_policy__neither_prices_nor_markets__one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "give --prices and --asset" in error_line(capsys, "--asset", "BTC", "--out", str(tmp_path / "o"))


def test_load_markets__retrain_section__market_keys_over_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "defaults:\n  retrain: {alpha: 0.025, every_grid: [60], gap_grid: [30]}\n"
        f"markets:\n  - {{name: A, prices: {BTC}, retrain: {{gap_grid: [45, 90], start: 2018-01-01}}}}\n"
        f"  - {{name: B, prices: {BTC}}}\n"
    )
    a, b = (m.settings.retrain.study() for m in load_markets(path).markets)
    assert a == StudyConfig(0.025, "2018-01-01", "2018-12-31", (60,), (45, 90))
    assert b == StudyConfig(0.025, "2017-01-01", "2018-12-31", (60,), (30,))
