"""The report's inputsHash: a commitment to exactly which guarded inputs produced the parameters, and
to the explanation the node recorded for them.

keccak256 of a canonical JSON document (sorted keys, no spaces, floats in Python's shortest repr):
    [{"market": m, "price": aggregate, "sources": [[source, ts, price], ...],
      "attribution": "0x<keccak256 of the market's attribution record>"}, ...]
with markets sorted by id and each market's accepted sources sorted by name. An operator who keeps the
node's store can reproduce the hash for any published round, show which quotes were used and which
features drove the published values (oracle_node/explain/record.py; docs/attribution.md).

A market entry without "attribution" is the version-1 format (before issue 12: nodes that record no
explanation); its meaning is unchanged, and a document with no attribution hashes byte for byte as
before. In a network this is each node's own observation's inputsHash; the report's inputsHash is the
keccak of the included observations' digests (network/median.py), so peers verify observations
without ever recomputing another node's attributions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak


@dataclass(frozen=True)
class MarketInputs:
    market: str
    aggregate_price: float
    accepted: tuple[tuple[str, float, float], ...]  # (source, ts, price)
    attribution: bytes | None = None  # keccak256 of the market's attribution record


def _entry(i: MarketInputs) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "market": i.market,
        "price": i.aggregate_price,
        "sources": [list(s) for s in sorted(i.accepted)],
    }
    if i.attribution is not None:
        if len(i.attribution) != 32:
            raise ValueError(f"{i.market}: attribution hash must be 32 bytes, got {len(i.attribution)}")
        entry["attribution"] = "0x" + i.attribution.hex()
    return entry


def canonical_inputs(items: Iterable[MarketInputs]) -> bytes:
    doc = [_entry(i) for i in sorted(items, key=lambda x: x.market)]
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def inputs_hash(items: Iterable[MarketInputs]) -> bytes:
    return keccak(canonical_inputs(items))


def attribution_hashes(document: bytes | str) -> dict[str, str]:
    """{market: 0x-hash} of the attribution hashes a canonical inputs document commits to."""
    return {e["market"]: e["attribution"] for e in json.loads(document) if "attribution" in e}
