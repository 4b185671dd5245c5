"""Model manifest: the JSON that pins every artifact's sha256, the feature list and order, the
training data and split, the training range of each feature, the baseline/ensemble settings and the
summary metrics. Its hash is the report's modelHash.

manifest_hash = sha256(canonical bytes), canonical bytes = json.dumps(manifest, sort_keys=True,
separators=(",", ":"), ensure_ascii=True, allow_nan=False) encoded as UTF-8. Re-indenting the file
does not change the hash; changing any value does. Loading verifies every artifact's sha256 and raises
ModelError naming the file, the expected and the actual hash (never a traceback).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node import atomic
from oracle_node.errors import ModelError

MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
REQUIRED_KEYS: tuple[str, ...] = (
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


def canonical_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Manifest:
    """A verified manifest. `data` is the parsed JSON; typed views below."""

    directory: Path
    data: dict[str, Any]
    hash: bytes

    @property
    def hash_hex(self) -> str:
        return "0x" + self.hash.hex()

    @property
    def model(self) -> str:
        return str(self.data["model"])

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.data["features"])

    def feature_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) per feature, widened by range_tolerance x (max - min) on each side."""
        rng = self.data["feature_range"]
        lo = np.array([rng[n][0] for n in self.features], dtype=np.float64)
        hi = np.array([rng[n][1] for n in self.features], dtype=np.float64)
        pad = float(self.data["range_tolerance"]) * (hi - lo)
        return lo - pad, hi + pad

    def artifact_path(self, name: str) -> Path:
        if name not in self.data["artifacts"]:
            raise ModelError(
                f"{self.directory / MANIFEST_FILE}: artifact {name!r} is not pinned in 'artifacts'"
            )
        return self.directory / name


def load_manifest(directory: Path | str = ARTIFACTS_DIR) -> Manifest:
    """Parse, check and hash-verify the manifest in `directory` (default: the bundled artifacts)."""
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    data = _read_json(path)
    _check_schema(path, data)
    for name, expected in sorted(data["artifacts"].items()):
        verify_artifact(directory / name, str(expected))
    return Manifest(directory, data, hashlib.sha256(canonical_bytes(data)).digest())


def verify_artifact(path: Path, expected: str) -> None:
    if not path.is_file():
        raise ModelError(f"model artifact {path} is missing (manifest pins sha256 {expected})")
    actual = sha256_file(path)
    if actual != expected.lower():
        raise ModelError(f"model artifact {path}: sha256 mismatch, expected {expected}, actual {actual}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"model manifest {path} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"model manifest {path} cannot be read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"model manifest {path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ModelError(f"model manifest {path}: top level must be an object, got {type(data).__name__}")
    return data


def _check_schema(path: Path, data: dict[str, Any]) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ModelError(f"model manifest {path}: missing keys {missing}")
    if data["schema_version"] != SCHEMA_VERSION:
        raise ModelError(
            f"model manifest {path}: schema_version {data['schema_version']!r} != {SCHEMA_VERSION}"
        )
    if not isinstance(data["artifacts"], dict) or not data["artifacts"]:
        raise ModelError(f"model manifest {path}: 'artifacts' must map file names to sha256")
    for name in data["features"]:
        bounds = data["feature_range"].get(name)
        if not (isinstance(bounds, list) and len(bounds) == 2 and bounds[0] <= bounds[1]):
            raise ModelError(
                f"model manifest {path}: feature_range[{name!r}] = {bounds!r} must be [min, max]"
            )
    if data["onnx"].get("file") not in data["artifacts"]:
        raise ModelError(
            f"model manifest {path}: onnx.file {data['onnx'].get('file')!r} is not pinned in 'artifacts'"
        )


def write_manifest(directory: Path, data: dict[str, Any]) -> bytes:
    """Write manifest.json (indented, sorted keys) and return its manifest hash."""
    canonical_bytes(data)  # fails early on NaN/inf
    atomic.write_text(directory / MANIFEST_FILE, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return hashlib.sha256(canonical_bytes(data)).digest()
