"""The guard's memory between calls: small, immutable, and serialisable to JSON for the store."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from oracle_node.errors import DataError

_STATE_ORIGIN = "guard state"


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the guard remembers about one source of one market.

    last_ts / last_price: the source's last observation (a tick with a newer ts is a new observation).
    repeats: consecutive observations that repeated the previous price. frozen_moves: of those, how many saw
    the peers' median move. peer_ref: the peers' median at the last observation.
    activity: what the last observation said besides its price (volume, bid, ask, depth_bid,
    depth_ask; see checks.activity_of). idle: consecutive observations that repeated the price AND
    all of that: nothing the source reports changed (its data stopped updating).
    cusum_pos / cusum_neg: two-sided CUSUM of the log-deviation from the peers' median (excess over
    the slack). distrusted: drift alarm raised and not yet cleared; clean_obs counts in-line
    observations since, towards recovery.
    """

    source: str
    last_ts: float
    last_price: float
    repeats: int = 0
    frozen_moves: int = 0
    peer_ref: float | None = None
    cusum_pos: float = 0.0
    cusum_neg: float = 0.0
    distrusted: bool = False
    clean_obs: int = 0
    activity: tuple[float | None, ...] = ()
    idle: int = 0

    def evolve(self, **changes: Any) -> SourceState:
        """A copy with `changes` applied (spelled out: dataclasses.replace costs ~10 µs a call)."""
        get = changes.get
        return SourceState(
            source=get("source", self.source),
            last_ts=get("last_ts", self.last_ts),
            last_price=get("last_price", self.last_price),
            repeats=get("repeats", self.repeats),
            frozen_moves=get("frozen_moves", self.frozen_moves),
            peer_ref=get("peer_ref", self.peer_ref),
            cusum_pos=get("cusum_pos", self.cusum_pos),
            cusum_neg=get("cusum_neg", self.cusum_neg),
            distrusted=get("distrusted", self.distrusted),
            clean_obs=get("clean_obs", self.clean_obs),
            activity=get("activity", self.activity),
            idle=get("idle", self.idle),
        )


@dataclass(frozen=True, slots=True)
class GuardState:
    """Per-market guard memory. `sources` is sorted by name; absent sources keep their last state."""

    last_ts: float | None = None
    last_aggregate: float | None = None
    sources: tuple[SourceState, ...] = ()

    def source(self, name: str) -> SourceState | None:
        for entry in self.sources:
            if entry.source == name:
                return entry
        return None

    def updated(self, changed: Mapping[str, SourceState], now: float, aggregate: float | None) -> GuardState:
        """A new state with `changed` merged in; last_aggregate only moves when there is an aggregate."""
        merged = {entry.source: entry for entry in self.sources}
        merged.update(changed)
        return GuardState(
            last_ts=now,
            last_aggregate=aggregate if aggregate is not None else self.last_aggregate,
            sources=tuple(merged[name] for name in sorted(merged)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_ts": self.last_ts,
            "last_aggregate": self.last_aggregate,
            "sources": [asdict(entry) for entry in self.sources],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GuardState:
        """Rebuild a stored state; a malformed record raises DataError naming the field."""
        if not isinstance(raw, Mapping):
            raise DataError(_STATE_ORIGIN, None, None, raw, "expected a JSON object")
        entries = raw.get("sources", [])
        if not isinstance(entries, list):
            raise DataError(_STATE_ORIGIN, None, "sources", entries, "expected a list")
        sources = tuple(sorted((_source_from_dict(e) for e in entries), key=lambda s: s.source))
        return cls(
            last_ts=_optional_float(raw.get("last_ts"), "last_ts"),
            last_aggregate=_optional_float(raw.get("last_aggregate"), "last_aggregate"),
            sources=sources,
        )


_SOURCE_TYPES: dict[str, tuple[type, ...]] = {
    "source": (str,),
    "last_ts": (float, int),
    "last_price": (float, int),
    "repeats": (int,),
    "frozen_moves": (int,),
    "peer_ref": (float, int, type(None)),
    "cusum_pos": (float, int),
    "cusum_neg": (float, int),
    "distrusted": (bool,),
    "clean_obs": (int,),
    "activity": (list, tuple),
    "idle": (int,),
}


def _source_from_dict(raw: object) -> SourceState:
    if not isinstance(raw, Mapping):
        raise DataError(_STATE_ORIGIN, None, "sources[]", raw, "expected a JSON object")
    known = {f.name for f in fields(SourceState)}
    for name in raw:
        if name not in known:
            raise DataError(_STATE_ORIGIN, None, f"sources[].{name}", raw[name], "unknown field")
    for name in ("source", "last_ts", "last_price"):
        if name not in raw:
            raise DataError(_STATE_ORIGIN, None, f"sources[].{name}", None, "missing")
    for name, value in raw.items():
        ok = isinstance(value, _SOURCE_TYPES[name]) and not (name != "distrusted" and isinstance(value, bool))
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            raise DataError(_STATE_ORIGIN, None, f"sources[].{name}", value, "wrong type or not finite")
    values = dict(raw)
    if "activity" in values:
        values["activity"] = _activity(values["activity"])
    return SourceState(**values)


def _activity(values: list[object] | tuple[object, ...]) -> tuple[float | None, ...]:
    out: list[float | None] = []
    for value in values:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, float | int) or not math.isfinite(value)
        ):
            raise DataError(
                _STATE_ORIGIN, None, "sources[].activity", value, "expected finite numbers or null"
            )
        out.append(None if value is None else float(value))
    return tuple(out)


def _optional_float(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, float | int) or not math.isfinite(value):
        raise DataError(_STATE_ORIGIN, None, name, value, "expected a finite number or null")
    return float(value)
