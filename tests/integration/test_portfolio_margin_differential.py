"""On-chain portfolio margin (OptionsPortfolioMarginEngine.marginFor) against the float64 reference
(oracle_node.options.portfolio_margin) on 1,200 random books, within the documented rounding bound.

The engine reads a MockVolSurfaceOracle holding BTC and ETH smiles at four expiries each, the shocks,
the spots and one expired, settled expiry per underlying. Books mix calls and puts, longs and shorts,
strikes from 0.4 to 1.8 times the forward, expired options and linear positions. The eth_calls go out
in JSON-RPC batches of 200. Artifacts come from $FOUNDRY_OUT when set (a private forge build), else
from ./out (`make build`).
"""

from __future__ import annotations

import json
import os
import random
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from bench.gas_margin import BTC, ETH, MAX_AGE, deploy
from oracle_node.chain.anvil import Anvil
from oracle_node.chain.contracts import ContractWrapper
from oracle_node.options import portfolio_margin as pm
from oracle_node.options.svi import SviParams
from scripts import gen_normal_cdf as gen

WAD = 10**18
DAY = 86_400
N_BOOKS = 1_200
BATCH = 200
NAMES = {BTC: "BTC", ETH: "ETH"}
SPOT = {BTC: 97_250.5, ETH: 3_120.25}
SHOCKS = {BTC: (0.16, 0.5, 0.25), ETH: (0.21, 0.6, 0.3)}
TERMS = (3, 21, 64, 200)


def _out_dir() -> Path | None:
    value = os.environ.get("FOUNDRY_OUT")
    return Path(value) if value else None


def _w(x: float) -> int:
    return round(x * WAD)


def _smile(rng: random.Random, term_days: int) -> tuple[SviParams, float]:
    t = term_days / 365
    svi = SviParams(
        a=round(rng.uniform(0.05, 0.3) * t, 9),
        b=round(rng.uniform(0.02, 0.12) * t**0.5, 9),
        rho=round(rng.uniform(-0.6, 0.2), 9),
        m=round(rng.uniform(-0.05, 0.08), 9),
        sigma=round(rng.uniform(0.05, 0.4), 9),
    )
    return svi, 1.0 + rng.uniform(-0.01, 0.03) * t


@pytest.fixture(scope="module")
def market(anvil: Anvil) -> dict[str, Any]:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 120}))
    stack = deploy(w3, _out_dir())
    now = int(w3.eth.get_block("latest")["timestamp"]) + 100
    w3.provider.make_request("evm_setNextBlockTimestamp", [now])
    w3.provider.make_request("evm_mine", [])
    rng = random.Random(20261206)
    underlyings: dict[str, pm.Underlying] = {}
    expiries: dict[bytes, list[int]] = {}
    for u in (BTC, ETH):
        move, up, down = SHOCKS[u]
        stack.surface._send("setShocks", u, _w(move), _w(up), _w(down), now, sender=stack.owner)
        stack.surface._send("setSpot", u, _w(SPOT[u]), now, sender=stack.owner)
        smiles = {}
        for days in TERMS:
            expiry = now + days * DAY + 3_600
            observed = now - rng.randrange(0, 1_800)
            svi, fwd_ratio = _smile(rng, days)
            forward = round(SPOT[u] * fwd_ratio, 6)
            word = (
                _w(svi.a),
                _w(svi.b),
                _w(svi.rho),
                _w(svi.m),
                _w(svi.sigma),
                _w(forward),
                expiry,
                observed,
            )
            stack.surface._send("setSmile", u, expiry, word, sender=stack.owner)
            smiles[expiry] = pm.Smile(svi, forward, observed)
        expired = now - 2 * DAY
        settle = round(SPOT[u] * 1.04, 4)
        stack.surface._send("setSettlement", u, expired, _w(settle), expired, sender=stack.owner)
        shocks = pm.Shocks(move, up, down)
        underlyings[NAMES[u]] = pm.Underlying(shocks, SPOT[u], smiles, {expired: settle})
        expiries[u] = [*smiles, expired]
        stack.engine.send("listUnderlying", u, MAX_AGE, sender=stack.owner)
    block_time = int(w3.eth.get_block("latest")["timestamp"])
    return {"stack": stack, "market": underlyings, "expiries": expiries, "now": block_time, "url": anvil.url}


