"""`oracle-node explain`: a stored record's top drivers and branch; one error line and exit 2 for a
missing store, an unknown market or round, never a traceback; an altered record is reported unbound."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from eth_utils import keccak

from oracle_node import cli
from oracle_node.explain.attribute import Attributor
from oracle_node.explain.record import parse, top_drivers
from oracle_node.models.ensemble import RiskModel
from oracle_node.reports.inputs import MarketInputs, canonical_inputs
from oracle_node.sources.history import load_history
from oracle_node.store import BoundInputs, NodeStore

CRASH_DAY = 1583971200.0 + 86400


@pytest.fixture(autouse=True)
def _no_oracle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("ORACLE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def record() -> bytes:
    model = RiskModel.load()
    btc = load_history("BTC-USD", "bundled:binance_btcusdt_spot_1h", until_ts=CRASH_DAY)
    return Attributor(model).records([btc], model.forecast_many([btc]))["BTC-USD"]


def _config(tmp_path: Path, store: Path) -> Path:
    path = tmp_path / "node.yaml"
    path.write_text(
        "chain: {rpc_url: 'http://127.0.0.1:8545', chain_id: 31337}\n"
        f"service: {{store_path: '{store}'}}\n"
        "markets: [{id: BTC-USD}]\n"
    )
    return path


def _store_with(path: Path, round_: int, record: bytes) -> None:
    entry = MarketInputs("BTC-USD", 4900.0, (("binance_spot", CRASH_DAY, 4900.0),), keccak(record))
    bound = BoundInputs(canonical_inputs([entry]), {"BTC-USD": record})
    with NodeStore.open(path) as store:
        store.sign_once(
            round_, keccak(b"obs%d" % round_), "0xabc", lambda d: b"\x01" * 65, "observation", bound
        )


def test_explain__stored_round__prints_branch_fields_and_top_drivers(
    tmp_path: Path, record: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "node.sqlite"
    _store_with(store, 41, record)
    _store_with(store, 42, record)
    assert (
        cli.main(["explain", "--config", str(_config(tmp_path, store)), "--market", "BTC-USD", "--top", "2"])
        == 0
    )
    out = capsys.readouterr().out
    doc = parse(record)
    assert out.startswith("BTC-USD round 42: data 2020-03-13 00:00 UTC, model qgbm_har_v1")
    assert f"record 0x{keccak(record).hex()} in this node's inputs document" in out and ": verified" in out
    best = top_drivers(doc, "q_lo", 2)
    assert [line.split()[0] for line in out.splitlines() if line.startswith("  ") and "%" in line][:2] == [
        d.feature for d in best
    ]
    for field in ("sigma_1d", "var99", "es99_short"):
        assert f"  {field} " in out and doc["fields"][field]["branch"] in out


def test_explain__altered_record__reported_not_bound(
    tmp_path: Path, record: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "node.sqlite"
    _store_with(store, 7, record)
    doc = json.loads(record)
    doc["fields"]["var99"]["branch"] = "ml" if doc["fields"]["var99"]["branch"] != "ml" else "baseline_floor"
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE attributions SET record = ? WHERE round = 7", (json.dumps(doc),))
    config = str(_config(tmp_path, store))
    assert cli.main(["explain", "--config", config, "--market", "BTC-USD", "--round", "7"]) == 0
    assert "NOT bound (record or document altered?)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--market", "BTC-USD"], "no node store there"),
        (["--market", "DOGE-USD"], "field 'market' value 'DOGE-USD': no attribution record for this market"),
        (
            ["--market", "BTC-USD", "--round", "99"],
            "field 'round' value 99: no BTC-USD record in this round (latest: 3)",
        ),
    ],
)
def test_explain__bad_input__one_error_line_exit_2(
    tmp_path: Path, record: bytes, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    store = tmp_path / "node.sqlite"
    if message != "no node store there":
        _store_with(store, 3, record)
    assert cli.main(["explain", "--config", str(_config(tmp_path, store)), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("oracle-node explain: ") and message in err
    assert message != "no node store there" or not store.exists()  # explain never creates a store


def test_explain__top_not_positive__usage_error_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["explain", "--config", "x.yaml", "--market", "BTC-USD", "--top", "0"])
    assert exc.value.code == 2 and "'0' is not a positive integer" in capsys.readouterr().err
