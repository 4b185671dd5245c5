"""Centralised exchanges through ccxt (async): ticker, order-book depth within ±1 % of mid, funding.

One `CcxtSource` per venue, any number of markets on it. Each poll does, per market and in sequence
(so the venue's rate limiter paces them and a failure names the call): `fetch_ticker`,
`fetch_order_book` and, for perpetuals, `fetch_funding_rate`. A tick carries

* price = last trade, bid/ask = best bid/ask (the book's top, else the ticker's; a crossed top, bid >
  ask, is `malformed`: that market's quote is rejected for the poll), volume = 24 h quote
  volume (`quoteVolume`; for contracts where ccxt gives none: base volume × price, OKX's `volCcy24h`
  being the base amount for derivatives);
* depth_bid / depth_ask = quote-currency value of the book within ±`band` (1 %) of mid on each side,
  `price × amount × contractSize` (spot: contractSize 1; linear swaps quote their book in contracts).
  Only the levels returned (`book_limit`) are summed, so a thin `book_limit` understates depth;
* funding_rate = the venue's current rate scaled to 8 hours (`rate × 8 h / interval`);
* ts = the venue's ticker timestamp when it gives one, else the poll time.

Venues tested against recorded responses: `binance` (spot), `okx` (USDT swaps, spot), `bybit`
(linear perpetuals, spot). Any other ccxt venue works if its markets load the same way. `api_base`
points every REST URL of the venue at another host (a proxy, or the tests' loopback server).

Failures map to `SourceError` reasons (see `oracle_node.sources.base`): `timeout`, `unreachable`,
`rate_limited` (Retry-After honoured before the next call), `http_<code>`, `malformed`,
`non_finite`, `api_error`. If every market of the venue fails the poll raises the first error;
otherwise the ticks of the markets that worked are returned and the failures are in `last_errors`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ccxt.async_support as ccxt_async
from ccxt.base import errors as ccxt_errors

from oracle_node.errors import ConfigError, SourceError
from oracle_node.logs import get_logger
from oracle_node.sources.base import as_list, as_mapping, number, optional_number
from oracle_node.sources.http import RateGate, parse_retry_after
from oracle_node.sources.tick import Tick

log = get_logger(__name__)

DEPTH_BAND = 0.01
FUNDING_HOURS = 8.0
# ccxt fetchMarkets types per venue for spot and perpetual symbols (loads only what is polled).
MARKET_TYPES: Mapping[str, Mapping[str, str]] = {
    "binance": {"spot": "spot", "swap": "linear"},
    "okx": {"spot": "spot", "swap": "swap"},
    "bybit": {"spot": "spot", "swap": "linear"},
}
_URL_HOST = re.compile(r"^https?://[^/]+")


@dataclass(frozen=True)
class VenueMarket:
    """A market as the oracle names it and the venue's ccxt symbol (`BTC/USDT`, `BTC/USDT:USDT`)."""

    market: str
    symbol: str

    @property
    def is_swap(self) -> bool:
        return ":" in self.symbol


def depth_within_band(
    bids: Sequence[Sequence[float]],
    asks: Sequence[Sequence[float]],
    mid: float,
    band: float = DEPTH_BAND,
    contract_size: float = 1.0,
) -> tuple[float, float]:
    """Quote value resting within ±band of mid: (bid side, ask side)."""
    lo, hi = mid * (1 - band), mid * (1 + band)
    bid = sum(p * a for p, a, *_ in bids if lo <= p <= mid)
    ask = sum(p * a for p, a, *_ in asks if mid <= p <= hi)
    return bid * contract_size, ask * contract_size


def point_at(exchange: Any, api_base: str) -> None:
    """Rewrite every REST URL of a ccxt exchange to `api_base` (scheme://host[:port]), keeping paths."""

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, str):
            return _URL_HOST.sub(api_base.rstrip("/"), value)
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])


