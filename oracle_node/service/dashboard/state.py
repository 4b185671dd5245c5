"""The dashboard's panels as plain JSON-ready dicts, from values the node already holds (pure: no I/O).

- `field_rows`: one market's eight fields side by side (on-chain, wanted by the model, signed after
  the DAO-bounds projection) with where each stands between the DAO's floor and ceiling and how much of
  the next update's max-change step the wanted move needs (over 100 %: held back by the bounds);
- `market_flags`: the pipeline's own flags plus what the page derives (held back, near a bound,
  paused, breaker open, drift);
- `accepted_rows` / `peer_rows`: the recent accepted rounds (leader, signers, gas, latency) and each
  signer's health;
- `smile_rows`: per underlying and expiry, SVI parameters, ATM vol and a small curve to draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oracle_node.options.onchain import SmileWord
from oracle_node.risk.project import allowed_range
from oracle_node.types import BPS, RISK_FIELDS, OnchainBounds, RiskParamsBps

NEAR_PCT = 10.0  # a stored value within 10 % of the floor-to-ceiling span of a bound is flagged near it
HEALTHY_ROUNDS = 5  # a signer seen (on-chain signature or observation) within this many rounds is "ok"
SMILE_K = tuple(x / 20 for x in range(-8, 9))  # log-moneyness points of the drawn curves
YEAR_S = 365 * 86400  # the VolSurfaceOracle's year (t = tau / 365 days)


def _pct(value: int | None, lo: int, hi: int) -> float | None:
    if value is None:
        return None
    if hi <= lo:
        return 100.0
    return round(100.0 * (value - lo) / (hi - lo), 2)


def field_rows(
    stored: RiskParamsBps | None,
    wanted: RiskParamsBps | None,
    signed: RiskParamsBps | None,
    bounds: OnchainBounds,
) -> list[dict[str, Any]]:
    """Each field: values (bp), the DAO bounds, the stored value's position floor->ceiling (%), the
    max-change step of the next update (bp) and the share of it the wanted move needs (%)."""
    rows = []
    for i, name in enumerate(RISK_FIELDS):
        f = bounds.fields[i]
        s = stored.as_tuple()[i] if stored is not None else None
        w = wanted.as_tuple()[i] if wanted is not None else None
        relative = bounds.is_relative(i)
        step = None if s is None else (s * f.max_change // BPS if relative else f.max_change)
        lo, hi = allowed_range(i, s, bounds)
        used = None
        if s is not None and w is not None and step is not None:
            used = 0.0 if w == s else (round(100.0 * abs(w - s) / step, 1) if step > 0 else math.inf)
        position = _pct(s, f.floor, f.ceiling)
        rows.append({
            "field": name, "onchain": s, "wanted": w,
            "signed": signed.as_tuple()[i] if signed is not None else None,
            "floor": f.floor, "ceiling": f.ceiling, "max_change": f.max_change, "relative": relative,
            "position_pct": position, "wanted_pct": _pct(w, f.floor, f.ceiling),
            "step_bp": step, "step_lo": lo, "step_hi": hi,
            "step_used_pct": None if used is None or math.isinf(used) else used,
            "held_back": w is not None and not lo <= w <= hi,
            "near": _near(position),
        })  # fmt: skip
    return rows


def _near(position: float | None) -> str | None:
    if position is None:
        return None
    if position <= NEAR_PCT:
        return "floor"
    return "ceiling" if position >= 100.0 - NEAR_PCT else None


@dataclass(frozen=True)
class MarketStatus:
    """What the node knows about one market besides its fields."""

    pipeline_flags: frozenset[str] = frozenset()
    unusable: str = ""  # ChainSnapshot.why_unusable: "" when a report may name the market
    breaker_open: bool = False
    drift: bool = False
    retrain: bool = False


def market_flags(rows: Sequence[Mapping[str, Any]], status: MarketStatus) -> list[str]:
    """The pipeline's flags, then the page's: bounded_by_dao (some field's wanted value is outside the
    next update's allowed range), near_floor:/near_ceiling:<field>, the chain's refusal, breaker, drift."""
    flags = set(status.pipeline_flags)
    if any(r["held_back"] for r in rows):
        flags.add("bounded_by_dao")
    flags |= {f"near_{r['near']}:{r['field']}" for r in rows if r["near"] is not None}
    if status.unusable:
        flags.add(status.unusable.replace(" ", "_"))
    for on, name in ((status.breaker_open, "breaker_open"), (status.drift, "drift"),
                     (status.retrain, "retrain_requested")):  # fmt: skip
        if on:
            flags.add(name)
    return sorted(flags)


@dataclass(frozen=True)
class AcceptedRound:
    """A RiskReportAccepted event with its transaction: who submitted it, at what cost, when."""

    round: int
    epoch: int
    signer_bitmap: int
    block: int
    block_time: int
    tx_hash: str
    leader: str
    gas_used: int

    def signer_indices(self) -> list[int]:
        return [i for i in range(self.signer_bitmap.bit_length()) if self.signer_bitmap >> i & 1]


def _addr(signers: Sequence[str], i: int) -> str:
    return signers[i] if i < len(signers) else f"index {i}"


def accepted_rows(
    accepted: Sequence[AcceptedRound],
    signers: Sequence[str],
    slot_time: Callable[[int], float],
    me: str,
    included_at: Mapping[int, float] | None = None,
) -> list[dict[str, Any]]:
    """Newest first: round, leader, signers, gas and latency from the round's slot start: to the
    including block's timestamp (whole seconds, the chain's clock) and, for a round this node
    submitted, to when it saw the receipt (`included_at`, its store's clock)."""
    rows, seen = [], included_at or {}
    for a in sorted(accepted, key=lambda x: x.round, reverse=True):
        names = [_addr(signers, i) for i in a.signer_indices()]
        mine = seen.get(a.round)
        rows.append({
            "round": a.round, "epoch": a.epoch, "leader": a.leader,
            "leader_is_me": a.leader.lower() == me.lower(), "signers": names, "signer_count": len(names),
            "gas_used": a.gas_used, "block_latency_s": round(a.block_time - slot_time(a.round), 3),
            "latency_s": None if mine is None else round(mine - slot_time(a.round), 3),
            "block": a.block, "tx_hash": a.tx_hash,
        })  # fmt: skip
    return rows


def missed_rounds(due: Iterable[int], accepted: Iterable[int], newest_accepted: int) -> list[int]:
    """Rounds this node had something due for that no accepted report carries, although a later round
    was accepted (so the round is over): the network missed them."""
    landed = set(accepted)
    return sorted(r for r in due if r < newest_accepted and r not in landed)


def peer_rows(
    signers: Sequence[str],
    me: str,
    accepted: Sequence[AcceptedRound],
    observations: Mapping[str, Mapping[str, Any]],
    urls: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Each on-chain signer: last round it co-signed, last observation this node holds of it, health
    ("ok" when seen within HEALTHY_ROUNDS of the newest round known, "lagging" when seen earlier,
    "silent" when never)."""
    lower = [s.lower() for s in signers]
    last_signed: dict[str, int] = {}
    for a in accepted:
        for i in a.signer_indices():
            if i < len(lower):
                last_signed[lower[i]] = max(last_signed.get(lower[i], 0), a.round)
    newest = max([a.round for a in accepted] + [int(o["round"]) for o in observations.values()], default=0)
    rows = []
    for address, low in zip(signers, lower, strict=True):
        obs = observations.get(low)
        seen = max(last_signed.get(low, -1), int(obs["round"]) if obs else -1)
        health = "silent" if seen < 0 else ("ok" if newest - seen < HEALTHY_ROUNDS else "lagging")
        rows.append({
            "address": address, "me": low == me.lower(), "url": urls.get(low), "health": health,
            "last_signed_round": last_signed.get(low), "last_observation": obs,
        })  # fmt: skip
    return rows


def observation_summary(obs: Mapping[str, Any]) -> dict[str, Any]:
    """A signed observation from a stored report body, with its params words decoded per market."""
    markets = {}
    for market, word in zip(obs["markets"], obs["params"], strict=True):
        p = RiskParamsBps.unpack(int(word))
        markets[market] = {"initial_margin": p.initial_margin, "maintenance_margin": p.maintenance_margin,
                           "liquidation_threshold": p.liquidation_threshold, "confidence": p.confidence}  # fmt: skip
    return {"round": int(obs["round"]), "observed_at": int(obs["observedAt"]), "markets": markets}


def smile_rows(surfaces: Mapping[str, Sequence[SmileWord]]) -> list[dict[str, Any]]:
    """Per underlying, per expiry: time to expiry, ATM vol, the SVI parameters and the implied-vol
    curve sqrt(w(k) / t) at SMILE_K (float maths: for display; the contract's own is exact)."""
    out = []
    for symbol, words in surfaces.items():
        expiries = []
        for w in sorted(words, key=lambda x: x.tau):
            a, b, rho, m, sigma = (x / 1e9 for x in w.params)
            t = w.tau / YEAR_S
            curve = [[k, _svi_vol(a, b, rho, m, sigma, k, t)] for k in SMILE_K]
            expiries.append({
                "tau_days": round(w.tau / 86400, 2), "atm_vol": w.atm_vol_bp() / BPS if w.tau > 0 else None,
                "a": a, "b": b, "rho": rho, "m": m, "sigma": sigma, "forward": w.forward / 1e6,
                "curve": curve,
            })  # fmt: skip
        out.append({"underlying": symbol, "expiries": expiries})
    return out


def _svi_vol(a: float, b: float, rho: float, m: float, sigma: float, k: float, t: float) -> float | None:
    w = a + b * (rho * (k - m) + math.sqrt((k - m) ** 2 + sigma**2))
    return round(math.sqrt(w / t), 5) if w > 0 and t > 0 else None
