"""Liquidation-cascade add-on to a lending market's liquidation threshold (issue 13, item 4).

    add-on_bp = clip(a * max(0, p_cascade - p_ref) + b * systemic, 0, max_addon_bp)
    LT        = 10000 - MM - liquidation_buffer - add-on        (then the DAO's bounds, as every field)

p_cascade: P(the market's liquidated USD over the next 24 hours exceeds its top-decile day), from a
pooled logistic regression shipped as a small JSON artifact (`models/artifacts/cascade/`, sha256
pinned here), fitted and its constants chosen on data before 2021-05-01 only
(`research/cascade/addon_fit.py`, docs/cascade.md). Two feature sets, both in the artifact:

- `full`: the price features below plus the liquidations of the market's collateral over the last
  24 hours (log1p count, log1p USD in millions) from the node's liquidation feed;
- `price_only`: the price features alone. Used, and the add-on flagged
  `cascade_no_liquidation_feed`, when no liquidation feed is configured: never a silent zero count.

Price features from the market's daily closes (the last one may be the partial day at the current
price, as the node's history has it): `ret_1d` = log(close[-1] / close[-2]); `drawdown_30d` =
log(close[-1] / max of the last 31 closes); `vol_ratio` = log(RMS of the last 7 daily log returns /
RMS of the last 30). systemic: the DebtRank score of the market's collateral asset (share of the
lending network's value lost if it falls by the artifact's shock), also in the artifact.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from oracle_node.errors import ModelError

ARTIFACT = (
    Path(__file__).resolve().parent.parent / "models" / "artifacts" / "cascade" / "cascade_addon_v1.json"
)
ARTIFACT_SHA256 = "6a2e15116e52fa0423c81bc342b0d1248e1c2c6169a88cb4143fd919755c17b3"
PRICE_FEATURES = ("ret_1d", "drawdown_30d", "vol_ratio")
LIQ_FEATURES = ("liq_log_count_24h", "liq_log_musd_24h")
NO_FEED = "cascade_no_liquidation_feed"
SHORT_HISTORY = "cascade_short_history"
MIN_CLOSES = 31
DAY = 86400.0


def price_features(close: np.ndarray) -> dict[str, float]:
    """The price features of the module docstring from daily closes (the last may be partial)."""
    c = np.asarray(close, dtype=np.float64)[-MIN_CLOSES:]
    r = np.diff(np.log(c))
    rms7, rms30 = math.sqrt(float(np.mean(r[-7:] ** 2))), math.sqrt(float(np.mean(r[-30:] ** 2)))
    return {
        "ret_1d": float(r[-1]),
        "drawdown_30d": float(math.log(c[-1] / c.max())),
        "vol_ratio": math.log(max(rms7, 1e-6) / max(rms30, 1e-6)),
    }


def liquidation_features(ts: np.ndarray, usd: np.ndarray, now: float) -> dict[str, float]:
    """log1p count and log1p USD (millions) of the events in (now - 1 day, now]."""
    keep = (ts > now - DAY) & (ts <= now)
    return {
        "liq_log_count_24h": math.log1p(float(keep.sum())),
        "liq_log_musd_24h": math.log1p(float(usd[keep].sum()) / 1e6),
    }


@dataclass(frozen=True)
class Logit:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def p(self, x: dict[str, float]) -> float:
        z = (np.array([x[f] for f in self.features]) - self.mean) / self.scale
        return float(1.0 / (1.0 + math.exp(-(float(z @ self.coef) + self.intercept))))


@dataclass(frozen=True)
class CascadeModel:
    """The artifact: two logits with their add-on constants (p_ref, a_bp), b_bp, the systemic scores
    per collateral asset."""

    sha256: str
    logits: dict[str, Logit]
    p_ref: dict[str, float]
    a_bp: dict[str, float]
    b_bp: float
    systemic: dict[str, float]

    @classmethod
    def from_json(cls, doc: dict, sha256: str) -> CascadeModel:
        def logit(d: dict) -> Logit:
            arr = {k: np.array(d[k], dtype=np.float64) for k in ("mean", "scale", "coef")}
            return Logit(tuple(d["features"]), arr["mean"], arr["scale"], arr["coef"], float(d["intercept"]))

        try:
            c = doc["addon"]["by_model"]
            names = ("full", "price_only")
            return cls(sha256, {n: logit(doc["models"][n]) for n in names},
                       {n: float(c[n]["p_ref"]) for n in names}, {n: float(c[n]["a_bp"]) for n in names},
                       float(doc["addon"]["b_bp"]), {k: float(v) for k, v in doc["systemic"]["scores"].items()})  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"cascade artifact: bad or missing field {exc}") from None


def load_model(path: Path = ARTIFACT, sha256: str | None = None) -> CascadeModel:
    """The artifact, checked against its pinned sha256 (ModelError on a missing or changed file)."""
    want = ARTIFACT_SHA256 if sha256 is None else sha256
    try:
        raw = path.read_bytes()
    except OSError:
        raise ModelError(f"cascade artifact {path} is missing (pinned sha256 {want})") from None
    got = hashlib.sha256(raw).hexdigest()
    if got != want:
        raise ModelError(f"cascade artifact {path}: sha256 {got}, pinned {want}")
    return CascadeModel.from_json(json.loads(raw), got)


@cache
def bundled_model() -> CascadeModel:
    return load_model()


@dataclass(frozen=True)
class CascadeAddon:
    """One market's add-on in one round: what the attribution record carries."""

    addon_bp: int
    p_cascade: float
    p_ref: float
    systemic: float
    collateral: str
    model: str  # "full" or "price_only"
    features: dict[str, float]
    artifact_sha256: str
    flags: frozenset[str] = field(default_factory=frozenset)


def addon_bp(p: float, systemic: float, p_ref: float, a_bp: float, b_bp: float, max_bp: int) -> int:
    """clip(a max(0, p - p_ref) + b systemic, 0, max), rounded up (the add-on is protective)."""
    raw = a_bp * max(0.0, p - p_ref) + b_bp * systemic
    return int(min(max(math.ceil(raw - 1e-9), 0), max_bp))


def cascade_addon(
    model: CascadeModel,
    close: np.ndarray,
    collateral: str,
    max_bp: int,
    liquidations: tuple[np.ndarray, np.ndarray] | None,
    now: float,
) -> CascadeAddon:
    """The add-on from the market's closes and, when a feed is configured, its liquidations
    (event times, USD) known at `now`. Fewer than MIN_CLOSES closes: add-on 0, flagged."""
    systemic = model.systemic.get(collateral, 0.0)
    name = "price_only" if liquidations is None else "full"
    flags = frozenset({NO_FEED}) if liquidations is None else frozenset()
    if len(close) < MIN_CLOSES:
        return CascadeAddon(0, 0.0, model.p_ref[name], systemic, collateral, name, {}, model.sha256,
                            flags | {SHORT_HISTORY})  # fmt: skip
    x = price_features(close)
    if liquidations is not None:
        x |= liquidation_features(liquidations[0], liquidations[1], now)
    p = model.logits[name].p(x)
    bp = addon_bp(p, systemic, model.p_ref[name], model.a_bp[name], model.b_bp, max_bp)
    return CascadeAddon(bp, p, model.p_ref[name], systemic, collateral, name, x, model.sha256, flags)
