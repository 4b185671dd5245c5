"""Attributions verified on anvil: a single operator (k = 1) replays six real hours around the
2020-03-12 crash and publishes; for every accepted report the test rebuilds the hash chain from the
node's store alone plus the report's calldata and matches the inputsHash in the RiskReportAccepted log:

    attribution record (store) --keccak--> the inputs document's "attribution" field (store)
    inputs document --keccak--> the observation's inputsHash
    RiskObservation(round, observedAt, modelHash, inputsHash, markets, params) --EIP-712--> digest
    keccak(digest) (one observation, network/median.py) == the report's inputsHash (event)

A record altered by one character breaks the chain; `oracle-node explain` reads the same store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from oracle_node import cli
from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.config import NodeConfig
from oracle_node.explain.record import parse
from oracle_node.network.observation import Domain, observation_digest
from oracle_node.reports.inputs import attribution_hashes
from oracle_node.service.wiring import build_network
from oracle_node.store import NodeStore
from oracle_node.types import market_id_bytes32

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
CRASH_START = 1583971200.0  # 2020-03-12 00:00 UTC
SIGNER = Account.from_key(ANVIL_KEYS[1])


@pytest.fixture(scope="module")
def published(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str, NodeConfig, Path]:
    """Deploy (k = 1), run the node over 2020-03-12 06:00..12:00, return (w3, oracle, config, yaml)."""
    w3 = make_web3(anvil.url)
    base = load_deploy_config()
    cfg = base.model_copy(
        update={"signers": (1,), "threshold": 1, "max_report_age": 3600,
                "profiles": tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles)}
    )  # fmt: skip
    deployment = deploy_stack(w3, Account.from_key(ANVIL_KEYS[0]), cfg)
    tmp = tmp_path_factory.mktemp("attr")
    lines = TICKS.read_text().splitlines()
    keep = [
        x for x in lines[1:] if CRASH_START + 6 * 3600 <= float(x.split(",")[0]) < CRASH_START + 12 * 3600
    ]
    (tmp / "ticks.csv").write_text("\n".join([lines[0], *keep]) + "\n")
    (tmp / "key.json").write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "s3cret")))
    (tmp / "pw").write_text("s3cret\n")
    settings = {
        "chain": {"rpc_url": anvil.url, "chain_id": 31337, "oracle_address": deployment.oracle},
        "signer": {"keystore": str(tmp / "key.json"), "password_file": str(tmp / "pw")},
        "markets": [{"id": "BTC-USD", "history": "bundled:binance_btcusdt_spot_1h"},
                    {"id": "ETH-USD", "history": "bundled:binance_ethusdt_spot_1h"}],
        "service": {"store_path": str(tmp / "node.sqlite"), "replay_ticks": str(tmp / "ticks.csv"),
                    "replay_speed": 3600.0, "tick_interval_s": 1.0, "cycle_timeout_s": 0.9},
    }  # fmt: skip
    node_cfg = NodeConfig(**settings)
    run, _, _ = build_network(node_cfg, {})

    async def scenario() -> None:
        await run.node.start(join_current=True)
        await asyncio.wait_for(run.node.run(run.last_round), 180)
        await run.node.stop()

    try:
        asyncio.run(scenario())
    finally:
        for close in run.closers:
            close()
        run.store.close()
    yaml_path = tmp / "node.yaml"
    yaml_path.write_text(json.dumps(settings))  # JSON is YAML
    return w3, deployment.oracle, node_cfg, yaml_path


def _accepted(w3: Any, oracle: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(RiskReportAccepted args, the submitted report struct) of every accepted report."""
    contract = RiskOracle(w3, oracle).contract
    out = []
    for event in contract.events.RiskReportAccepted.get_logs(from_block=0):
        tx = w3.eth.get_transaction(event["transactionHash"])
        _, call = contract.decode_function_input(tx["input"])
        out.append((dict(event["args"]), dict(call["report"])))
    return out


