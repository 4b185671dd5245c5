"""The shock model's parameters and their files: shock_model.json pinned by sha256 in manifest.json.

shock_model.json (written by `oracle-node shock-train`, read here; no training code at run time):
    {"schema_version": 1, "kind": "location_scale" | "linear_quantile", "horizon_days": 1,
     "level": 0.99, "features": [...], "center": {name: mean}, "scale": {name: sd},
     "parts": {...}, "feature_range": {"low": {...}, "high": {...}}, "range_tolerance": 0.25,
     "meta": {training range, hyper-parameters and how they were chosen, data hashes}}
parts of a location_scale model: {"location": {"features", "coef", "intercept"}, "log_scale": {...},
"z_up": float, "z_down": float}; of a linear_quantile model: {"up": {...}, "down": {...}}.
manifest.json: {"schema_version": 1, "model": name, "artifacts": {"shock_model.json": sha256 hex}}.

Every problem (missing file, not JSON, a missing or mistyped field, a hash mismatch) is a ModelError
naming the file and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.models.manifest import sha256_file
from oracle_node.options.shock_features import FEATURES

MODEL_FILE = "shock_model.json"
MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1
KINDS = ("location_scale", "linear_quantile")
PART_NAMES = {"location_scale": ("location", "log_scale"), "linear_quantile": ("up", "down")}


@dataclass(frozen=True)
class ShockParams:
    """The fitted model, as stored in shock_model.json (see the module docstring)."""

    kind: str
    horizon_days: int
    level: float
    center: dict[str, float]
    scale: dict[str, float]
    parts: dict[str, Any]  # location_scale: location, log_scale, z_up, z_down; linear_quantile: up, down
    feature_low: dict[str, float]
    feature_high: dict[str, float]
    range_tolerance: float = 0.25
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.center)

    def _std(self, x: np.ndarray, names: list[str]) -> np.ndarray:
        cols = [FEATURES.index(n) for n in names]
        c = np.array([self.center[n] for n in names])
        s = np.array([self.scale[n] for n in names])
        return (x[:, cols] - c) / s

    def _linear(self, x: np.ndarray, part: dict[str, Any]) -> np.ndarray:
        return float(part["intercept"]) + self._std(x, list(part["features"])) @ np.asarray(part["coef"])

    def log_quantiles(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(q_up, q_down) log changes for feature rows x (columns as shock_features.FEATURES)."""
        if self.kind == "location_scale":
            mu = self._linear(x, self.parts["location"])
            sigma = np.exp(self._linear(x, self.parts["log_scale"]))
            return mu + sigma * float(self.parts["z_up"]), mu + sigma * float(self.parts["z_down"])
        return self._linear(x, self.parts["up"]), self._linear(x, self.parts["down"])

    def out_of_range(self, row: np.ndarray) -> str | None:
        """The first feature outside its training range (widened by range_tolerance), or None."""
        for name in self.features:
            v = float(row[FEATURES.index(name)])
            lo, hi = self.feature_low[name], self.feature_high[name]
            pad = self.range_tolerance * (hi - lo)
            if not math.isfinite(v):
                return f"feature {name} is unknown on this day"
            if not lo - pad <= v <= hi + pad:
                return (
                    f"feature {name} = {v:.4g} outside the training range [{lo:.4g}, {hi:.4g}] (+-{pad:.3g})"
                )
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "horizon_days": self.horizon_days,
            "level": self.level,
            "features": list(self.features),
            "center": self.center,
            "scale": self.scale,
            "parts": self.parts,
            "feature_range": {"low": self.feature_low, "high": self.feature_high},
            "range_tolerance": self.range_tolerance,
            "meta": self.meta,
        }


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelError(f"{path}: shock model file does not exist (run `oracle-node shock-train`)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None


def _get(obj: Any, key: str, path: Path, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise ModelError(f"{path}: field {where}{key!r} is missing")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ModelError(f"{path}: field {where}{key!r} = {value!r} has the wrong type")
    return value


def _num(obj: Any, key: str, path: Path, where: str = "") -> float:
    value = float(_get(obj, key, path, where, (int, float)))
    if not math.isfinite(value):
        raise ModelError(f"{path}: field {where}{key!r} = {value!r} is not finite")
    return value


def _names(obj: Any, key: str, path: Path, where: str) -> list[str]:
    names = _get(obj, key, path, where, list)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ModelError(f"{path}: field {where}{key!r} names unknown features {unknown}")
    return names


def _by_feature(obj: Any, key: str, names: list[str], path: Path, where: str = "") -> dict[str, float]:
    table = _get(obj, key, path, where, dict)
    return {n: _num(table, n, path, f"{where}{key}.") for n in names}


def _part(parts: Any, name: str, path: Path) -> dict[str, Any]:
    part = _get(parts, name, path, "parts.", dict)
    where = f"parts.{name}."
    names = _names(part, "features", path, where)
    coef = _get(part, "coef", path, where, list)
    if len(coef) != len(names) or not all(isinstance(c, int | float) and math.isfinite(c) for c in coef):
        raise ModelError(f"{path}: field {where}'coef' must hold {len(names)} finite numbers")
    return {
        "features": names,
        "coef": [float(c) for c in coef],
        "intercept": _num(part, "intercept", path, where),
    }


def parse_params(raw: Any, path: Path) -> ShockParams:
    """ShockParams from the parsed shock_model.json, or ModelError naming the file and field."""
    if _get(raw, "schema_version", path, "", int) != SCHEMA_VERSION:
        raise ModelError(
            f"{path}: field 'schema_version' = {raw['schema_version']!r}, expected {SCHEMA_VERSION}"
        )
    kind = _get(raw, "kind", path, "", str)
    if kind not in KINDS:
        raise ModelError(f"{path}: field 'kind' = {kind!r}, expected one of {list(KINDS)}")
    names = _names(raw, "features", path, "")
    level = _num(raw, "level", path)
    horizon = _get(raw, "horizon_days", path, "", int)
    if not (0.5 < level < 1.0 and 1 <= horizon <= 30):
        raise ModelError(f"{path}: fields 'level' = {level!r}, 'horizon_days' = {horizon!r} out of range")
    scale = _by_feature(raw, "scale", names, path)
    if any(s <= 0 for s in scale.values()):
        raise ModelError(f"{path}: field 'scale' has a value <= 0")
    parts_raw = _get(raw, "parts", path, "", dict)
    parts: dict[str, Any] = {n: _part(parts_raw, n, path) for n in PART_NAMES[kind]}
    if kind == "location_scale":
        parts |= {
            "z_up": _num(parts_raw, "z_up", path, "parts."),
            "z_down": _num(parts_raw, "z_down", path, "parts."),
        }
    used = {n for p in PART_NAMES[kind] for n in parts[p]["features"]}
    if not used <= set(names):
        raise ModelError(f"{path}: parts use features {sorted(used - set(names))} not listed in 'features'")
    rng = _get(raw, "feature_range", path, "", dict)
    return ShockParams(
        kind, horizon, level, _by_feature(raw, "center", names, path), scale, parts,
        _by_feature(rng, "low", names, path, "feature_range."), _by_feature(rng, "high", names, path, "feature_range."),
        _num(raw, "range_tolerance", path), dict(_get(raw, "meta", path, "", dict)),
    )  # fmt: skip


def read_artifact(directory: Path) -> tuple[ShockParams, str]:
    """(params, sha256 of shock_model.json) after checking the manifest's hash."""
    manifest_path = directory / MANIFEST_FILE
    manifest = _load_json(manifest_path)
    artifacts = _get(manifest, "artifacts", manifest_path, "", dict)
    expected = _get(artifacts, MODEL_FILE, manifest_path, "artifacts.", str)
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise ModelError(f"{model_path}: shock model file does not exist (listed in {manifest_path})")
    actual = sha256_file(model_path)
    if actual != expected:
        raise ModelError(f"{model_path}: sha256 {actual} does not match {expected} in {manifest_path}")
    return parse_params(_load_json(model_path), model_path), actual
