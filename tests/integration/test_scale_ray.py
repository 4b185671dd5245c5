"""research.scale on a real local Ray (2 CPUs, no dashboard, started and shut down here): the same
per-market results as the serial executor, shared data through the object store, no process left
behind, a dead --ray-address refused in one line, and a clean CLI output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from oracle_node.research.scale.backtests import ScaleRun, run_markets
from oracle_node.research.scale.executor import RayExecutor, SerialExecutor
from oracle_node.research.scale.markets import load_markets

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "oracle_node" / "data"
BTC = DATA / "btc_usd_daily_2015_2026.csv.gz"
ETH = DATA / "binance_ethusdt_spot_1h_2017_2021.csv.gz"
MARKETS = (
    "defaults: {levels: [0.01, 0.025], window: 120, test_days: 8, refit_every: 4, sims: 50, ml: false}\n"
    "markets:\n"
    f"  - {{name: BTC-2019, asset: BTC, prices: {BTC}, end: 2019-12-31}}\n"
    f"  - {{name: ETH-2020, asset: ETH, prices: {ETH}, end: 2020-12-31, window: 200, ml: true, levels: [0.025]}}\n"
)


def probe(shared: np.ndarray) -> tuple[str, bool, float]:
    """What a task receives for a put() handle: the array itself, mapped read-only from the store."""
    return type(shared).__name__, bool(shared.flags.writeable), float(shared.sum())


def session_processes(session: str) -> list[str]:
    """Processes whose command line names the Ray session (gcs_server, raylet, agents, workers)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if session in cmd:
            found.append(f"{pid} {cmd[:80]}")
    return found


def children() -> set[int]:
    """Live (not zombie) processes whose parent is this test process."""
    kids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and stat[0] != "Z":
            kids.add(int(pid))
    return kids


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scale") / "markets.yaml"
    path.write_text(MARKETS)
    return path


@pytest.fixture(scope="module")
def ray_runs(plan_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    import ray  # noqa: PLC0415 - the test spies on the executor's ray.put

    plan = load_markets(plan_file)
    out = tmp_path_factory.mktemp("out")
    before = children()
    puts: list[type] = []
    executor = RayExecutor(cores=2, object_store_bytes=100 * 1024 * 1024)
    session = Path(ray._private.worker._global_node.get_session_dir_path()).name
    real_put = ray.put

    def counting_put(value: object, **kw: object) -> object:
        puts.append(type(value))
        return real_put(value, **kw)

    try:
        ray.put = counting_put
        array = executor.put(np.arange(100.0))
        received = dict(executor.run(probe, [(array,), (array,)]))
        ray_run = run_markets(plan, executor, out / "ray")
        assert session_processes(session), "a local Ray runs during the test"
    finally:
        ray.put = real_put
        executor.close()
    with SerialExecutor() as serial:
        serial_run = run_markets(plan, serial, out / "serial")
    yield {"ray": ray_run, "serial": serial_run, "puts": puts, "received": received, "session": session,
           "before": before, "out": out, "cores": executor.cores}  # fmt: skip


def test_ray__same_per_market_results_as_serial(ray_runs: dict) -> None:
    ray_run: ScaleRun = ray_runs["ray"]
    serial_run: ScaleRun = ray_runs["serial"]
    assert ray_runs["cores"] == 2
    keys = [(r.market, r.alpha) for r in ray_run.results]
    assert keys == [
        ("BTC-2019", 0.01),
        ("BTC-2019", 0.025),
        ("ETH-2020", 0.025),
    ]
    assert keys == [(r.market, r.alpha) for r in serial_run.results]
    assert all(r.error is None for r in ray_run.results)
    assert {r.worker for r in ray_run.results}.isdisjoint({r.worker for r in serial_run.results})
    assert "qgbm" in ray_run.results[-1].metrics  # the ML models trained inside a Ray task
    for a, b in zip(ray_run.results, serial_run.results, strict=True):
        assert a.metrics == b.metrics, a.market
    for market, level in (("BTC-2019", "alpha_0.01"), ("ETH-2020", "alpha_0.025")):
        docs = [
            json.loads((ray_runs["out"] / k / market / level / "metrics.json").read_text())
            for k in ("ray", "serial")
        ]
        assert docs[0]["models"] == docs[1]["models"]
        forecasts = [
            (ray_runs["out"] / k / market / level / "forecasts.csv").read_text() for k in ("ray", "serial")
        ]
        assert forecasts[0] == forecasts[1]


def test_ray__shared_data__put_once_per_price_file_and_read_from_the_store(ray_runs: dict) -> None:
    from oracle_node.features.history import MarketHistory  # noqa: PLC0415

    # the probe array, then one history per distinct price file (2 files; BTC's 2 tasks share one)
    assert ray_runs["puts"] == [np.ndarray, MarketHistory, MarketHistory]
    assert ray_runs["ray"].puts == 3
    # a task gets the array resolved from the object store: zero-copy, hence read-only
    assert ray_runs["received"] == {0: ("ndarray", False, 4950.0), 1: ("ndarray", False, 4950.0)}


def test_ray__shutdown__leaves_no_process_behind(ray_runs: dict) -> None:
    deadline = time.monotonic() + 15.0
    while (
        session_processes(ray_runs["session"]) or children() - ray_runs["before"]
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_processes(ray_runs["session"]) == []
    assert children() - ray_runs["before"] == set()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oracle_node.cli", "backtest", *args],
        capture_output=True, text=True, timeout=300, cwd=cwd, check=False,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli__dead_ray_address__one_line_exit_2(plan_file: Path, tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    proc = cli(
        "--markets",
        str(plan_file),
        "--ray-address",
        f"127.0.0.1:{port}",
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"oracle-node backtest: error: --ray-address 127.0.0.1:{port}: nothing answers there (Connection refused); "
        "start the head with `ray start --head` and pass the address it prints"
    ]
    assert time.monotonic() - started < 60  # refused at once, not after Ray's minutes of retries
    assert not (tmp_path / "o").exists()


def test_cli__ray_executor__clean_output_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "markets.json"
    path.write_text(json.dumps({
        "defaults": {"levels": [0.01], "window": 120, "test_days": 10, "refit_every": 5, "sims": 0, "ml": False},
        "markets": [{"name": "BTC-2021", "asset": "BTC", "prices": str(BTC), "end": "2021-12-31"}],
    }))  # fmt: skip
    proc = cli(
        "--markets",
        str(path),
        "--executor",
        "ray",
        "--cores",
        "2",
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no Ray warnings, no worker logs, no progress (stderr is not a terminal)
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["market", "alpha", "test"] and len(lines) == 3
    assert lines[1].startswith("BTC-2021") and "2021-12-22..2021-12-31" in lines[1]
    assert (
        lines[2].startswith(f"wrote {tmp_path / 'o' / 'summary.json'} and 1/1 tasks' outputs under ")
        and "on ray (2 cores" in lines[2]
    )
    doc = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert doc["executor"]["kind"] == "ray" and doc["executor"]["cores"] == 2 and doc["shared_objects"] == 1
    assert [(r["market"], r["alpha"], r["status"]) for r in doc["results"]] == [("BTC-2021", 0.01, "ok")]
    assert (tmp_path / "o" / "BTC-2021" / "alpha_0.01" / "report.html").is_file()