def _report_inputs_hash(
    store: NodeStore, domain: Domain, report: dict[str, Any], records: dict[str, bytes]
) -> bytes:
    """The report's inputsHash recomputed from stored records, the stored document's other fields, and
    the report's own round, observedAt, modelHash, markets and params."""
    round_ = int(report["round"])
    bound = store.bound_inputs(round_)
    assert bound is not None, f"round {round_}: no inputs document in the store"
    entries = json.loads(bound.document)
    for e in entries:
        e["attribution"] = "0x" + keccak(records[e["market"]]).hex()
    document = json.dumps(entries, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    markets = tuple(e["market"] for e in entries)
    assert [market_id_bytes32(m) for m in markets] == list(report["marketIds"])
    digest = observation_digest(
        domain, round_, int(report["observedAt"]), report["modelHash"], keccak(document), markets,
        tuple(int(p) for p in report["params"]),
    )  # fmt: skip
    return keccak(digest)


def test_attributions__every_published_report__hash_chain_from_the_store_matches_the_event(published) -> None:  # type: ignore[no-untyped-def]
    w3, oracle, node_cfg, _ = published
    accepted = _accepted(w3, oracle)
    assert len(accepted) >= 5, f"{len(accepted)} reports accepted over six replayed hours"
    domain = Domain(31337, oracle)
    branches, with_shap = set(), 0
    with NodeStore.open(node_cfg.service.store_path) as store:
        for event, report in accepted:
            round_ = int(event["round"])
            bound = store.bound_inputs(round_)
            assert bound is not None and event["inputsHash"] == report["inputsHash"]
            records = {}
            for market, hashed in attribution_hashes(bound.document).items():
                row = store.attribution(round_, market)
                assert (
                    row is not None and "0x" + keccak(row.record.encode()).hex() == hashed == row.record_hash
                )
                records[market] = row.record.encode()
                doc = parse(records[market])
                branches.add(doc["branch"])
                with_shap += doc["ml"] is not None and doc["ml"]["outputs"] is not None
                if doc["ml"] is not None and doc["fields"]["sigma_1d"]["branch"] == "ml":
                    assert doc["ml"]["explains_published"] is True  # the served quantiles, partial days too
                assert doc["market"] == market and doc["model_hash"] == "0x" + event["modelHash"].hex()
            assert set(records) == {e["market"] for e in json.loads(bound.document)}  # every market bound
            assert _report_inputs_hash(store, domain, report, records) == event["inputsHash"]
            observation = store.signature(round_, SIGNER.address, "observation")
            assert (
                observation is not None
                and keccak(bytes.fromhex(observation.digest[2:])) == event["inputsHash"]
            )
    assert branches <= {"ml", "baseline_floor", "fallback_baseline", "mixed", "other"} and branches
    assert with_shap > 0, "no published record carries TreeSHAP contributions"


def test_attributions__one_character_of_a_record_altered__inputs_hash_no_longer_matches(published) -> None:  # type: ignore[no-untyped-def]
    w3, oracle, node_cfg, _ = published
    event, report = _accepted(w3, oracle)[-1]
    round_ = int(event["round"])
    with NodeStore.open(node_cfg.service.store_path) as store:
        bound = store.bound_inputs(round_)
        assert bound is not None
        records = {
            m: store.attribution(round_, m).record.encode() for m in attribution_hashes(bound.document)
        }  # type: ignore[union-attr]
        domain = Domain(31337, oracle)
        assert _report_inputs_hash(store, domain, report, records) == event["inputsHash"]
        market = sorted(records)[0]
        doc = json.loads(records[market])
        doc["fields"]["var99"]["published"] = doc["fields"]["var99"]["published"][:-1] + (
            "1" if doc["fields"]["var99"]["published"][-1] != "1" else "2"
        )
        tampered = {**records, market: json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()}
        assert _report_inputs_hash(store, domain, report, tampered) != event["inputsHash"]


def test_explain_cli__published_round__prints_verified_top_drivers(
    published, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    w3, oracle, _, yaml_path = published
    event, _ = _accepted(w3, oracle)[-1]
    args = ["explain", "--config", str(yaml_path), "--market", "BTC-USD", "--round", str(event["round"])]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"BTC-USD round {event['round']}: data 2020-03-12")
    assert ": verified" in out and "published values set by" in out
