"""`retrain-policy --markets` and `train --markets` on a real local Ray (2 CPUs, started and shut down
here): per market the same files as the single-market study / training run directly, the shared data
stored once per price series."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from oracle_node.models.ml_features import ml_rows
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import truncate
from oracle_node.research.retrain.command import run_info
from oracle_node.research.retrain.report import study_doc, write_study
from oracle_node.research.retrain.run import StudyConfig, run_study
from oracle_node.research.scale.executor import RayExecutor
from oracle_node.research.scale.markets import load_markets
from oracle_node.research.scale.retrain import RetrainRun, run_retrain_markets
from oracle_node.research.scale.training import run_train_markets
from oracle_node.research.training.ml_run import run_train

DATA = Path(__file__).resolve().parents[2] / "oracle_node" / "data"
BTC = DATA / "btc_usd_daily_2015_2026.csv.gz"
MARKETS = (
    "defaults:\n  end: 2019-03-31\n"
    "  retrain: {start: 2018-07-01, valid_end: 2018-12-31, every_grid: [90], gap_grid: [90]}\n"
    "markets:\n"
    f"  - {{name: BTC-a1, asset: BTC, prices: {BTC}}}\n"
    f"  - {{name: BTC-a2.5, asset: BTC, prices: {BTC}, retrain: {{alpha: 0.025}}}}\n"
)
TRAIN = (
    "defaults:\n  train: {test_start: 2024-01-01, walk_forward: false}\n"
    f"markets:\n  - {{name: BTC-USD, asset: BTC, prices: {BTC}}}\n"
)
TIMING = ("wall_seconds", "fit_seconds", "market", "end")


def untimed(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: untimed(v) for k, v in doc.items() if k not in TIMING}
    return doc


@pytest.fixture(scope="module")
def ray_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RetrainRun, int]:
    tmp = tmp_path_factory.mktemp("ray-retrain")
    (tmp / "markets.yaml").write_text(MARKETS)
    with RayExecutor(cores=2, object_store_bytes=100 * 1024 * 1024) as executor:
        run = run_retrain_markets(load_markets(tmp / "markets.yaml"), executor, tmp / "out")
        cores = executor.cores
        (tmp / "train.yaml").write_text(TRAIN)
        trained = run_train_markets(load_markets(tmp / "train.yaml"), executor, tmp / "out-train")
    assert [r.error for r in trained.results] == [None]
    return tmp / "out", run, cores


def test_ray__retrain_markets__rows_put_once_walks_spread_over_workers(
    ray_run: tuple[Path, RetrainRun, int],
) -> None:
    _, run, cores = ray_run
    assert cores == 2 and run.puts == 1  # one price series, one end: the rows stored once
    assert [w.label for w in run.walks] == ["never", "schedule_90d", "drift_gap90d"] * 2
    assert all(w.error is None for w in run.walks)
    assert len({w.worker for w in run.walks}) >= 2  # the walks ran in more than one worker process


@pytest.mark.parametrize(("name", "alpha"), [("BTC-a1", 0.01), ("BTC-a2.5", 0.025)])
def test_ray__retrain_markets__same_files_as_the_single_market_study(
    name: str, alpha: float, ray_run: tuple[Path, RetrainRun, int], tmp_path: Path
) -> None:
    out = ray_run[0]
    cfg = StudyConfig(alpha, "2018-07-01", "2018-12-31", (90,), (90,))
    with threadpool_limits(limits=1):  # as a task
        study = run_study(ml_rows(truncate(load_prices(BTC, "BTC"), "2019-03-31")), cfg)
    write_study(tmp_path, study, run_info(BTC, "BTC", None))
    got = json.loads((out / name / "metrics.json").read_text())
    assert untimed(got) == untimed(study_doc(study, run_info(BTC, "BTC", None)))
    for file in ("forecasts.csv", "report.md"):
        assert (out / name / file).read_bytes() == (tmp_path / file).read_bytes(), file


def test_ray__train_markets__same_bytes_as_the_single_market_train(
    ray_run: tuple[Path, RetrainRun, int], tmp_path: Path
) -> None:
    got = ray_run[0].parent / "out-train" / "BTC-USD"
    run_train(BTC, "BTC", "2024-01-01", tmp_path, walk=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in got.iterdir()) and "manifest.json" in names
    for name in names:
        assert (got / name).read_bytes() == (tmp_path / name).read_bytes(), name
