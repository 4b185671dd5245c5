"""Live connectors against recorded venue responses served from a loopback HTTP server.

Every test runs with an egress guard: any DNS lookup or connect to a non-loopback address is refused
and recorded, and the test fails if one was attempted (so a ccxt call that would reach the real
venue cannot pass unnoticed).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from oracle_node.chain.anvil import free_port
from oracle_node.errors import SourceError
from oracle_node.sources.base import LiveSource, poll_all
from oracle_node.sources.deribit import DeribitOptionsSource
from oracle_node.sources.exchanges import CcxtSource, VenueMarket, api_urls
from oracle_node.sources.liquidations import AaveLiquidationSource
from tests.fixtures.recorded.loopback import Fault, Loopback, RecordedChain

T = TypeVar("T")
NOW = 1709542801.0
BTC = VenueMarket("BTC-USD", "BTC/USDT")
BTC_SWAP = VenueMarket("BTC-USD", "BTC/USDT:USDT")
AAVE_V2_POOL = "0x7d2768dE32b0b80b7a3454c06BdAc94A69DDc7A9"


# ---- egress guard ------------------------------------------------------------------------------------


def _is_loopback(host: object) -> bool:
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def egress(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse (and record) every lookup or connection that is not loopback."""
    blocked: list[str] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            blocked.append(f"dns {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"egress blocked in tests: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            blocked.append(f"connect {address}")
            raise ConnectionRefusedError(f"egress blocked in tests: {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield blocked
    assert blocked == [], f"a request tried to leave loopback: {blocked}"


def run(factory: Callable[[Loopback], Awaitable[T]]) -> T:
    """Start the recorded-venue server, run the scenario against it, stop everything."""

    async def main() -> T:
        server = venue_server()
        await server.start()
        try:
            result = await factory(server)
        finally:
            await server.stop()
        assert server.unmatched == [], f"requests without a recorded response: {server.unmatched}"
        return result

    return asyncio.run(main())


def venue_server() -> Loopback:
    s = Loopback()
    s.add("/api/v3/exchangeInfo", "binance/exchangeInfo.json")
    for sym in ("BTCUSDT", "ETHUSDT"):
        s.add("/api/v3/ticker/24hr", f"binance/ticker_24hr_{sym}.json", symbol=sym)
        s.add("/api/v3/depth", f"binance/depth_{sym}.json", symbol=sym)
    s.add("/api/v5/public/instruments", "okx/instruments_SWAP.json", instType="SWAP")
    s.add("/api/v5/market/ticker", "okx/ticker_BTC-USDT-SWAP.json", instId="BTC-USDT-SWAP")
    s.add("/api/v5/market/books", "okx/books_BTC-USDT-SWAP.json", instId="BTC-USDT-SWAP")
    s.add("/api/v5/public/funding-rate", "okx/funding-rate_BTC-USDT-SWAP.json", instId="BTC-USDT-SWAP")
    s.add("/v5/market/instruments-info", "bybit/instruments-info_linear_prelaunch.json", status="PreLaunch")
    s.add("/v5/market/instruments-info", "bybit/instruments-info_linear.json", category="linear")
    s.add("/v5/market/tickers", "bybit/tickers_linear_BTCUSDT.json", category="linear", symbol="BTCUSDT")
    s.add("/v5/market/orderbook", "bybit/orderbook_linear_BTCUSDT.json", category="linear", symbol="BTCUSDT")
    s.add("/api/v2/public/get_index_price", "deribit/get_index_price_btc_usd.json", index_name="btc_usd")
    s.add(
        "/api/v2/public/get_book_summary_by_currency",
        "deribit/get_book_summary_by_currency_BTC_option.json",
        currency="BTC",
        kind="option",
    )
    return s


async def poll_once(source: LiveSource, now: float = NOW) -> Any:
    try:
        return await source.poll(now)
    finally:
        await source.close()


# ---- exchanges through ccxt --------------------------------------------------------------------------


def test_ccxt_binance__recorded_spot__ticker_book_depth_within_1pct() -> None:
    async def scenario(server: Loopback) -> Any:
        source = CcxtSource("binance", [BTC, VenueMarket("ETH-USD", "ETH/USDT")], api_base=server.base_url)
        assert all(url.startswith(server.base_url) for url in api_urls(source.exchange))
        return await poll_once(source), server.requests

    ticks, requests = run(scenario)
    btc, eth = ticks
    assert (btc.market, btc.source, btc.ts) == ("BTC-USD", "binance", 1709542800.123)
    assert (btc.price, btc.bid, btc.ask, btc.volume) == (67250.0, 67250.0, 67250.01, 1803526123.456789)
    # bids >= 66577.50 (mid 67250.005 - 1%): 1.5 @ 67250 + 2 @ 67000 + 3 @ 66600; 10 @ 66500 outside
    assert btc.depth_bid == pytest.approx(434_675.0)
    # asks <= 67922.51: 0.8 @ 67250.01 + 1.2 @ 67500 + 2 @ 67900; 5 @ 68000 outside
    assert btc.depth_ask == pytest.approx(270_600.008)
    assert btc.funding_rate is None
    assert eth.depth_bid == pytest.approx(3627.99 * 20 + 3600 * 50)  # 3580 is below mid - 1% (3591.72)
    assert eth.depth_ask == pytest.approx(3628 * 12 + 3660 * 40)  # 3670 is beyond mid + 1%
    assert requests[0] == "GET /api/v3/exchangeInfo" and len(requests) == 5


def test_ccxt_okx__recorded_swap__contract_size_depth_and_funding() -> None:
    async def scenario(server: Loopback) -> Any:
        return await poll_once(CcxtSource("okx", [BTC_SWAP], api_base=server.base_url))

    (tick,) = run(scenario)
    assert (tick.price, tick.bid, tick.ask, tick.ts) == (67245.3, 67245.3, 67245.4, 1709542800.456)
    # sizes are contracts of 0.01 BTC: (67245.3 * 120 + 67000 * 300) * 0.01; 66500.1 is beyond -1%
    assert tick.depth_bid == pytest.approx(281_694.36)
    assert tick.depth_ask == pytest.approx(223_296.32)
    assert tick.funding_rate == pytest.approx(0.0002417590233174)  # 8 h interval: unchanged
    assert tick.volume == pytest.approx(95123.45 * 67245.3)  # volCcy24h is BTC for swaps


def test_ccxt_bybit__recorded_linear__depth_and_funding() -> None:
    async def scenario(server: Loopback) -> Any:
        return await poll_once(CcxtSource("bybit", [BTC_SWAP], api_base=server.base_url, pool="bybit"))

    (tick,) = run(scenario)
    assert (tick.price, tick.bid, tick.ask, tick.pool) == (67240.1, 67240.1, 67240.2, "bybit")
    assert tick.ts == NOW  # bybit's ticker carries no timestamp: the poll time is used
    assert tick.depth_bid == pytest.approx(67240.1 * 2.5 + 67000 * 4)
    assert tick.depth_ask == pytest.approx(67240.2 * 1.75 + 67900 * 3)
    assert (tick.volume, tick.funding_rate) == (4281593327.4851, 0.0001)


def test_poll_all__three_venues_and_deribit__one_tick_each() -> None:
    async def scenario(server: Loopback) -> Any:
        sources: list[LiveSource] = [
            CcxtSource("binance", [BTC], api_base=server.base_url),
            CcxtSource("okx", [BTC_SWAP], api_base=server.base_url),
            CcxtSource("bybit", [BTC_SWAP], api_base=server.base_url),
            DeribitOptionsSource(base_url=server.base_url),
        ]
        try:
            return await poll_all(sources, NOW)
        finally:
            await asyncio.gather(*(s.close() for s in sources))

    outcome = run(scenario)
    assert outcome.errors == []
    assert sorted(t.source for t in outcome.ticks) == ["binance", "bybit", "deribit", "okx"]


@pytest.mark.parametrize(
    ("fault", "reason", "detail"),
    [
        (Fault("slow", delay=3.0), "timeout", "RequestTimeout"),
        (Fault("status", status=500), "http_500", "500"),
        (Fault("status", status=503), "http_503", "503"),
        (Fault("rate_limit", retry_after="30"), "rate_limited", "retry_after=30s"),
        (Fault("truncated"), "malformed", "not JSON"),
        (Fault("body", body="<html>maintenance</html>"), "malformed", "not JSON"),
    ],
)
def test_ccxt_binance__venue_fault__source_error_reason(fault: Fault, reason: str, detail: str) -> None:
    async def scenario(server: Loopback) -> SourceError:
        server.fault("/api/v3/ticker", fault)
        source = CcxtSource("binance", [BTC], api_base=server.base_url, timeout=0.5)
        with pytest.raises(SourceError) as err:
            await poll_once(source)
        return err.value

    err = run(scenario)
    assert (err.source, err.reason) == ("binance", reason)
    assert detail in err.detail


@pytest.mark.parametrize(
    ("fixture", "reason", "detail"),
    [
        ("binance/ticker_24hr_BTCUSDT_nan.json", "malformed", "NaN"),
        ("binance/ticker_24hr_BTCUSDT_nolast.json", "malformed", "last = None is not a number"),
    ],
)
def test_ccxt_binance__bad_ticker_values__source_error(fixture: str, reason: str, detail: str) -> None:
    async def scenario(server: Loopback) -> SourceError:
        server.routes.insert(0, type(server.routes[0])("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, fixture))
        with pytest.raises(SourceError) as err:
            await poll_once(CcxtSource("binance", [BTC], api_base=server.base_url))
        return err.value

    err = run(scenario)
    assert err.reason == reason and detail in err.detail


def test_ccxt_rate_limited__retry_after__next_poll_refused_without_request() -> None:
    async def scenario(server: Loopback) -> tuple[SourceError, SourceError, int, int]:
        server.fault("/api/v3/ticker", Fault("rate_limit", retry_after="30"))
        source = CcxtSource("binance", [BTC], api_base=server.base_url)
        try:
            with pytest.raises(SourceError) as first:
                await source.poll(NOW)
            seen = len(server.requests)
            server.clear_faults()
            with pytest.raises(SourceError) as second:
                await source.poll(NOW + 1)
            return first.value, second.value, seen, len(server.requests)
        finally:
            await source.close()

    first, second, before, after = run(scenario)
    assert first.reason == second.reason == "rate_limited"
    assert "not called" in second.detail and after == before


def test_poll_all__one_venue_down__others_still_ticking() -> None:
    async def scenario(server: Loopback) -> Any:
        server.fault("/api/v5/", Fault("status", status=502))
        sources: list[LiveSource] = [
            CcxtSource("binance", [BTC], api_base=server.base_url),
            CcxtSource("okx", [BTC_SWAP], api_base=server.base_url),
        ]
        try:
            return await poll_all(sources, NOW)
        finally:
            await asyncio.gather(*(s.close() for s in sources))

    outcome = run(scenario)
    assert [t.source for t in outcome.ticks] == ["binance"]
    assert [(e.source, e.reason) for e in outcome.errors] == [("okx", "http_502")]


def test_ccxt__connection_refused__unreachable() -> None:
    async def scenario(server: Loopback) -> SourceError:
        dead = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(SourceError) as err:
            await poll_once(CcxtSource("binance", [BTC], api_base=dead, timeout=2))
        return err.value

    assert run(scenario).reason == "unreachable"


def test_egress_guard__source_not_pointed_at_loopback__request_blocked(egress: list[str]) -> None:
    async def scenario(server: Loopback) -> SourceError:
        with pytest.raises(SourceError) as err:
            await poll_once(CcxtSource("binance", [BTC], timeout=2))  # real api.binance.com
        return err.value

    err = run(scenario)
    assert err.reason == "unreachable"
    assert egress and all("binance.com" in b for b in egress)
    egress.clear()  # the guard worked; don't fail the teardown check


# ---- Deribit ----------------------------------------------------------------------------------------


def test_deribit__recorded_chain__typed_quotes_with_usd_at_index() -> None:
    async def scenario(server: Loopback) -> Any:
        source = DeribitOptionsSource(base_url=server.base_url)
        ticks = await poll_once(source)
        return ticks, source.last_chain

    (tick,), chain = run(scenario)
    assert chain is not None and len(chain.quotes) == 24 and chain.skipped == ()
    assert chain.index_price == 90919.99 and (tick.price, tick.source, tick.pool) == (
        90919.99,
        "deribit",
        "deribit_index",
    )
    jan30 = datetime(2026, 1, 30, 8, tzinfo=UTC).timestamp()
    assert chain.expiries() == (jan30, datetime(2026, 2, 27, 8, tzinfo=UTC).timestamp())
    q = chain.quotes[0]
    assert (q.instrument, q.strike, q.expiry, q.option_type) == (
        "BTC-30JAN26-75000-C",
        75000.0,
        jan30,
        "call",
    )
    assert (q.bid_btc, q.ask_btc, q.mark_btc, q.mark_iv) == (
        0.1755,
        0.1775,
        0.17654717,
        pytest.approx(0.6034),
    )
    assert q.mark_usd == pytest.approx(0.17654717 * 90919.99)
    assert (q.underlying, q.underlying_price, q.open_interest) == ("BTC-30JAN26", 90980.2, 30.0)
    no_bid = next(x for x in chain.quotes if x.instrument == "BTC-30JAN26-110000-C")
    assert (no_bid.bid_btc, no_bid.bid_usd, no_bid.ask_btc) == (None, None, 0.0004)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault("slow", delay=3.0), "timeout"),
        (Fault("status", status=500), "http_500"),
        (Fault("rate_limit", retry_after="2"), "rate_limited"),
        (Fault("truncated"), "malformed"),
        (
            Fault("body", body='{"jsonrpc":"2.0","error":{"message":"too_many_requests","code":10028}}'),
            "rate_limited",
        ),
        (Fault("body", body='{"jsonrpc":"2.0","error":{"message":"bad_request","code":11050}}'), "api_error"),
        (Fault("body", body='{"jsonrpc":"2.0","result":{"not":"a list"}}'), "malformed"),
        (
            Fault("body", body='{"jsonrpc":"2.0","result":[{"instrument_name":"BTC-30JAN26-75000-C"}]}'),
            "malformed",
        ),
    ],
)
def test_deribit__fault__source_error_reason(fault: Fault, reason: str) -> None:
    async def scenario(server: Loopback) -> SourceError:
        server.fault("/api/v2/public/get_book_summary_by_currency", fault)
        with pytest.raises(SourceError) as err:
            await poll_once(DeribitOptionsSource(base_url=server.base_url, timeout=0.5))
        return err.value

    err = run(scenario)
    assert (err.source, err.reason) == ("deribit", reason)


# ---- on-chain liquidations --------------------------------------------------------------------------

LAST_FIXTURE_BLOCK = 12_463_255


def _chain_run(chain: RecordedChain, factory: Callable[[Loopback], Awaitable[T]]) -> T:
    async def with_chain(server: Loopback) -> T:
        server.chain = chain
        return await factory(server)

    return run(with_chain)


def test_aave_liquidations__recorded_logs__decoded_in_order_with_times() -> None:
    chain = RecordedChain.from_fixture(
        "ethereum/aave_v2_liquidations_20210519.json", head=LAST_FIXTURE_BLOCK + 2
    )

    async def scenario(server: Loopback) -> Any:
        source = AaveLiquidationSource(
            server.base_url + "/rpc", AAVE_V2_POOL, start_block=12_462_800, max_range=100
        )
        try:
            return await source.poll_events(), source.last_block
        finally:
            await source.close()

    events, last = _chain_run(chain, scenario)
    assert last == LAST_FIXTURE_BLOCK  # head - 2 confirmations
    assert len(events) == 6 and [e.ts for e in events] == sorted(e.ts for e in events)
    first = events[0]
    assert first.collateral_asset == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"  # WETH
    assert first.debt_asset == "0x6B175474E89094C44Da98b954EedeAC495271d0F"  # DAI
    assert first.user.lower() == "0xd4f935181f2c19525416c8e0ba80f46f8cdacad3"
    assert (first.debt_to_cover, first.liquidated_collateral) == (3122294006449028275929, 966212614059690494)
    assert (first.block_number, first.ts, first.pool) == (12_462_868, 1621383290.0, AAVE_V2_POOL)
    same_block = [e for e in events if e.block_number == 12_463_234]
    assert [e.log_index for e in same_block] == [114, 121]
    ranges = [p[0] for m, p in chain.calls if m == "eth_getLogs"]
    assert [(int(r["fromBlock"], 16), int(r["toBlock"], 16)) for r in ranges][:2] == [
        (12_462_801, 12_462_900),
        (12_462_901, 12_463_000),
    ]
    # one eth_getBlockByNumber per distinct event block, batched: one HTTP request per chunk with events
    stamped = [int(p[0], 16) for m, p in chain.calls if m == "eth_getBlockByNumber"]
    assert stamped == sorted({e.block_number for e in events})
    chunks_with_events = len({(e.block_number - 12_462_801) // 100 for e in events})
    assert chain.posts == 1 + len(ranges) + chunks_with_events  # head, one per chunk, one batch per chunk


def test_aave_liquidations__failure_mid_scan__every_event_delivered_exactly_once() -> None:
    chain = RecordedChain.from_fixture("ethereum/aave_v2_liquidations_20210519.json", head=LAST_FIXTURE_BLOCK)
    chain.fail_from_blocks = {12_463_201}  # the chunk holding blocks 12,463,234..255 fails once

    async def scenario(server: Loopback) -> Any:
        source = AaveLiquidationSource(
            server.base_url + "/rpc", AAVE_V2_POOL, start_block=12_462_800, confirmations=0, max_range=100
        )
        try:
            with pytest.raises(SourceError) as err:
                await source.poll_events()
            stuck_at = source.last_block
            second = await source.poll_events()
            third = await source.poll_events()  # nothing new: nothing re-read
            return err.value, stuck_at, second, third, source.last_block
        finally:
            await source.close()

    err, stuck_at, second, third, last = _chain_run(chain, scenario)
    assert (err.reason, stuck_at) == ("api_error", 12_463_200)
    assert len(second) == 6 and len({(e.tx_hash, e.log_index) for e in second}) == 6
    assert third == [] and last == LAST_FIXTURE_BLOCK
