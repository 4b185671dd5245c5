"""The report's inputsHash: a commitment to exactly which guarded inputs produced the parameters.

keccak256 of a canonical JSON document (sorted keys, no spaces, floats in Python's shortest repr):
    [{"market": m, "price": aggregate, "sources": [[source, ts, price], ...]}, ...]
with markets sorted by id and each market's accepted sources sorted by name. An operator who keeps the
node's store can reproduce the hash for any published round and show which quotes were used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from eth_utils import keccak


@dataclass(frozen=True)
class MarketInputs:
    market: str
    aggregate_price: float
    accepted: tuple[tuple[str, float, float], ...]  # (source, ts, price)


def canonical_inputs(items: Iterable[MarketInputs]) -> bytes:
    doc = [
        {"market": i.market, "price": i.aggregate_price, "sources": [list(s) for s in sorted(i.accepted)]}
        for i in sorted(items, key=lambda x: x.market)
    ]
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def inputs_hash(items: Iterable[MarketInputs]) -> bytes:
    return keccak(canonical_inputs(items))
