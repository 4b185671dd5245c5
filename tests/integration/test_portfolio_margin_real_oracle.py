"""The portfolio margin engine on the real VolSurfaceOracle: surfaces published by a 3-of-5 signed
SurfaceReport, the engine's margin equal to the float64 reference on the smiles read back, a trade
refused once the surface is stale and accepted again after the next report.

Artifacts come from $FOUNDRY_OUT when set (a private forge build), else from ./out (`make build`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from bench.gas_margin import BTC, DAY, ETH, MAX_AGE, WAD, deploy_real, publish_report
from oracle_node.chain.anvil import Anvil
from oracle_node.chain.artifacts import ErrorDecoder
from oracle_node.chain.contracts import ContractReverted
from oracle_node.options import portfolio_margin as pm
from oracle_node.options.svi import SviParams

TERMS = (7, 30, 90)


def _out_dir() -> Path | None:
    value = os.environ.get("FOUNDRY_OUT")
    return Path(value) if value else None


@pytest.fixture(scope="module")
def env(anvil: Anvil) -> dict[str, Any]:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 120}))
    stack = deploy_real(w3, _out_dir())
    now = int(w3.eth.get_block("latest")["timestamp"]) + 60
    w3.provider.make_request("evm_setNextBlockTimestamp", [now])
    w3.provider.make_request("evm_mine", [])
    expiries = [now + d * DAY for d in TERMS]
    publish_report(stack, expiries, now)
    for u in (BTC, ETH):
        stack.engine.send("listUnderlying", u, MAX_AGE, sender=stack.owner)
    trader = w3.eth.accounts[1]
    stack.usd.send("mint", trader, 10**12, sender=stack.owner)
    stack.usd.send("approve", stack.engine.address, 10**12, sender=trader)
    stack.engine.send("deposit", 10**12, sender=trader)
    return {"stack": stack, "expiries": expiries, "trader": trader, "w3": w3}


def _market(stack: Any, expiries: list[int]) -> dict[str, pm.Underlying]:
    """The reference's market from what the oracle answers (WAD), smile by smile."""
    market = {}
    for u, name in ((BTC, "BTC"), (ETH, "ETH")):
        move, up, down, _ = stack.surface.get_shocks(u)
        spot, _ = stack.surface.get_spot(u)
        smiles = {}
        for e in expiries:
            s = stack.surface.get_smile(u, e)
            svi = SviParams(s.a / WAD, s.b / WAD, s.rho / WAD, s.m / WAD, s.sigma / WAD)
            smiles[e] = pm.Smile(svi, s.forward / WAD, s.observed_at)
        market[name] = pm.Underlying(pm.Shocks(move / WAD, up / WAD, down / WAD), spot / WAD, smiles, {})
    return market


def test_margin__real_oracle__equals_reference(env: dict[str, Any]) -> None:
    stack, expiries, w3 = env["stack"], env["expiries"], env["w3"]
    book = [
        (BTC, expiries[0], 95_000 * WAD, False, -WAD),
        (BTC, expiries[1], 110_000 * WAD, True, -2 * WAD),
        (BTC, expiries[1], 120_000 * WAD, True, 2 * WAD),
        (ETH, expiries[2], 2_700 * WAD, False, -10 * WAD),
        (ETH, expiries[0], 3_000 * WAD, True, 5 * WAD),
    ]
    linear = [(BTC, WAD // 2)]
    im_wad, mm_wad = stack.engine.call("marginFor", book, linear)
    now = int(w3.eth.get_block("latest")["timestamp"])
    options = [
        pm.OptionPosition("BTC" if u == BTC else "ETH", e, k / WAD, c, s / WAD) for u, e, k, c, s in book
    ]
    lin = [pm.LinearPosition("BTC", 0.5)]
    market = _market(stack, expiries)
    expected = pm.initial_margin(options, lin, market, now)
    assert expected > 10_000.0, "the book must need real margin for the comparison to mean anything"
    assert abs(im_wad / WAD - expected) <= pm.rounding_bound(options, lin, market, now)
    assert mm_wad == (im_wad * 8 * 10**17 - 1) // WAD + 1


def test_trade__stale_surface__refused_then_accepted_after_next_report(env: dict[str, Any]) -> None:
    stack, expiries, w3, trader = env["stack"], env["expiries"], env["w3"], env["trader"]
    put = (BTC, expiries[1], 90_000 * WAD, False, -WAD)
    stack.engine.send("setOption", *put, sender=trader)
    stale_at = int(w3.eth.get_block("latest")["timestamp"]) + MAX_AGE + 10
    w3.provider.make_request("evm_setNextBlockTimestamp", [stale_at])
    w3.provider.make_request("evm_mine", [])
    with pytest.raises(ContractReverted) as refused:
        stack.engine.send("setOption", BTC, expiries[1], 90_000 * WAD, False, -2 * WAD, sender=trader)
    # The shocks are checked first: the engine's own staleness error, naming BTC and the report time.
    decoded = ErrorDecoder([stack.engine.artifact.abi]).decode(refused.value.raw)
    assert decoded is not None and decoded.name == "PortfolioMarginStaleData", refused.value
    assert decoded.args[0] == BTC and decoded.args[2] == MAX_AGE
    # Reducing the short needs no oracle, stale or not.
    stack.engine.send("setOption", BTC, expiries[1], 90_000 * WAD, False, -WAD // 2, sender=trader)
    publish_report(stack, expiries, stale_at - 5, round_=2)
    stack.engine.send("setOption", BTC, expiries[1], 90_000 * WAD, False, -2 * WAD, sender=trader)
    held = {(o[0], o[1], o[2], o[3]): o[4] for o in stack.engine.call("optionsOf", trader)}
    assert held[(BTC, expiries[1], 90_000 * WAD, False)] == -2 * WAD
