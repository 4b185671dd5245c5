"""Surfaces through the oracle network on a real anvil: 5 nodes (k = 3) fit recorded Deribit chains,
the round's leader proposes its surfaces, followers co-sign what matches their own fit, and the
VolSurfaceOracle stores them; the options portfolio margin engine then margins a short put on them,
and refuses the same trade once the surface is older than its max age (closing stays possible).

Each node runs the production provider (service.surfaces.ChainReplay over two real snapshots, two
rounds per chain) and the production surface round (network.surface_round); risk observations are
"nothing due" so every round is a surface round. One node fits from a doctored chain (every quote's
implied vol 4 vol points higher): as leader it gets no honest co-signature and the round moves on.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import ContractReverted, ContractWrapper, TestUSD, TxResult
from oracle_node.chain.deploy import (
    SurfaceBoundsConfig,
    SurfaceOracleConfig,
    deploy_stack,
    load_deploy_config,
    resolve_account,
)
from oracle_node.chain.surface_oracle import VolSurfaceOracle
from oracle_node.network import Domain, LocalObservation, NetworkSettings
from oracle_node.network.chain_view import ContractSurfaceChain
from oracle_node.network.cluster import LocalCluster
from oracle_node.network.errors import NothingDue
from oracle_node.network.surface_round import refusal, without
from oracle_node.options import onchain
from oracle_node.options.build import fit_chain
from oracle_node.options.chain import read_chain
from oracle_node.service.surfaces import ChainReplay, ShockSizer, surface_model_hash
from oracle_node.store import NodeStore

pytestmark = pytest.mark.integration

# The same real chain twice: a compressed replay keeps expiry identities (one shift for the whole
# replay, service/surfaces.py), so chains weeks apart would list the union of their expiries, more
# than the oracle's 16; publishing one chain twice checks the second landing (higher round) as well.
SNAPSHOTS = ("deribit_options_snapshot_20260120T092708Z.csv",) * 2
BOUNDS = SurfaceBoundsConfig(
    atm_vol_floor=1000, atm_vol_ceiling=30000, atm_vol_max_change=0xFFFF, price_move_floor=500,
    price_move_ceiling=5000, vol_up_floor=500, vol_up_ceiling=20000, vol_down_floor=500,
    vol_down_ceiling=9000, min_interval=1,
)  # fmt: skip
UNDERLYINGS = (onchain.underlying_id("BTC"), onchain.underlying_id("ETH"))


async def no_risk(round_: int, slot_time: int) -> LocalObservation:
    raise NothingDue("surfaces only")


def doctored(src: Path, dst: Path, factor: float = 1.3) -> Path:
    """The chain with every option price (bid, ask, mark, mid) scaled by `factor`: vols several points up."""
    with src.open(newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    for row in rows:
        for col in ("bid_price", "ask_price", "mark_price", "mid_price"):
            if row[col] not in ("", "0", "0.0"):
                row[col] = repr(float(row[col]) * factor)
    with dst.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return dst


@pytest.fixture(scope="module")
def stack(anvil: Anvil) -> tuple[Web3, Domain, VolSurfaceOracle]:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
    config = load_deploy_config()
    models = (*config.models, "0x" + surface_model_hash().hex())
    surface = SurfaceOracleConfig(max_report_age=600, underlyings={"BTC": BOUNDS, "ETH": BOUNDS})
    config = config.model_copy(update={"adapters": (), "models": models, "surface": surface})
    deployment = deploy_stack(w3, resolve_account(config.deployer), config)
    for signer in deployment.signers:
        w3.provider.make_request("anvil_setBalance", [signer, hex(10**21)])
    assert deployment.surface_oracle is not None
    oracle = VolSurfaceOracle(w3, deployment.surface_oracle)
    return w3, Domain(deployment.chain_id, deployment.oracle), oracle


def settings(genesis: float) -> NetworkSettings:
    return NetworkSettings(
        genesis=genesis,
        period_s=6.0,
        leader_timeout_s=2.5,
        max_attempts=2,
        deadline_s=60,
        collect_timeout_s=1.5,
        request_timeout_s=2.0,
        observe_timeout_s=4.0,
        max_skew_s=3.0,
    )  # fmt: skip  (generous: five nodes fitting chains, anvil and pytest share two cores in CI)


def stored_round(oracle: VolSurfaceOracle) -> int:
    return max((oracle.get_state_word(u) >> 144) & ((1 << 64) - 1) for u in UNDERLYINGS)


def test_network__five_nodes__surfaces_fitted_cosigned_and_stored(
    stack: tuple[Web3, Domain, VolSurfaceOracle], anvil: Anvil, shared_data: Path, tmp_path: Path
) -> None:
    _, domain, oracle = stack
    chains = [shared_data / "options" / name for name in SNAPSHOTS]
    bad = [doctored(chains[0], tmp_path / "doctored.csv")] * 2
    genesis = math.floor(time.time())
    cfg = settings(genesis)
    first = math.floor((time.time() - genesis) / cfg.period_s) + 2  # every node is up by then
    last = first + 3
    cluster = LocalCluster.create(anvil.url, domain, cfg, [ANVIL_KEYS[i] for i in range(1, 6)],
                                  [no_risk] * 5, tmp_path, ("BTC-USD", "ETH-USD"))  # fmt: skip
    cluster.surface_oracle = oracle.address
    sizer = ShockSizer()
    for i, member in enumerate(cluster.members):
        own = VolSurfaceOracle(
            Web3(HTTPProvider(anvil.url)), oracle.address
        )  # each node reads the chain itself
        member.surface_provider = ChainReplay(bad if i == 4 else chains, first, 2, sizer,
                                              lambda o=own: stored_round(o), cfg.period_s)  # fmt: skip

    async def run() -> None:
        for member in cluster.members:
            await cluster.start(member)
        try:
            runs = [m.node.run(last) for m in cluster.members if m.node is not None]
            await asyncio.wait_for(
                asyncio.gather(*runs, return_exceptions=True), timeout=6 * cfg.period_s + 60
            )
        finally:
            await cluster.stop()

    asyncio.run(run())

    outcomes = [(m.name, o) for m in cluster.members for o, _ in m.outcomes if o.kind == "surface"]
    included = sorted(o.round for _, o in outcomes if o.status == "included")
    shown = [(name, o.round, o.attempt, o.status, o.detail[:300]) for name, o in outcomes]
    assert included == [first, first + 2], shown  # one landing per chain, in its first round or retry
    assert stored_round(oracle) == first + 2

    # what the chain stores is the chain as the honest nodes fit it, its expiries moved by one shift
    fit = fit_chain(read_chain(chains[1]))
    with NodeStore.open(cluster.members[0].store_path) as store:
        signed = store.signature(first + 2, cluster.members[0].signer.address, "surface")
    assert signed is not None and signed.signature is not None  # node0 co-signed or led the landing
    for u in fit.underlyings:
        sid = onchain.underlying_id(u.surface.underlying)
        expiries = oracle.expiries_of(sid)
        assert len(expiries) == len([s for s in u.surface.slices if s.expiry > fit.observed_at])
        assert oracle.get_spot(sid)[1] == genesis + (first + 2) * cfg.period_s  # observedAt: the slot
        for sl, expiry in zip(u.surface.slices, expiries, strict=True):
            first_slot = genesis + first * cfg.period_s  # the replay's one shift maps chain time here
            assert abs(expiry - first_slot - (sl.expiry - fit.observed_at).total_seconds()) <= 1
            vol = oracle.implied_vol(sid, expiry, round(sl.forward * 1e18)) / 1e18
            want = math.sqrt(_w_atm(sl) / sl.t)  # the fit's own ATM vol (t on the fit's year basis)
            assert abs(vol - want) < 1e-4, (u.surface.underlying, expiry, vol, want)

    engine_refuses_stale_surface(Web3(HTTPProvider(anvil.url)), oracle)

    # the doctored node's surfaces (several vol points off) never got an honest co-signature
    doctored_outcomes = [o for o, _ in cluster.members[4].outcomes if o.kind == "surface"]
    assert doctored_outcomes and not [o for o in doctored_outcomes if o.status == "included"]
    assert any(o.status == "no_quorum" for o in doctored_outcomes), doctored_outcomes


class PortfolioEngine(ContractWrapper):
    ARTIFACT = "OptionsPortfolioMarginEngine"

    def call(self, function: str, *args: Any) -> Any:
        return self._call(function, *args)

    def send(self, function: str, *args: Any, sender: str) -> TxResult:
        return self._send(function, *args, sender=sender)


def engine_refuses_stale_surface(w3: Web3, oracle: VolSurfaceOracle) -> None:
    """A short BTC put margins on the fresh surface; after max age the same trade reverts stale."""
    owner, trader = w3.eth.accounts[0], w3.eth.accounts[7]
    usd = TestUSD.deploy(w3, owner, owner)
    engine = PortfolioEngine.deploy(w3, owner, oracle.address, usd.address, owner, 0, 8 * 10**17)
    btc = onchain.underlying_id("BTC")
    observed = oracle.get_spot(btc)[1]
    max_age = int(w3.eth.get_block("latest")["timestamp"]) - observed + 30
    engine.send("listUnderlying", btc, max_age, sender=owner)
    usd.mint(trader, 10**12, sender=owner)
    usd.approve(engine.address, 10**12, sender=trader)
    engine.send("deposit", 10**12, sender=trader)  # 1,000,000 USD (6 decimals)
    expiry = oracle.expiries_of(btc)[-2]
    # 20 % out of the money, a whole number of the engine's STORAGE_UNIT (1e-6 USD)
    strike = 8 * oracle.get_spot(btc)[0] // 10 // 10**12 * 10**12
    engine.send("setOption", btc, expiry, strike, False, -(10**18), sender=trader)
    assert engine.call("initialMargin", trader) > 0
    w3.provider.make_request("evm_increaseTime", [60])
    w3.provider.make_request("evm_mine", [])
    with pytest.raises(ContractReverted) as info:
        engine.send("setOption", btc, expiry, strike, False, -2 * 10**18, sender=trader)
    stale = "0x" + keccak(text="PortfolioMarginStaleData(bytes32,uint64,uint256)")[:4].hex()
    assert info.value.raw.startswith(stale) and btc.hex() in info.value.raw, info.value
    engine.send("setOption", btc, expiry, strike, False, 0, sender=trader)  # reducing a short: no oracle
    assert engine.call("optionsOf", trader) == []


def _w_atm(sl: object) -> float:
    p = sl.params  # type: ignore[attr-defined]
    return p.a + p.b * (p.rho * (0.0 - p.m) + math.sqrt(p.m * p.m + p.sigma * p.sigma))


def test_refusal_precheck__real_oracle_state__left_out_underlying_named(
    stack: tuple[Web3, Domain, VolSurfaceOracle], shared_data: Path
) -> None:
    """After the network's publications: a report whose ETH spot moved 50 % (shipped-style limit 30 %
    per update would revert it; the test stack is wide open, so tighten ETH's bounds first) is
    published without ETH, and BTC's smiles are untouched."""
    w3, _, oracle = stack
    eth = onchain.underlying_id("ETH")
    bounds = oracle.get_bounds(eth)
    tight = dataclasses.replace(bounds, spot_max_change=3000)
    oracle._send("tightenSurfaceBounds", eth, tight.to_abi(), sender=resolve_account(9))  # the guardian
    chain = ContractSurfaceChain(oracle, sender=None)  # type: ignore[arg-type]  # reads only
    fit = fit_chain(read_chain(shared_data / "options" / SNAPSHOTS[0]))
    now = int(w3.eth.get_block("latest")["timestamp"]) + 120
    surfaces = [u.surface for u in fit.underlyings]
    surfaces = [
        dataclasses.replace(s, spot=s.spot * (1.5 if s.underlying == "ETH" else 1.0)) for s in surfaces
    ]
    shocks = dict.fromkeys(("BTC", "ETH"), onchain.Shocks(1600, 5000, 2500))
    report = onchain.build_report(surfaces, shocks, epoch=1, round=10**6, observed_at=now, deadline=now + 60,
                                  model_hash=surface_model_hash(), inputs_hash=b"\x07" * 32)  # fmt: skip
    states, block_time = chain.underlying_states(report)
    assert refusal(report, 0, states[report.underlyings[0]], block_time) is None  # BTC
    why = refusal(report, 1, states[eth], block_time)
    assert why is not None and why.startswith("spot") and "3000 bp" in why
    kept = without(report, {1})
    assert (
        kept is not None
        and list(kept.surfaces()) == ["BTC"]
        and kept.surfaces()["BTC"] == report.surfaces()["BTC"]
    )
