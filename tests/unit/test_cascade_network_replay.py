"""Contagion network / DebtRank by hand, the add-on fit without look-ahead, the replay command."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from oracle_node.cli import main
from oracle_node.research.cascade.addon_fit import fit_artifact
from oracle_node.research.cascade.data import REQUIRED, LiquidationEvents, read_liquidation_usd
from oracle_node.research.cascade.network import Network, debtrank
from oracle_node.research.cascade.replay import Hour, pre_empted
from oracle_node.research.cascade.synthetic import write_hourly_prices, write_liquidations


def _events(rows: list[tuple[str, str, float]]) -> LiquidationEvents:
    n = len(rows)
    return LiquidationEvents("x", np.arange(n, dtype=float), np.array([r[2] for r in rows]),
                             np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))  # fmt: skip


def test_debtrank__by_hand__direct_and_second_round() -> None:
    # WETH backs 60 of USDC debt and 20 of DAI; DAI backs 20 of WETH debt (a second round).
    net = Network.from_events(_events([("WETH", "USDC", 60.0), ("WETH", "DAI", 20.0), ("DAI", "WETH", 20.0)]))
    assert net.assets == ("DAI", "USDC", "WETH")
    v = net.value  # (out + in) / (2 x 100): DAI 0.2, USDC 0.3, WETH 0.5
    assert v == pytest.approx([0.2, 0.3, 0.5])
    # X = 0.5: WETH h 0.5; step 1: USDC += 1.0 x 0.5, DAI += 1.0 x 0.5 (WETH backs all of each);
    # step 2: DAI passes 0.5 x 1.0 to WETH (DAI backs all WETH debt): WETH min(1, 1.0)
    assert debtrank(net, "WETH", 0.5, steps=1) == pytest.approx(0.5 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5)
    assert debtrank(net, "WETH", 0.5) == pytest.approx(0.5 * 1.0 + 0.3 * 0.5 + 0.2 * 0.5)
    # USDC is no collateral: its fall impairs nothing else
    assert debtrank(net, "USDC", 0.5) == pytest.approx(0.3 * 0.5)


def test_pre_empted__by_hand() -> None:
    def h(k: int, gap: int, usd: float) -> Hour:
        return Hour("ETH-USD", k * 3600.0, 1.0, 0.2, gap, 7000 - gap, 7000 - gap, 7000, usd, "full")

    hours = [h(0, 0, 5.0), h(1, 150, 7.0), h(2, 150, 11.0), h(3, 150, 13.0), h(4, 50, 17.0)]
    r = pre_empted(hours, _events([]), "ETH-USD", gap_bp=100, lead_hours=2)
    assert r["usd_total"] == 53.0 and r["usd_pre_empted"] == 24.0 and r["hours_lowered"] == 2


def _inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    first = datetime(2020, 11, 1, tzinfo=UTC).timestamp()
    eth, btc, liq = tmp_path / "eth.csv", tmp_path / "btc.csv", tmp_path / "liq.csv"
    write_hourly_prices(eth, first, 24 * 165, seed=1)
    write_hourly_prices(btc, first, 24 * 165, seed=2, start_price=30000.0)
    write_liquidations(liq, 110, seed=3)  # 2021-01-01 .. 2021-04-20
    return eth, btc, liq


def test_fit_artifact__events_after_the_cut_never_read(tmp_path: Path) -> None:
    eth, btc, liq = _inputs(tmp_path)
    prices = {"ETH": eth, "BTC": btc}
    base, _ = fit_artifact(prices, read_liquidation_usd(liq), "2021-03-01", "2021-03-25")
    with liq.open("a", newline="") as fh:  # huge WETH liquidations after the cut
        w = csv.writer(fh)
        for k in range(300):
            ts = int(datetime(2021, 3, 26, tzinfo=UTC).timestamp()) + 600 * k
            w.writerow([ts, "WETH", "USDC", "1e6", "2e9", "", "1.0", "2000.0", "1e6"])
    after, _ = fit_artifact(prices, read_liquidation_usd(liq), "2021-03-01", "2021-03-25")
    assert after == base
    later, _ = fit_artifact(prices, read_liquidation_usd(liq), "2021-03-01", "2021-04-01")
    assert later["models"] != base["models"]  # the same poison inside the span moves the fit


def test_cli_replay__end_to_end__metrics_from_hours(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    eth, btc, liq = _inputs(tmp_path)
    out = tmp_path / "out"
    args = ["cascade", "replay", "--liquidations", str(liq), "--eth-prices", str(eth), "--btc-prices", str(btc),
            "--from", "2021-02-10", "--to", "2021-02-12", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = list(csv.DictReader((out / "hours.csv").open()))
    eth_rows = [r for r in rows if r["market"] == "ETH-USD"]
    assert len(eth_rows) == metrics["ETH-USD"]["rounds"] >= 40
    assert metrics["ETH-USD"]["estimate"]["usd_total"] == pytest.approx(
        sum(float(r["liq_usd"]) for r in eth_rows), abs=0.01
    )
    for r in eth_rows:
        assert int(r["lt_dynamic"]) <= int(r["lt_static"]) and 5000 <= int(r["lt_dynamic"]) <= 9000
    page = (out / "report.html").read_text()
    assert metrics["ETH-USD"]["models"] == ["full"] and page.count('src="data:image/png;base64,') == 2


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"--liquidations": "missing.csv"}, "--liquidations"),
        ({"--from": "2021-13-01"}, "--from"),
        ({"--to": "2021-01-01"}, "--to"),
    ],
)
def test_cli_replay__bad_input__one_line_exit_2(tmp_path: Path, capsys, change, needle) -> None:  # type: ignore[no-untyped-def]
    eth, btc, liq = tmp_path / "e.csv", tmp_path / "b.csv", tmp_path / "l.csv"
    for p in (eth, btc):
        p.write_text("x\n")
    liq.write_text(",".join(REQUIRED) + "\n")
    opts = {"--liquidations": str(liq), "--eth-prices": str(eth), "--btc-prices": str(btc),
            "--from": "2021-05-17", "--to": "2021-05-24", "--out": str(tmp_path / "o")} | change  # fmt: skip
    assert main(["cascade", "replay", *[x for kv in opts.items() for x in kv]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--cut", "2020-06-01", "--val-start", "2020-05-01"], "--cut"),
        (["--val-start", "2021-06-01"], "--val-start"),
    ],
)
def test_cli_fit_addon__bad_spans__one_line_exit_2(tmp_path: Path, capsys, extra, needle) -> None:  # type: ignore[no-untyped-def]
    eth, btc, liq = _inputs(tmp_path)
    args = ["cascade", "fit-addon", "--liquidations", str(liq), "--eth-prices", str(eth), "--btc-prices", str(btc),
            "--artifact", str(tmp_path / "a.json"), "--out", str(tmp_path / "o"), *extra]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and not (tmp_path / "a.json").exists()
