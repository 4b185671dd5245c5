from __future__ import annotations

from eth_utils import keccak

from oracle_node.reports.inputs import MarketInputs, canonical_inputs, inputs_hash

A = MarketInputs("BTC-USD", 7937.3, (("venue_a", 1.0, 7940.0), ("binance_spot", 1.0, 7937.3)))
B = MarketInputs("ETH-USD", 203.4, (("binance_spot", 1.0, 203.4),))


def test_inputs_hash__order_of_markets_and_sources__does_not_matter() -> None:
    flipped = MarketInputs(A.market, A.aggregate_price, tuple(reversed(A.accepted)))
    assert inputs_hash([A, B]) == inputs_hash([B, flipped])


def test_inputs_hash__canonical_document__is_keccak_of_sorted_json() -> None:
    doc = canonical_inputs([A])
    assert doc == (
        b'[{"market":"BTC-USD","price":7937.3,"sources":[["binance_spot",1.0,7937.3],["venue_a",1.0,7940.0]]}]'
    )
    assert inputs_hash([A]) == keccak(doc)


def test_inputs_hash__any_price_changes__hash_changes() -> None:
    moved = MarketInputs(B.market, B.aggregate_price, (("binance_spot", 1.0, 203.41),))
    assert inputs_hash([A, B]) != inputs_hash([A, moved])
