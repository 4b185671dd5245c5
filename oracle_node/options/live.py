"""Live Deribit chains (sources.deribit) as the fitter's OptionChain (options.chain).

The live book summary carries what the snapshot CSVs carry, in other units: `mark_iv` in percent,
expiries as unix seconds, `underlying_price` = the expiry's future, or Deribit's synthetic forward
when `underlying_index` is "SYN.*" (then no future is quoted: the fitter takes put-call parity).
Times to expiry use 365.25-day years, as Deribit's `time_to_maturity` does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from oracle_node.options.chain import OptionChain, OptionQuote
from oracle_node.sources import deribit

YEAR_S = 365.25 * 86_400


def quote_from_live(
    q: deribit.OptionQuote, currency: str, index_price: float, now: float, line: int
) -> OptionQuote:
    future = None if q.underlying.startswith("SYN.") else q.underlying_price
    return OptionQuote(
        line=line,
        instrument=q.instrument,
        currency=currency,
        option_type=q.option_type,
        strike=q.strike,
        expiry=datetime.fromtimestamp(q.expiry, UTC),
        t=max(q.expiry - now, 0.0) / YEAR_S,
        bid=q.bid_btc,
        ask=q.ask_btc,
        mark=q.mark_btc,
        futures_price=future,
        underlying_price=q.underlying_price,
        index_price=index_price,
        open_interest=q.open_interest,
        volume=q.volume,
        mark_iv=q.mark_iv,
        delta=None,
        vega=None,
    )


def chain_from_live(chains: Sequence[deribit.OptionChain], now: float) -> OptionChain:
    """One OptionChain of every currency's live quotes, observed at `now` (expired quotes dropped)."""
    quotes, line = [], 1
    for chain in chains:
        for q in chain.quotes:
            if q.expiry > now:
                line += 1
                quotes.append(quote_from_live(q, chain.currency, chain.index_price, now, line))
    return OptionChain(
        f"deribit live {','.join(c.currency for c in chains)}",
        datetime.fromtimestamp(now, UTC),
        tuple(quotes),
    )


def inputs_hash(chains: Sequence[deribit.OptionChain]) -> bytes:
    """sha256 of the quotes a surface was fitted from (canonical JSON), for the report's inputsHash."""
    rows = [
        [
            c.currency,
            c.index_price,
            q.instrument,
            q.bid_btc,
            q.ask_btc,
            q.mark_btc,
            q.underlying_price,
            q.open_interest,
        ]
        for c in chains
        for q in c.quotes
    ]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).digest()
