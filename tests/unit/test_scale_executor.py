"""research.scale without Ray: the serial and local (forked pool) executors and the multi-market
runner on real bundled prices (the Ray executor: tests/integration/test_scale_ray.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from oracle_node.cli import main
from oracle_node.errors import ConfigError
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import run_backtest
from oracle_node.research.scale.backtests import BacktestTask, ScaleRun, backtest_task, run_markets
from oracle_node.research.scale.executor import (
    LocalExecutor,
    NativeStderrToDevnull,
    SerialExecutor,
    make_executor,
)
from oracle_node.research.scale.markets import MarketsPlan, Settings, load_markets
from oracle_node.research.scale.summary import format_table, summary_doc

DATA = Path(__file__).resolve().parents[2] / "oracle_node" / "data"
BTC = DATA / "btc_usd_daily_2015_2026.csv.gz"
SMALL = "defaults: {levels: [0.01, 0.025], window: 120, test_days: 12, refit_every: 4, sims: 50, ml: false}\n"


def probe(label: str, shared: np.ndarray) -> tuple[str, float, int]:
    return label, float(shared.sum()), os.getpid()


def small_plan(tmp_path: Path) -> Path:
    path = tmp_path / "markets.yaml"
    path.write_text(
        SMALL + "markets:\n"
        f"  - {{name: BTC-2019, asset: BTC, prices: {BTC}, end: 2019-12-31}}\n"
        f"  - {{name: BTC-2024, asset: BTC, prices: {BTC}, end: 2024-06-30, levels: [0.05]}}\n"
    )
    return path


@pytest.mark.parametrize("kind", ["serial", "local"])
def test_executor__shared_value__every_task_reads_it(kind: str) -> None:
    shared = np.arange(1000.0)
    with make_executor(kind, cores=2) as ex:
        ref = ex.put(shared)
        out = dict(ex.run(probe, [(f"t{i}", ref) for i in range(6)]))
    assert ex.puts == 1
    assert sorted(out) == list(range(6))
    assert [out[i][:2] for i in range(6)] == [(f"t{i}", 499500.0) for i in range(6)]
    pids = {pid for _, _, pid in out.values()}
    assert (pids == {os.getpid()}) if kind == "serial" else (os.getpid() not in pids)


def test_local_executor__put_after_run__refused() -> None:
    with LocalExecutor(1) as ex:
        ref = ex.put(np.ones(3))
        assert dict(ex.run(probe, [("a", ref)]))[0][1] == 3.0
        with pytest.raises(ConfigError, match="put\\(\\) after run\\(\\)"):
            ex.put(np.ones(3))


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[MarketsPlan, ScaleRun, dict, Path]:
    tmp = tmp_path_factory.mktemp("scale")
    plan = load_markets(small_plan(tmp))
    with SerialExecutor() as ex:
        run = run_markets(plan, ex, tmp / "out")
        doc = summary_doc(plan, ex, run)
    return plan, run, doc, tmp


def test_run_markets__serial__outputs_match_a_single_market_backtest(
    serial_run: tuple[MarketsPlan, ScaleRun, dict, Path],
) -> None:
    _, run, doc, tmp = serial_run
    assert run.puts == 1  # one price file shared by both markets: stored once
    assert [(r.market, r.alpha, r.error) for r in run.results] == [
        ("BTC-2019", 0.01, None), ("BTC-2019", 0.025, None), ("BTC-2024", 0.05, None),
    ]  # fmt: skip
    metrics = json.loads((tmp / "out" / "BTC-2019" / "alpha_0.025" / "metrics.json").read_text())
    assert metrics["run"]["market"] == "BTC-2019" and metrics["run"]["prices"] == str(BTC)
    assert metrics["run"]["test_end"] == "2019-12-31" and metrics["run"]["workers"] == 1
    for name in ("forecasts.csv", "report.html"):
        assert (tmp / "out" / "BTC-2024" / "alpha_0.05" / name).stat().st_size > 0
    with threadpool_limits(limits=1):  # a task's BLAS threads (research.scale.backtests)
        alone = run_backtest(
            BTC, "BTC", 0.025, 120, 12, 4, tmp / "alone", workers=1, sims=50, end="2019-12-31"
        )
    assert metrics["models"] == json.loads((tmp / "alone" / "metrics.json").read_text())["models"]
    assert alone.metrics["gjr_skewt"]["fz0"] == run.results[1].metrics["gjr_skewt"]["fz0"]
    assert doc["tasks"] == 3 and doc["failed"] == 0 and doc["per_task_seconds"]["n"] == 3
    best = doc["results"][0]["best_model"]
    assert doc["results"][0]["models"][best]["fz0"] == min(
        m["fz0"] for m in doc["results"][0]["models"].values()
    )
    table = format_table(doc).splitlines()
    assert len(table) == 4 and table[1].startswith("BTC-2019") and "2019-12-20..2019-12-31" in table[1]


def test_run_markets__local_pool__same_results_as_serial(
    serial_run: tuple[MarketsPlan, ScaleRun, dict, Path], tmp_path: Path
) -> None:
    plan, serial, _, _ = serial_run
    with LocalExecutor(2) as ex:
        pooled = run_markets(plan, ex, tmp_path / "local")
    assert not {r.worker for r in pooled.results} & {r.worker for r in serial.results}
    assert [r.metrics for r in pooled.results] == [r.metrics for r in serial.results]


def test_backtest_task__too_short_series__returns_the_error() -> None:
    history = load_prices(BTC, "BTC")
    settings = Settings(window=120, test_days=12, ml=False, end="2015-03-01")
    res = backtest_task(BacktestTask("BTC-early", "BTC", 0.01, settings, str(BTC)), history)
    assert res.error is not None and "returns needed" in res.error
    assert res.files == {} and res.metrics == {}


def test_native_stderr__diverted_while_ray_runs__python_stderr_still_shown(
    capfd: pytest.CaptureFixture[str],
) -> None:
    diverted = NativeStderrToDevnull()
    try:
        os.write(2, b"[E core_worker_process.cc:837] native line\n")
        print("python line", file=sys.stderr)
    finally:
        diverted.restore()
    os.write(2, b"after restore\n")
    err = capfd.readouterr().err
    assert err == "python line\nafter restore\n"


def test_cli__a_task_fails_on_its_data__others_written_one_line_each_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "markets.yaml"
    path.write_text(
        "defaults: {window: 60, test_days: 10, refit_every: 5, sims: 0}\n"
        "markets:\n"
        f"  - {{name: BTC-2015, asset: BTC, prices: {BTC}, end: 2015-06-30}}\n"  # too short to train the ML models
        f"  - {{name: BTC-2016, asset: BTC, prices: {BTC}, end: 2016-06-30, ml: false}}\n"
    )
    code = main(["backtest", "--markets", str(path), "--executor", "serial", "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == [
        "oracle-node backtest: error: market BTC-2015 alpha 0.01: BTC: 93 fit rows (>= 250) and 46 calibration "
        "rows (>= 100) needed before the test start 2015-06-20"
    ]
    assert "1/2 tasks' outputs" in out.splitlines()[-1]
    doc = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert [(r["market"], r["status"]) for r in doc["results"]] == [("BTC-2015", "error"), ("BTC-2016", "ok")]
    assert doc["failed"] == 1 and (tmp_path / "o" / "BTC-2016" / "alpha_0.01" / "metrics.json").is_file()
    assert not (tmp_path / "o" / "BTC-2015").exists()
