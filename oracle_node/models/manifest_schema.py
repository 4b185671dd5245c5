"""The served-model manifest, schema version 1: what every key must hold, checked field by field.

One schema for every model the node serves, whoever wrote it (`oracle-node train`, or
scripts/train_models.py for the bundled model; both go through `manifest.write_manifest`, which runs
these checks before writing, and the node runs them again on load). Top-level keys, all required,
no others:

| key | holds |
|---|---|
| schema_version | 1 |
| model | the model's name (non-empty string), e.g. "qgbm_har_v1" |
| kind | how the runtime serves it: a key of `registry.ML_KINDS` ("onnx_quantile") |
| artifacts | {file name in the manifest's directory: sha256 hex}, at least one |
| onnx | {file: a pinned artifact, input: name, outputs: [q_lo name, q_hi name], opset: {...}} |
| features | the model's input columns in order (names `features.build` computes), distinct |
| feature_range | {feature: [min, max]} seen in training, finite, min <= max |
| range_tolerance | >= 0: the range is widened by this x (max - min) on each side before falling back |
| quantiles | [alpha, 1 - alpha], 0 < alpha < 0.5 |
| target | {scale_feature: the feature that scales standardised returns back to log returns, ...} |
| tails | {nu > 2, es_ratio_lo >= 1, es_ratio_hi >= 1, ...}: the Student-t ES rule |
| baseline | {ewma_lambda in (0, 1), gjr_window >= gjr_min_obs >= 30, refit_every_days >= 1, fit_lag_days >= 0} |
| ensemble | {tolerance in [0, 1)} |
| training | {data: {file: sha256}, test_start: YYYY-MM-DD, split, rows_train, rows_by_market, ...} |
| metrics | {...}: free-form numbers the training run measured |

A violation raises ModelError "model manifest PATH: field F = VALUE: what it must be" (one line).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from oracle_node.errors import ModelError, shown

SCHEMA_VERSION = 1
RESEARCH_BUNDLE_SCHEMA = "mlra-ml-models-1"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
FIELDS: tuple[str, ...] = (
    "schema_version",
    "model",
    "kind",
    "artifacts",
    "onnx",
    "features",
    "feature_range",
    "range_tolerance",
    "quantiles",
    "target",
    "tails",
    "baseline",
    "ensemble",
    "training",
    "metrics",
)


class _Checker:
    """Field checks that raise one ModelError line naming the manifest, the field and its value."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, value: object, why: str) -> ModelError:
        return ModelError(f"model manifest {self.path}: field {field} = {shown(value)}: {why}")

    def get(self, doc: dict[str, Any], key: str, where: str) -> Any:
        if key not in doc:
            return self._missing(f"{where}.{key}" if where else key)
        return doc[key]

    def _missing(self, field: str) -> Any:
        raise ModelError(f"model manifest {self.path}: field {field} is missing")

    def mapping(self, doc: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
        value = self.get(doc, key, where)
        if not isinstance(value, dict):
            raise self.fail(_name(where, key), value, "must be an object")
        return value

    def text(self, doc: dict[str, Any], key: str, where: str = "") -> str:
        value = self.get(doc, key, where)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(_name(where, key), value, "must be a non-empty string")
        return value

    def number(
        self, doc: dict[str, Any], key: str, where: str, ok: Callable[[float], bool], rule: str
    ) -> float:
        value = self.get(doc, key, where)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(_name(where, key), value, f"must be a finite number {rule}")
        if not ok(float(value)):
            raise self.fail(_name(where, key), value, f"must be {rule}")
        return float(value)

    def integer(self, doc: dict[str, Any], key: str, where: str, low: int) -> int:
        value = self.get(doc, key, where)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(_name(where, key), value, f"must be an integer >= {low}")
        return value


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def check_manifest(path: Path, data: dict[str, Any]) -> None:
    """ModelError (one line: file, field, value, rule) unless `data` is a valid schema-1 manifest."""
    c = _Checker(path)
    _check_top(c, data)
    artifacts = _check_artifacts(c, data)
    features = _check_features(c, data)
    _check_onnx(c, data, artifacts)
    c.number(data, "range_tolerance", "", lambda v: v >= 0.0, ">= 0")
    _check_quantiles(c, data)
    scale = c.text(c.mapping(data, "target"), "scale_feature", "target")
    if scale in features:
        raise c.fail("target.scale_feature", scale, "must not be one of the model's input features")
    tails = c.mapping(data, "tails")
    c.number(tails, "nu", "tails", lambda v: v > 2.0, "> 2")
    for key in ("es_ratio_lo", "es_ratio_hi"):
        c.number(tails, key, "tails", lambda v: v >= 1.0, ">= 1 (ES is beyond VaR)")
    _check_baseline(c, data)
    ens = c.mapping(data, "ensemble")
    c.number(ens, "tolerance", "ensemble", lambda v: 0.0 <= v < 1.0, "in [0, 1)")
    _check_training(c, data)
    c.mapping(data, "metrics")


def _check_top(c: _Checker, data: dict[str, Any]) -> None:
    if data.get("schema") == RESEARCH_BUNDLE_SCHEMA or "by_alpha" in data:
        raise ModelError(
            f"model manifest {c.path}: this is a backtest's research bundle (schema "
            f"{shown(data.get('schema'))}), not a model the node serves; write one with `oracle-node train`"
        )
    if "schema_version" not in data:
        raise ModelError(
            f"model manifest {c.path}: field schema_version is missing (expected {SCHEMA_VERSION})"
        )
    version = data["schema_version"]
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise c.fail("schema_version", version, f"this node reads schema version {SCHEMA_VERSION}")
    if unknown := sorted(set(data) - set(FIELDS)):
        raise c.fail(
            unknown[0], data[unknown[0]], f"unknown key (schema {SCHEMA_VERSION} has {list(FIELDS)})"
        )
    if missing := [k for k in FIELDS if k not in data]:
        raise ModelError(f"model manifest {c.path}: fields {missing} are missing")
    c.text(data, "model")
    c.text(data, "kind")


def _check_artifacts(c: _Checker, data: dict[str, Any]) -> dict[str, Any]:
    artifacts = c.mapping(data, "artifacts")
    if not artifacts:
        raise c.fail("artifacts", artifacts, "must pin at least one file")
    for name, sha in artifacts.items():
        if not name or Path(name).name != name or name in (".", ".."):
            raise c.fail(
                f"artifacts[{name!r}]", name, "must be a plain file name in the manifest's directory"
            )
        if not isinstance(sha, str) or not SHA256_HEX.match(sha.lower()):
            raise c.fail(f"artifacts[{name!r}]", sha, "must be a sha256 (64 hex digits)")
    return artifacts


def _check_features(c: _Checker, data: dict[str, Any]) -> list[str]:
    features = data["features"]
    if not isinstance(features, list) or not features or not all(isinstance(f, str) and f for f in features):
        raise c.fail("features", features, "must be a non-empty list of feature names")
    if len(set(features)) != len(features):
        raise c.fail("features", features, "must not repeat a name")
    ranges = c.mapping(data, "feature_range")
    for name in features:
        bounds = ranges.get(name)
        ok = isinstance(bounds, list) and len(bounds) == 2
        ok = ok and all(
            not isinstance(b, bool) and isinstance(b, int | float) and math.isfinite(b) for b in bounds
        )
        if not ok or bounds[0] > bounds[1]:
            raise c.fail(f"feature_range[{name!r}]", bounds, "must be [min, max], finite, min <= max")
    return features


def _check_onnx(c: _Checker, data: dict[str, Any], artifacts: dict[str, Any]) -> None:
    onnx = c.mapping(data, "onnx")
    if onnx.get("file") not in artifacts:
        raise c.fail("onnx.file", onnx.get("file"), "must name a file pinned in 'artifacts'")
    c.text(onnx, "input", "onnx")
    outputs = c.get(onnx, "outputs", "onnx")
    if not (
        isinstance(outputs, list) and len(outputs) == 2 and all(isinstance(o, str) and o for o in outputs)
    ):
        raise c.fail("onnx.outputs", outputs, "must be the two output names [q_lo, q_hi]")


def _check_quantiles(c: _Checker, data: dict[str, Any]) -> None:
    q = data["quantiles"]
    ok = isinstance(q, list) and len(q) == 2
    ok = ok and all(not isinstance(v, bool) and isinstance(v, int | float) for v in q)
    if not ok or not (0.0 < q[0] < 0.5) or not math.isclose(q[0] + q[1], 1.0, abs_tol=1e-12):
        raise c.fail("quantiles", q, "must be [alpha, 1 - alpha] with 0 < alpha < 0.5")


def _check_baseline(c: _Checker, data: dict[str, Any]) -> None:
    base = c.mapping(data, "baseline")
    c.number(base, "ewma_lambda", "baseline", lambda v: 0.0 < v < 1.0, "in (0, 1)")
    min_obs = c.integer(base, "gjr_min_obs", "baseline", 30)
    c.integer(base, "gjr_window", "baseline", min_obs)
    c.integer(base, "refit_every_days", "baseline", 1)
    c.integer(base, "fit_lag_days", "baseline", 0)


def _check_training(c: _Checker, data: dict[str, Any]) -> None:
    training = c.mapping(data, "training")
    files = c.mapping(training, "data", "training")
    for name, sha in files.items():
        if not isinstance(sha, str) or not SHA256_HEX.match(sha):
            raise c.fail(f"training.data[{name!r}]", sha, "must be the file's sha256 (64 hex digits)")
    start = c.text(training, "test_start", "training")
    try:
        date.fromisoformat(start)
    except ValueError:
        raise c.fail("training.test_start", start, "must be a date YYYY-MM-DD") from None
    c.integer(training, "rows_train", "training", 1)
    rows = c.mapping(training, "rows_by_market", "training")
    for market in rows:
        c.integer(rows, market, "training.rows_by_market", 0)