def _random_book(rng: random.Random, m: dict[str, Any]) -> tuple[list[tuple], list[tuple]]:
    options, linear = [], []
    for _ in range(rng.randint(1, 8)):
        u = rng.choice((BTC, ETH))
        expiry = rng.choice(m["expiries"][u])
        strike = round(SPOT[u] * rng.uniform(0.4, 1.8), 2)
        scale = 1.0 if u == BTC else 20.0
        size = round(rng.choice((-1, 1)) * rng.uniform(0.01, 5.0) * scale, 4)
        options.append((u, expiry, _w(strike), rng.random() < 0.5, _w(size)))
    for u in (BTC, ETH):
        if rng.random() < 0.35:
            linear.append((u, _w(round(rng.uniform(-3, 3) * (1.0 if u == BTC else 20.0), 4))))
    return options, linear


def _batch_call(url: str, to: str, datas: list[str]) -> list[str]:
    body = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [{"to": to, "data": d}, "latest"]}
        for i, d in enumerate(datas)
    ]
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        answers = sorted(json.loads(resp.read()), key=lambda a: a["id"])
    return [
        a["result"] if "result" in a else pytest.fail(f"eth_call failed: {a.get('error')}") for a in answers
    ]


def _reference(book: tuple[list[tuple], list[tuple]], m: dict[str, Any]) -> tuple[float, float]:
    options = [pm.OptionPosition(NAMES[u], e, k / WAD, c, s / WAD) for u, e, k, c, s in book[0]]
    linear = [pm.LinearPosition(NAMES[u], s / WAD) for u, s in book[1]]
    im = pm.initial_margin(options, linear, m["market"], m["now"])
    return im, pm.rounding_bound(options, linear, m["market"], m["now"])


def test_margin_for__random_books__matches_reference_within_bound(market: dict[str, Any]) -> None:
    rng = random.Random(7)
    books = [_random_book(rng, market) for _ in range(N_BOOKS)]
    contract = market["stack"].engine.contract
    datas = [contract.encode_abi("marginFor", args=[o, lin]) for o, lin in books]
    results: list[str] = []
    for i in range(0, len(datas), BATCH):
        results += _batch_call(market["url"], contract.address, datas[i : i + BATCH])
    worst_ratio, worst_diff, nonzero = 0.0, 0.0, 0
    for book, raw in zip(books, results, strict=True):
        data = bytes.fromhex(raw[2:])
        im_wad, mm_wad = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big")
        expected, bound = _reference(book, market)
        diff = abs(im_wad / WAD - expected)
        assert diff <= bound, (
            f"IM {im_wad / WAD} vs reference {expected}: |diff| {diff} > bound {bound} for {book}"
        )
        assert mm_wad == (0 if im_wad == 0 else (im_wad * 8 * 10**17 - 1) // WAD + 1)
        worst_ratio, worst_diff = max(worst_ratio, diff / bound), max(worst_diff, diff)
        nonzero += im_wad > 0
    assert nonzero > N_BOOKS // 2, "most random books must need margin, or the test compares zeros"
    print(
        f"\n{N_BOOKS} books, {nonzero} with margin; worst |diff| = {worst_diff:.3g} USD, "
        f"worst |diff| / bound = {worst_ratio:.3g}"
    )


def test_margin_for__stale_smile__reverts(market: dict[str, Any]) -> None:
    stack, now = market["stack"], market["now"]
    w3 = stack.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        w3.provider.make_request("evm_setNextBlockTimestamp", [now + MAX_AGE + 1_801])
        w3.provider.make_request("evm_mine", [])
        expiry = market["expiries"][BTC][1]
        book = ([(BTC, expiry, _w(90_000), False, -WAD)], [])
        data = stack.engine.contract.encode_abi("marginFor", args=list(book))
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_call",
            "params": [{"to": stack.engine.address, "data": data}, "latest"],
        }
        req = urllib.request.Request(
            market["url"], json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            answer = json.loads(resp.read())
        assert "error" in answer, "a stale surface must make marginFor revert"
        assert str(answer["error"].get("data", "")).startswith("0x"), answer
    finally:
        w3.provider.make_request("evm_revert", [snapshot])


class _Harness(ContractWrapper):
    ARTIFACT = "Black76Harness"


def test_normal_cdf__onchain__equals_generator_emulation_exactly(anvil: Anvil) -> None:
    """The Solidity N(x) is bit-for-bit the integer arithmetic the generator measured the error of."""
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 60}))
    harness = _Harness.deploy(w3, w3.eth.accounts[0], out_dir=_out_dir())
    rng = random.Random(3)
    xs = [round(rng.uniform(-9.0, 9.0) * WAD) for _ in range(3_000)] + [0, 1, -1, 6_500_000_000_000_000_000]
    xs += [i * 500_000_000_000_000_000 + d for i in range(-14, 15) for d in (-1, 0, 1)]  # interval edges
    onchain = harness.contract.functions.cdfMany(xs).call()
    table = gen.fit_table()
    assert onchain == [gen.cdf_fixed(x, table) for x in xs]
