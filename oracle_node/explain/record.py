"""The attribution record of one market in one round: canonical bytes, hash, and how to read it back.

Canonical form: JSON with sorted keys, no spaces, ASCII only, and no JSON numbers for measured values:
every float is a string in fixed scientific notation with 9 significant digits (`num`), so every
platform hashes the same bytes; its keccak256 goes into the inputs document (reports/inputs.py).

    {"schema": "mlra.attribution/1", "market", "ts" (data time, unix s), "model", "model_hash",
     "tolerance" (the ensemble's), "baseline" (its model name),
     "branch": "ml" | "baseline_floor" | "fallback_baseline" | "mixed" | "other" (all fields' branch),
     "fields": {field: {"published", "baseline", "floor" ((1 - tolerance) x baseline), "branch"}} for sigma_1d, var99, es99, var99_short, es99_short,
     "flags": [...the published forecast's flags],
     "ml": null (the ML model did not serve the market) or
           {"method", "library", "explain_sha256", "features": {name: value} (the observed row),
            "scale": {name: value}, "rows" (rows the ensemble evaluated: 1 on a closed day, 33 on a
            partial day), "elapsed" (w), "anchor_factor": {q_lo, q_hi} (explain/served.py),
            "error": null or why no attribution could be made,
            "explains_published": whether the attributed sigma_1d is the published one (null when the
                                  floor set sigma_1d or there are no outputs),
            "outputs": {output: {"expected", "value", "contributions": {feature: phi}}}},
     "cascade" (only for a market whose cascade add-on is enabled, risk/cascade_addon.py):
           {"addon_bp" (decimal string: LT was lowered by this before the DAO's bounds), "p_cascade",
            "p_ref", "systemic", "collateral", "model" ("full" | "price_only"), "features": {name: value},
            "flags": [...] (cascade_no_liquidation_feed, cascade_short_history), "artifact_sha256"}

The ML outputs are the log-return quantiles the ensemble served (q_lo: 1 %, drives the long side; q_hi:
99 %, the short side; on a partial day the stabilised combination of models.partial_day, split exactly
by explain/served.py) and sigma_1d = (q_hi - q_lo) / (2 |t_nu(alpha)|), whose contributions follow
exactly from the two (SHAP values are linear in the output): expected + sum(contributions) = value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from oracle_node.errors import ModelError
from oracle_node.risk.cascade_addon import CascadeAddon

SCHEMA = "mlra.attribution/1"
FIELDS: tuple[str, ...] = ("sigma_1d", "var99", "es99", "var99_short", "es99_short")
BRANCHES = ("ml", "baseline_floor", "fallback_baseline", "other")


def num(x: float) -> str:
    """A float as the record writes it (ModelError on NaN or infinity)."""
    if not math.isfinite(x):
        raise ModelError(f"attribution record: non-finite value {x!r}")
    return f"{x:.8e}"


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def record_hash(record: bytes) -> bytes:
    return keccak(record)


def cascade_block(addon: CascadeAddon) -> dict[str, Any]:
    """The record's "cascade" part (module docstring), canonical like the rest."""
    return {
        "addon_bp": str(addon.addon_bp),
        "p_cascade": num(addon.p_cascade),
        "p_ref": num(addon.p_ref),
        "systemic": num(addon.systemic),
        "collateral": addon.collateral,
        "model": addon.model,
        "features": {k: num(v) for k, v in sorted(addon.features.items())},
        "flags": sorted(addon.flags),
        "artifact_sha256": addon.artifact_sha256,
    }


def with_cascade(record: bytes, addon: CascadeAddon) -> bytes:
    """The canonical record with the market's cascade part added."""
    doc = parse(record)
    doc["cascade"] = cascade_block(addon)
    return encode(doc)


@dataclass(frozen=True)
class Driver:
    feature: str
    value: float
    contribution: float
    share: float  # |contribution| / sum |contributions| of the output


def parse(record: bytes | str) -> dict[str, Any]:
    """The record as a dict (ModelError when it is not a version-1 attribution record)."""
    try:
        doc = json.loads(record)
    except ValueError as exc:
        raise ModelError(f"attribution record is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ModelError(
            f"attribution record: schema {doc.get('schema') if isinstance(doc, dict) else None!r}, expected {SCHEMA!r}"
        )
    return doc


def top_drivers(doc: dict[str, Any], output: str, k: int) -> list[Driver]:
    """The k features with the largest |contribution| to `output` (ties: feature name)."""
    ml = doc.get("ml") or {}
    out = (ml.get("outputs") or {}).get(output)
    if out is None:
        return []
    phi = {f: float(v) for f, v in out["contributions"].items()}
    total = sum(abs(v) for v in phi.values()) or 1.0
    ranked = sorted(phi, key=lambda f: (-abs(phi[f]), f))[:k]
    features = ml.get("features", {})
    return [Driver(f, float(features.get(f, "nan")), phi[f], abs(phi[f]) / total) for f in ranked]
