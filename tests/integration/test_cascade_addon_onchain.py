"""The cascade add-on respects the DAO's bounds on anvil (issue 13).

Scenario: BTC-USD deployed with a tight LT profile (floor 5000, ceiling 9500, at most 200 bp per
update: less than the add-on's cap of 500 bp), one operator (k = 1) replays 2020-03-12 07:00..14:00
UTC (the bundled crash ticks, one hour per round) with `cascade.enabled` and no liquidation feed (the
price-only model). Nothing is forced: the crash itself drives p_cascade from 0.25 to 0.96 and the
add-on from ~300 bp to its 500 bp cap at 11:00, while MM jumps too, so the wanted LT falls by far more
than 200 bp. The same replay on a second deployment with the add-on off is the control (its LT is
held back too from 11:00, by MM alone, and stays above the add-on run's). Measured, add-on on:
add-on 317, 430, 447, 475, 500 x 4 bp; wanted LT 6808, 6629, 6584, 6523, 4583, 4725, 4697, 4734;
accepted 6808, 6629, 6584, 6523, 6323, 6123, 5923, 5723 (off: 7125 .. 6998, then 6798 .. 6198).
On a loaded machine a round may miss its slot (as in the other replay tests): the assertions
pair what the chain accepted with the node's round of the same number, never a fixed sequence.

From the chain: every accepted LT is within [floor, ceiling] and moves by at most 200 bp; the node's
rounds and store: the add-on (outcome and attribution record) is the only difference between the two
runs' wanted LT, and what was signed and accepted is the wanted LT stepped by exactly the allowed
200 bp whenever it wanted more (held back by the DAO), with add-on rounds above 200 bp among them."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import FieldBoundsConfig, deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.config import NodeConfig
from oracle_node.explain.record import parse
from oracle_node.service.observer import NodeRound
from oracle_node.service.wiring import build_network
from oracle_node.store import NodeStore
from oracle_node.types import RISK_FIELDS, MarketState, market_id_bytes32

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
CRASH_START = 1583971200.0  # 2020-03-12 00:00 UTC
FIRST_HOUR, END_HOUR = 7, 15  # rounds observe 07:00 .. 14:00
MARKET = "BTC-USD"
LT_FLOOR, LT_CEILING, LT_STEP = 5000, 9500, 200
LT = RISK_FIELDS.index("liquidation_threshold")


@dataclass(frozen=True)
class Run:
    oracle: RiskOracle
    rounds: dict[int, NodeRound]
    store_path: Path


def _deploy(w3: Any) -> str:
    """The local stack, k = 1, with LT bounded to [5000, 9500] and 200 bp per update in every profile."""
    base = load_deploy_config()
    lt = FieldBoundsConfig(floor=LT_FLOOR, ceiling=LT_CEILING, max_change=LT_STEP)
    profiles = tuple(
        p.model_copy(update={"min_interval": 1, "fields": {**p.fields, "liquidation_threshold": lt}})
        for p in base.profiles
    )
    cfg = base.model_copy(
        update={"signers": (1,), "threshold": 1, "max_report_age": 3600, "profiles": profiles}
    )
    return deploy_stack(w3, Account.from_key(ANVIL_KEYS[0]), cfg).oracle


def _node_config(anvil: Anvil, oracle: str, tmp: Path, cascade: bool) -> NodeConfig:
    lines = TICKS.read_text().splitlines()
    lo, hi = CRASH_START + FIRST_HOUR * 3600, CRASH_START + END_HOUR * 3600
    keep = [x for x in lines[1:] if x.split(",")[1] == MARKET and lo <= float(x.split(",")[0]) < hi]
    (tmp / "ticks.csv").write_text("\n".join([lines[0], *keep]) + "\n")
    (tmp / "key.json").write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "s3cret")))
    (tmp / "pw").write_text("s3cret\n")
    return NodeConfig(
        chain={"rpc_url": anvil.url, "chain_id": 31337, "oracle_address": oracle},
        signer={"keystore": str(tmp / "key.json"), "password_file": str(tmp / "pw")},
        markets=[{"id": MARKET, "history": "bundled:binance_btcusdt_spot_1h", "cascade": {"enabled": cascade}}],
        service={"store_path": str(tmp / "node.sqlite"), "replay_ticks": str(tmp / "ticks.csv"),
                 "replay_speed": 3600.0, "tick_interval_s": 1.0, "cycle_timeout_s": 0.9},
    )  # fmt: skip


def _replay(anvil: Anvil, tmp: Path, cascade: bool) -> Run:
    w3 = make_web3(anvil.url)
    oracle = _deploy(w3)
    node_cfg = _node_config(anvil, oracle, tmp, cascade)
    run, _, _ = build_network(node_cfg, {})

    async def scenario() -> None:
        await run.node.start(join_current=True)
        await asyncio.wait_for(run.node.run(run.last_round), 120)
        await run.node.stop()

    try:
        asyncio.run(scenario())
    finally:
        for close in run.closers:
            close()
        run.store.close()
    return Run(RiskOracle(w3, oracle), run.observer.rounds, Path(node_cfg.service.store_path))


@pytest.fixture(scope="module")
def runs(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Run]:
    """The same replay with the add-on on (True) and off (False), each on its own deployment."""
    return {c: _replay(anvil, tmp_path_factory.mktemp(f"cascade_{c}"), c) for c in (True, False)}


def _accepted(run: Run) -> list[tuple[int, int]]:
    """(round, LT) of every accepted update of the market in chain order: the RiskParamsUpdated
    market word, whose round is that of the RiskReportAccepted event of the same transaction."""
    events = run.oracle.contract.events
    rounds = {
        e["transactionHash"]: e["args"]["round"] for e in events.RiskReportAccepted.get_logs(from_block=0)
    }
    out = []
    for e in events.RiskParamsUpdated.get_logs(from_block=0):
        if e["args"]["marketId"] == market_id_bytes32(MARKET):
            state = MarketState.decode(e["args"]["marketWord"])
            assert state.params is not None and state.round == rounds[e["transactionHash"]]
            out.append((state.round, state.params.liquidation_threshold))
    return out  # fmt: skip


def _wanted_lt(run: Run, round_: int) -> int:
    risk = run.rounds[round_].outcomes[MARKET].risk
    assert risk is not None
    return risk.params.liquidation_threshold


def _addon_bp(run: Run, round_: int) -> int:
    addon = run.rounds[round_].outcomes[MARKET].cascade
    assert addon is not None
    return addon.addon_bp


def test_cascade_onchain__tight_lt_profile__every_accepted_lt_within_floor_and_step(runs) -> None:  # type: ignore[no-untyped-def]
    for run in runs.values():
        bounds = run.oracle.get_market_bounds(MARKET).fields[LT]
        assert (bounds.floor, bounds.ceiling, bounds.max_change) == (LT_FLOOR, LT_CEILING, LT_STEP)
        accepted = _accepted(run)
        lts = [lt for _, lt in accepted]
        # one report per replayed hour; a round may miss its slot on a loaded machine (as elsewhere)
        assert len(accepted) >= END_HOUR - FIRST_HOUR - 2, accepted
        assert all(LT_FLOOR <= x <= LT_CEILING for x in lts), accepted
        assert all(abs(b - a) <= LT_STEP for a, b in itertools.pairwise(lts)), accepted
        assert all(run.rounds[r].signed[MARKET].liquidation_threshold == lt for r, lt in accepted)
        assert run.oracle.get_risk_params(MARKET).params.liquidation_threshold == lts[-1]


def test_cascade_onchain__addon_above_max_change__lt_steps_by_exactly_the_allowed_200_bp(runs) -> None:  # type: ignore[no-untyped-def]
    on = runs[True]
    accepted = _accepted(on)
    held_with_big_addon = 0
    for (_, prev), (r, lt) in itertools.pairwise(accepted):
        wanted = _wanted_lt(on, r)
        # the projection: the wanted LT within [floor, ceiling] and one step of the stored LT
        assert lt == min(max(wanted, prev - LT_STEP, LT_FLOOR), prev + LT_STEP, LT_CEILING), (r, accepted)
        if _addon_bp(on, r) > LT_STEP and wanted < prev - LT_STEP:
            assert lt == prev - LT_STEP  # held back by the DAO: exactly one allowed step towards it
            held_with_big_addon += 1
    assert held_with_big_addon >= 2, accepted
    assert max(_addon_bp(on, r) for r in on.rounds) == 500  # the crash reaches the cap


def test_cascade_onchain__store_records__cascade_block_is_the_outcomes_addon(runs) -> None:  # type: ignore[no-untyped-def]
    with NodeStore.open(runs[True].store_path) as store:
        for r, _ in _accepted(runs[True]):
            row = store.attribution(r, MARKET)
            assert row is not None
            block = parse(row.record)["cascade"]
            assert block["addon_bp"] == str(_addon_bp(runs[True], r)) and block["model"] == "price_only"
            assert block["flags"] == ["cascade_no_liquidation_feed"] and block["collateral"] == "WBTC"
    with NodeStore.open(runs[False].store_path) as store:
        rows = [store.attribution(r, MARKET) for r, _ in _accepted(runs[False])]
        assert rows and all(x is not None and "cascade" not in parse(x.record) for x in rows)


def test_cascade_onchain__addon_disabled__wanted_and_published_lt_higher(runs) -> None:  # type: ignore[no-untyped-def]
    on, off = runs[True], runs[False]
    hour = {c: {r: nr.data_time for r, nr in runs[c].rounds.items()} for c in runs}  # round -> data time
    wanted_off = {hour[False][r]: _wanted_lt(off, r) for r in off.rounds}
    common = [r for r in on.rounds if hour[True][r] in wanted_off]
    assert len(common) >= END_HOUR - FIRST_HOUR - 2, (hour, wanted_off)
    for r in common:  # the add-on is the whole difference between the two runs' wanted LT
        assert wanted_off[hour[True][r]] == _wanted_lt(on, r) + _addon_bp(on, r), r
    published_on = {hour[True][r]: lt for r, lt in _accepted(on)}
    published_off = {hour[False][r]: lt for r, lt in _accepted(off)}
    both = published_on.keys() & published_off.keys()
    assert len(both) >= END_HOUR - FIRST_HOUR - 4, (published_on, published_off)
    assert all(published_off[t] > published_on[t] for t in both), (published_on, published_off)
    assert _accepted(off)[-1][1] > _accepted(on)[-1][1]
