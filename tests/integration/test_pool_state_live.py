"""The Aave V2 pool-state reader against recorded JSON-RPC answers served on loopback (no request leaves
127.0.0.1: the egress guard of test_live_sources applies). The recorded answers are ABI-encoded by
tests/fixtures/recorded/pool_state/make_fixture.py (README beside it); expected figures by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from oracle_node.errors import SourceError
from oracle_node.sources.pool_state import AavePoolReader, PoolSnapshot, calldata
from oracle_node.sources.pool_summary import summarise
from tests.fixtures.recorded.pool_state.chain import BatchLoopback, PoolChain
from tests.integration.test_live_sources import egress  # noqa: F401 - the autouse egress guard

T = TypeVar("T")
POOL = "0x7d2768dE32b0b80b7a3454c06BdAc94A69DDc7A9"
HEAD = 12_463_257  # the recorded block + 2 confirmations
NOW = 1621388921.0
USD_PER_ETH = 2500.0  # 1e18 / USDC's recorded price (4e14 wei)


def run(chain: PoolChain, scenario: Callable[[str], Awaitable[T]]) -> T:
    async def main() -> T:
        server = BatchLoopback()
        server.chain = chain
        await server.start()
        try:
            return await scenario(server.base_url + "/rpc")
        finally:
            await server.stop()

    return asyncio.run(main())


def reader(url: str, chain: PoolChain, **kw: Any) -> AavePoolReader:
    args: dict[str, Any] = {
        "borrowers": [chain.borrowers["u7"]],
        "lookback_blocks": 20_000,
        "max_range": 10_000,
    }
    return AavePoolReader(url, POOL, **(args | kw))


def snapshots(chain: PoolChain, n: int = 1, **kw: Any) -> list[PoolSnapshot]:
    async def scenario(url: str) -> list[PoolSnapshot]:
        r = reader(url, chain, **kw)
        try:
            return [await r.snapshot(["WETH", "WBTC"], NOW + i) for i in range(n)]
        finally:
            await r.close()

    return run(chain, scenario)


def test_pool_reader__recorded_pool__reserves_accounts_and_request_count() -> None:
    chain = PoolChain.recorded(HEAD)
    first, second = snapshots(chain, 2)
    assert first.block == 12_463_255 and first.usd(10**18) == pytest.approx(USD_PER_ETH)
    assert [r.symbol for r in first.reserves] == ["USDT", "WBTC", "WETH", "DAI", "USDC"]
    weth = first.reserve("weth")
    assert weth is not None and (weth.decimals, weth.liquidation_threshold_bp, weth.reserve_id) == (
        18,
        8250,
        2,
    )
    assert (weth.supplied, weth.variable_debt, weth.stable_debt) == (
        1_100_000 * 10**18,
        90_000 * 10**18,
        1_500 * 10**18,
    )
    wbtc = first.reserve("WBTC")
    assert wbtc is not None and (wbtc.decimals, wbtc.liquidation_threshold_bp, wbtc.price) == (
        8,
        7500,
        16 * 10**18,
    )
    b = chain.borrowers
    # configured first, then discovered by their last Borrow block (newest first); u8's log was removed
    assert [a.user for a in first.accounts] == [b["u7"], b["u6"], b["u5"], b["u4"], b["u3"], b["u2"], b["u1"]]
    acc = {a.user: a for a in first.accounts}
    assert acc[b["u1"]].health_factor == 973_500_000_000_000_000 and acc[b["u1"]].debt_base == 100 * 10**18
    assert acc[b["u7"]].collateral_raw == {}  # supplies WETH, but not as collateral
    assert acc[b["u3"]].collateral_raw == {wbtc.asset: 450_000_000}
    assert acc[b["u6"]].debt_base == 0 and acc[b["u6"]].health_factor == 2**256 - 1
    # blockNumber, provider, oracle, reservesList, 5 getReserveData, 25 totals/prices/symbols, 2 getLogs,
    # 7 x (account, configuration, 2 balances): 9 requests; then 5 (oracle, symbols, scanned blocks cached)
    assert (first.requests, second.requests) == (9, 5)
    assert chain.batches[:9] == [1, 1, 1, 1, 5, 25, 1, 1, 28]
    calls = [p for m, p in chain.calls if m == "eth_call"]
    assert {p[1] for p in calls} == {hex(12_463_255)}  # every read pinned to one block
    logs = [p[0] for m, p in chain.calls if m == "eth_getLogs"]
    # the last 20,000 blocks once, in chunks of 10,000; the second read finds nothing new to scan
    assert [(int(q["fromBlock"], 16), int(q["toBlock"], 16)) for q in logs] == [
        (12_443_256, 12_453_255), (12_453_256, 12_463_255)
    ]  # fmt: skip


def test_pool_summary__recorded_pool__buckets_and_debt_at_risk_by_hand() -> None:
    (snap,) = snapshots(PoolChain.recorded(HEAD))
    eth = summarise(snap, "WETH")
    # debts (ETH): u1 100 (HF 0.9735), u2 200 (1.03125), u3 50 (1.08), u4 400 (1.19625), u5 300 (1.99925),
    # u7 150 (1.28); u6 has none. 1,200 ETH = 3.0 M USD.
    assert eth.borrowers == 6 and eth.debt_usd == pytest.approx(3_000_000)
    assert eth.hf_debt_share == pytest.approx(
        {"lt_1.00": 100 / 1200, "1.00_1.05": 200 / 1200, "1.05_1.10": 50 / 1200, "1.10_1.25": 400 / 1200, "ge_1.25": 450 / 1200}
    )  # fmt: skip
    # WETH falls d: u2 (206.25 x (1 - d) < 200 for d > 3 %), u4 (478.5 x (1 - d) < 400 for d > 16.4 %),
    # u5 never below 50 %; u1 is below 1 already
    assert eth.debt_at_risk_usd == pytest.approx(
        {"5": 750_000, "10": 750_000, "20": 1_750_000, "30": 1_750_000}
    )
    assert eth.reserve_supplied_usd == pytest.approx(1_100_000 * 2500) and eth.reserve_lt_bp == 8250
    assert eth.reserve_borrowed_usd == pytest.approx(91_500 * 2500)
    # USDT, DAI, USDC are 1 USD; WBTC 40,000 USD
    assert eth.pool_supplied_usd == pytest.approx(1.1e9 + 45_000 * 40_000 + 1.1e6 * 2500 + 1.4e9 + 3.5e9)
    btc = summarise(snap, "WBTC")  # u3: 54 x (1 - d) < 50 for d > 7.4 %
    assert btc.debt_at_risk_usd == pytest.approx({"5": 250_000, "10": 375_000, "20": 375_000, "30": 375_000})
    record = eth.record()
    assert record["block"] == 12_463_255 and record["debt_at_risk_usd"]["20"] == "1.75000000e+06"


def test_pool_reader__small_batches__same_snapshot_more_requests() -> None:
    (big,) = snapshots(PoolChain.recorded(HEAD))
    chain = PoolChain.recorded(HEAD)
    (small,) = snapshots(chain, batch_size=4)
    assert small.reserves == big.reserves and small.accounts == big.accounts
    assert max(chain.batches) == 4 and small.requests == 3 + 1 + 2 + 7 + 2 + 7  # 5/4, 25/4, 28/4 rounded up


def _key(to: str, signature: str, *args: Any) -> str:
    return f"{to.lower()}|{calldata(signature, *args)}"


def _failure(chain: PoolChain, **kw: Any) -> SourceError:
    async def scenario(url: str) -> SourceError:
        r = reader(url, chain, **kw)
        try:
            with pytest.raises(SourceError) as err:
                await r.snapshot(["WETH"], NOW)
            return err.value
        finally:
            await r.close()

    return run(chain, scenario)


def test_pool_reader__malformed_answer__error_names_call_and_value() -> None:
    chain = PoolChain.recorded(HEAD)
    u2 = chain.borrowers["u2"]
    chain.overrides[_key(POOL, "getUserAccountData(address)", u2)] = "0x1234"
    err = _failure(chain)
    assert (
        err.reason == "malformed" and f"getUserAccountData({u2})" in err.detail and "'0x1234'" in err.detail
    )


def test_pool_reader__bytes32_symbol__decoded_like_mkr() -> None:
    chain = PoolChain.recorded(HEAD)
    usdt = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    chain.overrides[_key(usdt, "symbol()")] = "0x" + b"USDT".ljust(32, b"\0").hex()
    (snap,) = snapshots(chain)
    assert snap.reserves[0].symbol == "USDT"


def test_pool_reader__reverted_call__api_error_names_it() -> None:
    chain = PoolChain.recorded(HEAD)
    weth = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    del chain.answers[_key("0xA50ba011c48153De246E5192C8f9258A2ba79Ca9", "getAssetPrice(address)", weth)]
    err = _failure(chain)
    assert (
        err.reason == "api_error"
        and f"getAssetPrice({weth})" in err.detail
        and "execution reverted" in err.detail
    )


def test_pool_reader__block_without_state__api_error_missing_trie_node() -> None:
    err = _failure(PoolChain.recorded(HEAD), confirmations=0)  # reads head, which the recording lacks
    assert (
        err.reason == "api_error"
        and "getAddressesProvider()" in err.detail
        and "missing trie node" in err.detail
    )


def test_pool_reader__usd_reference_not_listed__malformed_names_it() -> None:
    err = _failure(PoolChain.recorded(HEAD), usd_reference="GUSD")
    assert err.reason == "malformed" and "usd_reference GUSD: not listed" in err.detail


def test_pool_reader__provider_caps_batches__error_names_the_batch__smaller_batches_pass() -> None:
    chain = PoolChain.recorded(HEAD)
    chain.max_batch = 10  # the provider refuses longer batches with one error object
    err = _failure(chain)
    assert err.reason == "api_error" and "batch of 25 calls (eth_call totalSupply() of " in err.detail
    assert "batch too large" in err.detail
    refused = len(chain.batches)
    (snap,) = snapshots(chain, batch_size=10)
    assert len(snap.accounts) == 7 and max(chain.batches[refused:]) == 10
