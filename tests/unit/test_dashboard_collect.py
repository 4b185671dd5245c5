"""StateBuilder over a real node store and metrics registry, with the node's chain snapshot and the
oracle's accepted rounds given: every panel's values come from where the node keeps them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from oracle_node.chain.view import ChainSnapshot
from oracle_node.explain.record import SCHEMA
from oracle_node.network.schedule import RoundClock
from oracle_node.network.settings import PeerConfig
from oracle_node.network.surface_round import SURFACE, report_to_json
from oracle_node.options.onchain import Shocks, SmileWord, SurfaceReport, pack_underlying_word, underlying_id
from oracle_node.service.dashboard.collect import DashboardSources, StateBuilder
from oracle_node.service.dashboard.state import AcceptedRound
from oracle_node.service.metrics import NodeMetrics
from oracle_node.store import BoundInputs, NodeStore
from oracle_node.types import RISK_FIELDS, FieldBounds, MarketState, OnchainBounds, RiskParamsBps

ME, PEER, GONE = (
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
)
MODEL = b"\x11" * 32
STORED = RiskParamsBps(5000, 300, 400, 1000, 700, 8000, 4000, 7000)
WANTED = RiskParamsBps(5200, 310, 410, 2000, 700, 8000, 4000, 7100)  # IM doubles: beyond a +50 % step
SIGNED = RiskParamsBps(5200, 310, 410, 1500, 700, 8000, 4000, 7100)


def _snapshot() -> ChainSnapshot:
    fields = [FieldBounds(0, 10_000, 5000) for _ in RISK_FIELDS]
    bounds = OnchainBounds(tuple(fields), relative_mask=0b11111)
    state = MarketState(STORED, 1_000, 6, 0, True, False, False, 1_001)
    return ChainSnapshot((ME, PEER, GONE), 2, 1, False, frozenset({MODEL}), {"BTC-USD": state},
                         {"BTC-USD": bounds}, "0x" + "c" * 40, 1_005.0, 1_004)  # fmt: skip


def _store(tmp_path: Path) -> NodeStore:
    store = NodeStore.open(tmp_path / "node.sqlite")
    peer_obs = {"round": 6, "observedAt": 1_000, "markets": ["BTC-USD"], "params": [str(SIGNED.pack())],
                "signer": PEER, "signature": "0x"}  # fmt: skip
    store.save_report(6, b"\x01" * 32, {"round": 6, "report": {}, "observations": [peer_obs]})
    record = {"schema": SCHEMA, "branch": "ml", "ml": {"method": "treeshap", "outputs": {
        "q_lo": {"contributions": {"ret_7d_rel": -0.02, "log_har_m": 0.015, "volume_z": 0.001}}}}}  # fmt: skip
    bound = BoundInputs(b"{}", {"BTC-USD": json.dumps(record).encode()})
    store.record_signature_intent(6, b"\x01" * 32, ME, bound=bound)
    smile = SmileWord(a=2_000_000, b=40_000_000, rho=-300_000_000, m=10_000_000, sigma=100_000_000,
                      forward=90_000_000_000, tau=30 * 86400)  # fmt: skip
    report = SurfaceReport(1, 7, 1_000, 1_060, MODEL, b"\x02" * 32, (underlying_id("BTC"),),
                           (pack_underlying_word(9_000_000_000_000, Shocks(1600, 5000, 2500), 1),), (smile.pack(),))  # fmt: skip
    store.save_report(7, b"\x03" * 32, {"kind": SURFACE, "round": 7, "report": report_to_json(report)})
    store.record_signature_intent(7, b"\x03" * 32, ME, purpose=SURFACE)
    return store


def test_state_builder__store_metrics_snapshot_and_events__every_panel_from_its_source(
    tmp_path: Path,
) -> None:
    outcome = SimpleNamespace(
        risk=SimpleNamespace(params=WANTED), flags=frozenset({"model_disagreement"}), error=None
    )
    observer = SimpleNamespace(
        model_hash=MODEL, breakers={}, bounds=SimpleNamespace(view=SimpleNamespace(latest=_snapshot())),
        rounds={4: SimpleNamespace(round=4, outcomes={"BTC-USD": outcome}, signed={"BTC-USD": SIGNED}),
                7: SimpleNamespace(round=7, outcomes={"BTC-USD": outcome}, signed={"BTC-USD": SIGNED})},
    )  # fmt: skip
    node = SimpleNamespace(
        signer=SimpleNamespace(address=ME), clock=RoundClock(0.0, 10.0, 5.0), peers=[object()],
        settings=SimpleNamespace(peers=[PeerConfig(address=PEER, url="http://127.0.0.1:9471")]),
    )  # fmt: skip
    metrics = NodeMetrics(["BTC-USD"])
    metrics.drift_flag.labels(market="BTC-USD").set(1)
    metrics.rounds_led.labels(status="included").inc(3)
    metrics.rounds_led.labels(status="no_quorum").inc()
    store = _store(tmp_path)
    src = DashboardSources("n0", observer, node, store, None, metrics)  # type: ignore[arg-type]
    builder = StateBuilder(src, clock=lambda: 1_010.0)
    accepted = [AcceptedRound(5, 1, 0b011, 50, 51, "0x" + "a" * 64, PEER, 61_000),
                AcceptedRound(6, 1, 0b011, 60, 61, "0x" + "b" * 64, ME, 62_000)]  # fmt: skip
    builder.chain_rounds = SimpleNamespace(read=lambda: (accepted, [5, 6]))  # type: ignore[assignment]

    state = json.loads(json.dumps(builder.build()))
    store.close()

    assert state["node"] == {
        "name": "n0",
        "signer": ME,
        "now": 1010.0,
        "round_now": 101,
        "period_s": 10.0,
        "peers": 1,
    }
    assert state["model"] == {"hash": "0x" + MODEL.hex(), "allowed": True}
    (btc,) = state["markets"]
    im = next(f for f in btc["fields"] if f["field"] == "initial_margin")
    assert (im["onchain"], im["wanted"], im["signed"], im["step_bp"], im["held_back"]) == (
        1000,
        2000,
        1500,
        500,
        True,
    )
    assert btc["round"] == 6 and btc["computed_round"] == 7 and btc["confidence"] == 0.71
    near = [f"near_floor:{f}" for f in ("es99", "initial_margin", "maintenance_margin", "var99")]  # <= 10 %
    assert btc["flags"] == ["bounded_by_dao", "drift", "model_disagreement", *near]
    assert btc["drivers"]["round"] == 6
    assert [d["feature"] for d in btc["drivers"]["outputs"]["q_lo"]] == [
        "ret_7d_rel",
        "log_har_m",
        "volume_z",
    ]
    rounds = state["rounds"]
    assert [r["round"] for r in rounds["recent"]] == [6, 5]
    assert rounds["recent"][0]["leader_is_me"] and rounds["recent"][0]["signer_count"] == 2
    assert rounds["recent"][0]["block_latency_s"] == 1.0  # block 61 - slot 60
    assert rounds["led"]["included"] == 3 and rounds["misses"] == 1
    assert rounds["missed_rounds"] == [4]  # due, never accepted, round 6 accepted after it
    peers = {p["address"]: p for p in state["peers"]}
    assert peers[PEER]["health"] == "ok" and peers[PEER]["url"] == "http://127.0.0.1:9471"
    assert peers[PEER]["last_observation"]["markets"]["BTC-USD"]["initial_margin"] == 1500
    assert peers[ME]["me"] and peers[GONE]["health"] == "silent"
    smiles = state["smiles"]
    assert smiles["round"] == 7 and smiles["underlyings"][0]["underlying"] == "BTC"
    (expiry,) = smiles["underlyings"][0]["expiries"]
    assert expiry["tau_days"] == 30.0 and 0.1 < expiry["atm_vol"] < 1.0


def test_state_builder__no_metrics__led_counts_unknown_not_zero(tmp_path: Path) -> None:
    observer = SimpleNamespace(model_hash=b"\x22" * 32, breakers={}, rounds={},
                               bounds=SimpleNamespace(view=SimpleNamespace(latest=_snapshot())))  # fmt: skip
    node = SimpleNamespace(signer=SimpleNamespace(address=ME), clock=RoundClock(0.0, 10.0, 5.0), peers=[],
                           settings=SimpleNamespace(peers=[]))  # fmt: skip
    with NodeStore.open(tmp_path / "s.sqlite") as store:
        builder = StateBuilder(DashboardSources("n", observer, node, store, None))  # type: ignore[arg-type]
        builder.chain_rounds = SimpleNamespace(read=lambda: ([], []))  # type: ignore[assignment]
        state = builder.build()
    assert state["rounds"]["led"] is None and state["rounds"]["misses"] is None
    assert state["model"]["allowed"] is False and state["smiles"] is None
    assert state["markets"][0]["drivers"] is None and state["markets"][0]["confidence"] is None
