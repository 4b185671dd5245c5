"""`oracle-node backtest --markets FILE`: the markets file (research.scale.markets) and the flags.

Bad input is one `oracle-node backtest: error: ...` line naming the file (and line), the field and the
value, exit 2, no traceback; a valid file resolves defaults and paths.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from oracle_node.cli import main
from oracle_node.errors import ConfigError, ModelError
from oracle_node.research.backtest.ml import DEFAULT_RETRAIN_EVERY
from oracle_node.research.scale import backtests
from oracle_node.research.scale.markets import load_markets

DATA = Path(__file__).resolve().parents[2] / "oracle_node" / "data"
BTC = DATA / "btc_usd_daily_2015_2026.csv.gz"


def error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["backtest", *argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("oracle-node backtest: error: "), err
    assert "Traceback" not in err
    return lines[0]


def write(tmp_path: Path, text: str, name: str = "markets.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        (
            f"markets:\n  - name: A\n    prices: {BTC}\n    levels: [0.6]\n",
            (":4:", "markets.0.levels.0", "0.6", "less than 0.5"),
        ),
        (
            "markets:\n  - name: A\n    prices: nowhere.csv\n",
            (":3:", "markets.0.prices", "'nowhere.csv'", "no such file"),
        ),
        (
            f"markets:\n  - name: A\n    prices: {BTC}\n    windw: 300\n",
            (":4:", "markets.0.windw", "300", "not permitted"),
        ),
        (
            f"defaults:\n  window: 10\nmarkets:\n  - name: A\n    prices: {BTC}\n",
            (":2:", "defaults.window", "10", "greater than or equal to 50"),
        ),
        (
            f"markets:\n  - name: A\n    prices: {BTC}\n  - name: a\n    prices: {BTC}\n",
            (":4:", "markets.1.name", "'a'", "markets.0"),
        ),
        (
            f"markets:\n  - name: 'a/b'\n    prices: {BTC}\n",
            (":2:", "markets.0.name", "'a/b'", "output directory"),
        ),
        (
            f"markets:\n  - name: A\n    prices: {BTC}\n    ml: false\n    hybrid: true\n",
            ("markets.0.ml", "False", "ml: true"),
        ),
        (
            f"markets:\n  - name: A\n    prices: {BTC}\n    levels: [0.01, 0.01]\n",
            ("markets.0.levels", "distinct"),
        ),
        (
            f"markets:\n  - name: A\n    prices: {BTC}\n    ml_retrain_every: -30\n",
            (":4:", "markets.0.ml_retrain_every", "-30", "greater than or equal to 0"),
        ),
        ("markets: []\n", ("markets", "[]", "at least 1")),
        ("# nothing here\n", ("markets.yaml", "empty")),
        (
            f"markets:\n  - name: A\n    prices: {BTC}\n    end: 2015-03-01\n    window: 300\n",
            ("market A", "window 300", "returns needed"),
        ),
    ],
)
def test_markets_file__bad_input__one_line_exit_2(
    body: str, needles: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, body)
    line = error_line(capsys, "--markets", str(path), "--executor", "serial", "--out", str(tmp_path / "out"))
    assert str(path) in line
    for needle in needles:
        assert needle in line, line
    assert not (tmp_path / "out").exists()  # nothing written: the file is checked before any task


def test_markets_file__missing_file__names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = error_line(capsys, "--markets", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o"))
    assert "none.yaml" in line and "does not exist" in line


def test_markets_file__bad_json__names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '{"markets": [\n  {"name": "A", "prices": "x.csv",}\n', "markets.json")
    line = error_line(capsys, "--markets", str(path), "--out", str(tmp_path / "o"))
    assert "markets.json:" in line and "not valid YAML" in line


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("--prices", str(BTC)), "drop --prices"),
        (("--asset", "BTC"), "drop --asset"),
        (("--ml-retrain-every", "30"), "drop --ml-retrain-every"),
        (("--served",), "drop --served"),
        (("--lstm",), "drop --lstm"),
    ],
)
def test_markets_flag__with_single_market_flags__refused(
    argv: tuple[str, ...], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, f"markets:\n  - name: A\n    prices: {BTC}\n")
    assert needle in error_line(capsys, "--markets", str(path), *argv, "--out", str(tmp_path / "o"))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("--prices", str(BTC), "--asset", "BTC", "--executor", "serial"), "--executor apply to --markets"),
        (
            ("--prices", str(BTC), "--asset", "BTC", "--ray-address", "x:1"),
            "--ray-address apply to --markets",
        ),
        (("--prices", str(BTC)), "give --prices and --asset"),
    ],
)
def test_single_market_flags__without_markets__refused(
    argv: tuple[str, ...], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert needle in error_line(capsys, *argv, "--out", str(tmp_path / "o"))


def test_ray_address__with_local_executor__refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, f"markets:\n  - name: A\n    prices: {BTC}\n    window: 300\n    test_days: 5\n")
    line = error_line(
        capsys,
        "--markets",
        str(path),
        "--executor",
        "local",
        "--ray-address",
        "10.0.0.1:6379",
        "--out",
        str(tmp_path / "o"),
    )
    assert "--ray-address 10.0.0.1:6379 needs --executor ray" in line


def test_ray_address__malformed__refused_without_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, f"markets:\n  - name: A\n    prices: {BTC}\n    window: 300\n    test_days: 5\n")
    line = error_line(
        capsys, "--markets", str(path), "--ray-address", "headnode", "--out", str(tmp_path / "o")
    )
    assert "--ray-address 'headnode'" in line and "HOST:PORT" in line


def test_load_markets__defaults_merged_and_paths_resolved(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "btc.csv.gz").write_bytes(BTC.read_bytes())
    path = write(
        tmp_path,
        "defaults:\n  levels: [0.01, 0.025]\n  window: 400\n  ml: false\n"
        "markets:\n"
        "  - {name: BTC-A, asset: BTC, prices: data/btc.csv.gz, end: 2020-06-30}\n"
        "  - {name: BTC-B, prices: data/btc.csv.gz, window: 250, levels: [0.05]}\n",
    )
    plan = load_markets(path)
    a, b = plan.markets
    assert a.prices == b.prices == (tmp_path / "data" / "btc.csv.gz").resolve()
    assert (a.asset, a.settings.window, a.settings.levels, a.settings.end) == (
        "BTC",
        400,
        (0.01, 0.025),
        date(2020, 6, 30),
    )
    assert (b.asset, b.settings.window, b.settings.levels, b.settings.end) == ("BTC-B", 250, (0.05,), None)
    assert a.settings.ml is False and b.settings.ml is False and a.settings.test_days == 800
    assert plan.n_tasks == 3


def test_load_markets__error_names_origin_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, f"markets:\n  - name: A\n    prices: {BTC}\n  - name: B\n    prices: {BTC}\n    sims: -1\n"
    )
    with pytest.raises(ConfigError) as err:
        load_markets(path)
    assert str(err.value) == f"{path}:6: markets.1.sims = -1: Input should be greater than or equal to 0"


def test_markets_file__ml_retrain_every__reaches_the_backtest_ml_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The single-market command's default (DEFAULT_RETRAIN_EVERY) unless the file sets its own."""
    path = write(
        tmp_path,
        "defaults:\n  window: 300\n  test_days: 5\nmarkets:\n"
        f"  - {{name: A, prices: {BTC}}}\n  - {{name: B, prices: {BTC}, ml_retrain_every: 30}}\n"
        f"  - {{name: C, prices: {BTC}, ml_retrain_every: 0}}\n  - {{name: D, prices: {BTC}, ml: false}}\n",
    )
    seen: dict[str, object] = {}

    def fake_run_backtest(*args: object, ml: object = None, **_: object) -> None:
        seen[str(args[1])] = ml
        raise ModelError("stop after recording the options")

    monkeypatch.setattr(backtests, "run_backtest", fake_run_backtest)
    for task in backtests.tasks_for(load_markets(path)):
        assert backtests.backtest_task(task, None).error == "stop after recording the options"  # type: ignore[arg-type]
    retrain = {m: getattr(ml, "retrain_every", None) for m, ml in seen.items()}
    assert retrain == {"A": DEFAULT_RETRAIN_EVERY, "B": 30, "C": 0, "D": None}
    assert DEFAULT_RETRAIN_EVERY == 90
