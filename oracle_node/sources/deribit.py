"""Deribit option chains over public REST (JSON-RPC over HTTP GET), parsed to typed quotes.

Calls `public/get_index_price?index_name=<ccy>_usd` and
`public/get_book_summary_by_currency?currency=<CCY>&kind=option`. Deribit options are inverse: prices
are in the base coin (BTC); USD values here are the coin price times the *index* price at the
snapshot (Deribit's own convention for USD premium). `mark_iv` is published in percent (60.34) and
kept as a fraction (0.6034). Expiries are 08:00 UTC on the instrument's date.

A chain whose envelope is wrong (not JSON, no `result` list, an error object) is a `SourceError`;
a single instrument with a missing or bad field is skipped and listed in `OptionChain.skipped`
(one broken row must not drop the surface), unless no instrument survives (`malformed`).
`poll(now)` returns one Tick: the Deribit index as a price source (`pool="deribit_index"`, since the
index is itself a composite of spot venues) and keeps the chain in `last_chain`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from oracle_node.errors import SourceError
from oracle_node.sources.base import as_list, as_mapping, field_of, number, optional_number
from oracle_node.sources.http import JsonHttp
from oracle_node.sources.tick import Tick

DERIBIT_URL = "https://www.deribit.com"
RATE_LIMIT_CODES = frozenset({10028})  # too_many_requests
_INSTRUMENT = re.compile(
    r"^(?P<ccy>[A-Z_]+)-(?P<day>\d{1,2})(?P<mon>[A-Z]{3})(?P<yy>\d{2})-(?P<strike>[\dd.]+)-(?P<cp>[CP])$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """One option's book summary. Prices in the base coin (`*_btc`) and in USD at the index price."""

    instrument: str
    underlying: str
    strike: float
    expiry: float
    option_type: Literal["call", "put"]
    mark_iv: float
    bid_btc: float | None
    ask_btc: float | None
    mark_btc: float
    bid_usd: float | None
    ask_usd: float | None
    mark_usd: float
    underlying_price: float
    open_interest: float
    volume: float | None
    ts: float

    def time_to_expiry(self, now: float) -> float:
        """Years (365 days) from now to expiry."""
        return max(0.0, self.expiry - now) / (365.0 * 86400.0)


@dataclass(frozen=True)
class OptionChain:
    currency: str
    index_price: float
    ts: float
    quotes: tuple[OptionQuote, ...]
    skipped: tuple[str, ...]

    def expiries(self) -> tuple[float, ...]:
        return tuple(sorted({q.expiry for q in self.quotes}))


def parse_instrument(name: str) -> tuple[str, float, float, Literal["call", "put"]]:
    """`BTC-27FEB26-75000-C` -> ("BTC", strike, expiry unix s at 08:00 UTC, "call"); ValueError if not."""
    m = _INSTRUMENT.match(name)
    if not m or m["mon"] not in _MONTHS:
        raise ValueError(f"not an option instrument name: {name!r}")
    expiry = datetime(2000 + int(m["yy"]), _MONTHS[m["mon"]], int(m["day"]), 8, tzinfo=UTC).timestamp()
    kind: Literal["call", "put"] = "call" if m["cp"] == "C" else "put"
    return m["ccy"], float(m["strike"].replace("d", ".")), expiry, kind


def unwrap(source: str, body: object, method: str) -> Any:
    """The `result` of a Deribit JSON-RPC answer, or SourceError for an `error` object."""
    envelope = as_mapping(source, body, method)
    error = envelope.get("error")
    if error is not None:
        err = as_mapping(source, error, f"{method} error")
        code = err.get("code")
        reason = "rate_limited" if code in RATE_LIMIT_CODES else "api_error"
        raise SourceError(source, reason, f"{method}: code {code}: {err.get('message')}")
    return field_of(source, envelope, "result", method)


def parse_quote(source: str, row: Mapping[str, Any], index_price: float) -> OptionQuote:
    name = str(field_of(source, row, "instrument_name", "book summary"))
    try:
        _, strike, expiry, kind = parse_instrument(name)
    except ValueError as exc:
        raise SourceError(source, "malformed", str(exc)) from None

    def num(key: str, *, positive: bool = False) -> float:
        return number(source, field_of(source, row, key, name), f"{name} {key}", positive=positive)

    def opt(key: str) -> float | None:
        return optional_number(source, row.get(key), f"{name} {key}", positive=True)

    bid, ask, mark = opt("bid_price"), opt("ask_price"), num("mark_price")
    return OptionQuote(
        instrument=name,
        underlying=str(row.get("underlying_index") or ""),
        strike=strike,
        expiry=expiry,
        option_type=kind,
        mark_iv=num("mark_iv", positive=True) / 100.0,
        bid_btc=bid,
        ask_btc=ask,
        mark_btc=mark,
        bid_usd=None if bid is None else bid * index_price,
        ask_usd=None if ask is None else ask * index_price,
        mark_usd=mark * index_price,
        underlying_price=num("underlying_price", positive=True),
        open_interest=num("open_interest"),
        volume=optional_number(source, row.get("volume"), f"{name} volume"),
        ts=num("creation_timestamp", positive=True) / 1000.0,
    )


def parse_chain(source: str, currency: str, summary: object, index_price: float, now: float) -> OptionChain:
    rows = as_list(source, summary, "book summary result")
    quotes: list[OptionQuote] = []
    skipped: list[str] = []
    for i, raw in enumerate(rows):
        try:
            quotes.append(parse_quote(source, as_mapping(source, raw, f"result[{i}]"), index_price))
        except SourceError as err:
            skipped.append(f"result[{i}]: {err.reason}: {err.detail}")
    if rows and not quotes:
        raise SourceError(source, "malformed", f"no valid option in {len(rows)} rows; first: {skipped[0]}")
    quotes.sort(key=lambda q: (q.expiry, q.strike, q.option_type))
    ts = max((q.ts for q in quotes), default=now)
    return OptionChain(currency, index_price, ts, tuple(quotes), tuple(skipped))


class DeribitOptionsSource:
    """Polls one currency's option chain and index; a `LiveSource` for the index price."""

    def __init__(
        self,
        currency: str = "BTC",
        market: str = "BTC-USD",
        *,
        name: str = "deribit",
        base_url: str = DERIBIT_URL,
        timeout: float = 5.0,
    ) -> None:
        self.currency, self.name = currency.upper(), name
        self.markets = (market,)
        self.http = JsonHttp(name, base_url, timeout)
        self.last_chain: OptionChain | None = None

    async def index_price(self) -> float:
        body = await self.http.get(
            "/api/v2/public/get_index_price", {"index_name": f"{self.currency.lower()}_usd"}
        )
        result = as_mapping(self.name, unwrap(self.name, body, "get_index_price"), "get_index_price result")
        return number(self.name, field_of(self.name, result, "index_price"), "index_price", positive=True)

    async def fetch_chain(self, now: float) -> OptionChain:
        index = await self.index_price()
        params = {"currency": self.currency, "kind": "option"}
        body = await self.http.get("/api/v2/public/get_book_summary_by_currency", params)
        chain = parse_chain(
            self.name, self.currency, unwrap(self.name, body, "get_book_summary_by_currency"), index, now
        )
        self.last_chain = chain
        return chain

    async def poll(self, now: float) -> list[Tick]:
        chain = await self.fetch_chain(now)
        return [
            Tick(
                ts=now,
                market=self.markets[0],
                source=self.name,
                price=chain.index_price,
                pool="deribit_index",
            )
        ]

    async def close(self) -> None:
        await self.http.close()