def api_urls(exchange: Any) -> list[str]:
    """Every REST base URL the exchange may call (for checks that nothing leaves a given host)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, str):
            found.append(value)

    walk(exchange.urls["api"])
    return found


class CcxtSource:
    """One exchange venue polled through ccxt's async client."""

    def __init__(
        self,
        venue: str,
        markets: Sequence[VenueMarket],
        *,
        name: str | None = None,
        timeout: float = 5.0,
        book_limit: int = 100,
        api_base: str | None = None,
        pool: str | None = None,
    ) -> None:
        if not markets:
            raise ConfigError(f"venue {venue}: no markets configured", source="sources")
        self.venue, self.name, self.pool = venue, name or venue, pool
        self.venue_markets = tuple(markets)
        self.markets = tuple(m.market for m in markets)
        self.book_limit = book_limit
        self.timeout = timeout
        self.gate = RateGate(self.name)
        self.last_errors: list[SourceError] = []
        self._status: tuple[int, Mapping[str, str]] | None = None
        self.exchange = self._build(venue, api_base)

    def _build(self, venue: str, api_base: str | None) -> Any:
        cls = getattr(ccxt_async, venue, None)
        if cls is None:
            raise ConfigError(f"venue {venue!r} is not a ccxt exchange", source="sources")
        types = MARKET_TYPES.get(venue, {})
        wanted = sorted({types["swap" if m.is_swap else "spot"] for m in self.venue_markets if types})
        options: dict[str, Any] = {"fetchMarkets": {"types": wanted}} if wanted else {}
        exchange = cls({"timeout": int(self.timeout * 1000), "enableRateLimit": True, "options": options})
        if api_base:
            point_at(exchange, api_base)
        original = exchange.on_rest_response

        def on_rest_response(*args: Any) -> Any:  # (code, reason, url, method, headers, body, ...)
            code, headers, body = int(args[0]), args[4], args[5]
            self._status = (code, headers or {})
            if code < 400 and isinstance(body, str) and body.strip():
                _require_json(body)
            return original(*args)

        exchange.on_rest_response = on_rest_response
        return exchange

    async def close(self) -> None:
        await self.exchange.close()

    async def poll(self, now: float) -> list[Tick]:
        self.gate.check()
        ticks: list[Tick] = []
        self.last_errors = []
        for vm in self.venue_markets:
            try:
                ticks.append(await self._poll_market(vm, now))
            except SourceError as err:
                self.last_errors.append(err)
                log.warning("venue_market_failed", source=self.name, market=vm.market, reason=err.reason)
                if err.reason == "rate_limited":
                    break
        if self.last_errors and not ticks:
            raise self.last_errors[0]
        return ticks

    async def _poll_market(self, vm: VenueMarket, now: float) -> Tick:
        ticker = await self._call("fetch_ticker", vm.symbol)
        book = await self._call("fetch_order_book", vm.symbol, self.book_limit)
        funding = await self._call("fetch_funding_rate", vm.symbol) if vm.is_swap else None
        market = self.exchange.market(vm.symbol)
        return self._tick(
            vm,
            ticker=as_mapping(self.name, ticker, "ticker"),
            book=as_mapping(self.name, book, "book"),
            funding=funding,
            market=market,
            now=now,
        )

    async def _call(self, method: str, *args: Any) -> Any:
        self._status = None
        try:
            return await getattr(self.exchange, method)(*args)
        except ccxt_errors.BaseError as exc:
            raise self._map_error(method, exc) from None
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            # ccxt's parsers fail this way on garbage values (e.g. "NaN" strings in a ticker): the
            # venue's answer is malformed. Only the ccxt call itself is inside this try.
            raise SourceError(self.name, "malformed", f"{method}: {type(exc).__name__}: {exc}") from None

    def _map_error(self, method: str, exc: ccxt_errors.BaseError) -> SourceError:
        code, headers = self._status or (0, {})
        detail = f"{method}: {type(exc).__name__}: {str(exc)[:160]}"
        if code == 429 or isinstance(exc, ccxt_errors.RateLimitExceeded | ccxt_errors.DDoSProtection):
            return self.gate.block(parse_retry_after(_header(headers, "Retry-After")))
        if isinstance(exc, ccxt_errors.RequestTimeout):
            return SourceError(self.name, "timeout", detail)
        if code >= 400:
            return SourceError(self.name, f"http_{code}", detail)
        if isinstance(exc, ccxt_errors.BadResponse | ccxt_errors.NullResponse):
            return SourceError(self.name, "malformed", detail)
        if isinstance(exc, ccxt_errors.NetworkError):
            return SourceError(self.name, "unreachable", detail)
        return SourceError(self.name, "api_error", detail)

    def _tick(
        self,
        vm: VenueMarket,
        *,
        ticker: Mapping[str, Any],
        book: Mapping[str, Any],
        funding: Any,
        market: Any,
        now: float,
    ) -> Tick:
        src = self.name
        price = number(src, ticker.get("last"), f"{vm.symbol} last", positive=True)
        bids = _levels(src, book.get("bids"), f"{vm.symbol} bids")
        asks = _levels(src, book.get("asks"), f"{vm.symbol} asks")
        bid = bids[0][0] if bids else optional_number(src, ticker.get("bid"), "bid", positive=True)
        ask = asks[0][0] if asks else optional_number(src, ticker.get("ask"), "ask", positive=True)
        if bid is not None and ask is not None and bid > ask:
            raise SourceError(src, "malformed", f"{vm.symbol}: crossed book, bid {bid} > ask {ask}")
        mid = (bid + ask) / 2 if bid is not None and ask is not None else price
        contract = optional_number(src, market.get("contractSize"), "contractSize", positive=True) or 1.0
        depth_bid, depth_ask = depth_within_band(bids, asks, mid, contract_size=contract)
        stamp = optional_number(src, ticker.get("timestamp"), "timestamp", positive=True)
        return Tick(
            ts=stamp / 1000.0 if stamp else now,
            market=vm.market,
            source=src,
            price=price,
            bid=bid,
            ask=ask,
            volume=self._quote_volume(ticker, market, price),
            depth_bid=depth_bid if bids else None,
            depth_ask=depth_ask if asks else None,
            funding_rate=self._funding_8h(funding) if funding is not None else None,
            pool=self.pool,
        )

    def _quote_volume(self, ticker: Mapping[str, Any], market: Any, price: float) -> float | None:
        """24 h volume in quote units; for contracts ccxt may only give a base or contract count."""
        quote = optional_number(self.name, ticker.get("quoteVolume"), "quoteVolume")
        if quote is not None:
            return quote
        info = ticker.get("info") or {}
        if market.get("contract") and isinstance(info, Mapping) and info.get("volCcy24h") not in (None, ""):
            return number(self.name, info["volCcy24h"], "volCcy24h") * price  # OKX: base amount
        base = optional_number(self.name, ticker.get("baseVolume"), "baseVolume")
        size = optional_number(self.name, market.get("contractSize"), "contractSize", positive=True) or 1.0
        return None if base is None else base * size * price

    def _funding_8h(self, funding: Any) -> float:
        info = as_mapping(self.name, funding, "funding rate")
        rate = number(self.name, info.get("fundingRate"), "fundingRate")
        interval = info.get("interval") or f"{FUNDING_HOURS:g}h"
        match = re.fullmatch(r"(\d+(?:\.\d+)?)h", str(interval))
        if not match or float(match.group(1)) <= 0:
            raise SourceError(self.name, "malformed", f"funding interval {interval!r}")
        return rate * FUNDING_HOURS / float(match.group(1))


def _levels(source: str, raw: Any, where: str) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for i, level in enumerate(as_list(source, raw, where)):
        row = as_list(source, level, f"{where}[{i}]")
        if len(row) < 2:
            raise SourceError(source, "malformed", f"{where}[{i}] = {row!r}")
        out.append(
            (
                number(source, row[0], f"{where}[{i}] price", positive=True),
                number(source, row[1], f"{where}[{i}] amount"),
            )
        )
    return out


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _require_json(body: str) -> None:
    try:
        json.loads(body)
    except ValueError as exc:
        raise ccxt_errors.BadResponse(f"body is not JSON ({exc}): {body[:80]!r}") from None
