"""The served model as a walk-forward family (`served`): no look-ahead with retrains inside the walk,
forecasts equal to what the node's RiskModel publishes from the written model directory, and the
alpha it cannot serve refused."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from oracle_node.cli import main
from oracle_node.errors import ConfigError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ensemble import RiskModel
from oracle_node.research.backtest.engine import FAMILIES, WalkForwardConfig
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import run_backtest
from oracle_node.research.backtest.served import cut_day, served_preparer

BTC = "prices/btc_usd_daily_2015_2026.csv"


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketHistory:
    h = load_prices(shared_data / BTC, "BTC-USD")
    n = 900
    assert h.volume is not None
    return replace(h, ts=h.ts[-n:], close=h.close[-n:], volume=h.volume[-n:])


def _walk(
    h: MarketHistory, cfg: WalkForwardConfig, days: int, out: Path, retrain_every: int
) -> list[tuple[float, float]]:
    r = np.diff(np.log(h.close))
    served_preparer(None, None, retrain_every)(h, r.size, cfg, out)
    fam = FAMILIES["served"](cfg)
    start = r.size - cfg.walk_days
    out_fc = []
    for t in range(start, start + days):
        (fc,) = fam.forecast(r[:t], True, np.random.default_rng(0))
        out_fc.append((fc.var, fc.es))
    assert fam.stats["fits"] == 1 + (days - 1) // retrain_every
    return out_fc


def test_served__retrained_inside_the_walk__future_poisoned__identical_up_to_t(
    btc: MarketHistory, tmp_path: Path
) -> None:
    cfg = WalkForwardConfig(0.01, 300, 10, sims=0)
    n_ret = btc.close.size - 1
    t = n_ret - cfg.walk_days + 8  # retrains on walked days 4 and 8; day 8 reads returns[:t]
    rng = np.random.default_rng(3)
    close, volume = btc.close.copy(), btc.volume.copy()  # type: ignore[union-attr]
    close[t + 1 :] *= np.exp(np.cumsum(rng.normal(0.0, 0.2, close.size - t - 1)))  # returns >= t change
    volume[t + 1 :] *= 50.0
    poisoned = replace(btc, close=close, volume=volume)
    clean = _walk(btc, cfg, 10, tmp_path / "clean", 4)
    bad = _walk(poisoned, cfg, 10, tmp_path / "bad", 4)
    assert clean[:9] == bad[:9]  # models trained on rows before their day, forecasts from data to t
    assert clean[9] != bad[9]  # the poison reaches day t + 1 (the check can fail)
    assert all(es >= var > 0 for var, es in clean)
    # three model directories, named by the day their training rows end, as the node would load them
    assert sorted(p.name for p in (tmp_path / "clean" / "served").iterdir()) == sorted(
        cut_day(btc, n_ret - cfg.walk_days + k) for k in (0, 4, 8)
    )


def test_served__forecast__equals_the_nodes_risk_model_on_the_written_directory(
    btc: MarketHistory, tmp_path: Path
) -> None:
    cfg = WalkForwardConfig(0.01, 300, 3, sims=0)
    r = np.diff(np.log(btc.close))
    done = served_preparer(None, None, 0)(btc, r.size, cfg, tmp_path)
    start = r.size - cfg.walk_days
    node = RiskModel.load(tmp_path / "served" / cut_day(btc, start))  # verifies every artifact hash
    assert done.meta["manifest_hash"] == "0x" + node.model_hash.hex()
    fam = FAMILIES["served"](cfg)
    for t in range(start, start + 3):
        (fc,) = fam.forecast(r[:t], True, np.random.default_rng(0))
        published = node.forecast(btc.until(float(btc.ts[t])))
        assert fc.var == -math.log1p(-published.var99) and fc.es == -math.log1p(-published.es99)


def test_served__alpha_it_does_not_publish__config_error(btc: MarketHistory, tmp_path: Path) -> None:
    cfg = WalkForwardConfig(0.025, 300, 3, sims=0)
    with pytest.raises(
        ConfigError, match=r"--served: the served model publishes VaR at 0.01 only, not alpha 0.025"
    ):
        served_preparer(None, None)(btc, btc.close.size - 1, cfg, tmp_path)


def test_cli_backtest__served_at_2_5_percent__refused_before_training(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    argv = ["backtest", "--prices", str(shared_data / BTC), "--asset", "BTC-USD", "--alpha", "0.025",
            "--served", "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "oracle-node backtest: error: --served: the served model publishes VaR at 0.01 only, not alpha 0.025"
    ]
    assert not out.exists()  # refused before anything was trained or written


def test_run_backtest__served_preparer__scored_and_described(shared_data: Path, tmp_path: Path) -> None:
    res = run_backtest(
        shared_data / BTC, "BTC-USD", 0.01, 300, 20, 10, tmp_path, sims=50, end="2020-01-31",
        preparers=[served_preparer(None, shared_data / BTC, 0)],
    )  # fmt: skip
    assert "served" in res.metrics and res.metrics["served"]["expected"] == pytest.approx(0.2)
    # no simulated draws: no Acerbi-Szekely p-value (not one computed from unset memory)
    assert (
        res.metrics["served"]["acerbi_szekely_p"] is None
        and res.metrics["hs"]["acerbi_szekely_p"] is not None
    )
    run = json.loads((tmp_path / "metrics.json").read_text())["run"]
    assert run["served"]["first_cut"] == "2020-01-12" and run["served"]["manifest_hash"].startswith("0x")
    assert "served" in run["ml_models"]
