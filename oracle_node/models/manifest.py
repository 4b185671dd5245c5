"""Model manifest: the JSON that pins every artifact's sha256, the feature list and order, the
training data and split, the training range of each feature, the baseline/ensemble settings and the
summary metrics (schema: manifest_schema.py). Its hash is the report's modelHash, the value the DAO
allow-lists.

manifest_hash = sha256(canonical bytes), canonical bytes = json.dumps(manifest, sort_keys=True,
separators=(",", ":"), ensure_ascii=True, allow_nan=False) encoded as UTF-8. Re-indenting the file
does not change the hash; changing any value does. A model is a directory: manifest.json plus the
files it pins. `write_manifest` refuses a manifest the loader would refuse; `load_manifest` checks
the schema field by field and every artifact's sha256, and raises ModelError naming the file, the
field or artifact and the value (one line, never a traceback).
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
from oracle_node.models.manifest_schema import check_manifest

MANIFEST_FILE = "manifest.json"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"


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


def manifest_path(location: Path | str) -> Path:
    """The manifest.json of a model: `location` is the model's directory or the manifest file itself."""
    path = Path(location)
    return path if path.suffix == ".json" and not path.is_dir() else path / MANIFEST_FILE


def load_manifest(location: Path | str = ARTIFACTS_DIR) -> Manifest:
    """Parse, check and hash-verify the manifest of a model directory (or of the manifest.json given)
    (default: the bundled artifacts). ModelError, one line, on any problem."""
    path = manifest_path(location)
    data = _read_json(path)
    check_manifest(path, data)
    for name, expected in sorted(data["artifacts"].items()):
        verify_artifact(path.parent / name, str(expected))
    return Manifest(path.parent, data, manifest_hash(data))


def manifest_hash(data: dict[str, Any]) -> bytes:
    """sha256 of the canonical JSON: the report's modelHash. ModelError on NaN or infinity."""
    try:
        return hashlib.sha256(canonical_bytes(data)).digest()
    except ValueError as exc:
        raise ModelError(f"model manifest cannot be hashed: {exc} (NaN or infinity in a value)") from None


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
        raise ModelError(f"model manifest {path} cannot be read: {exc}") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ModelError(f"model manifest {path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise ModelError(f"model manifest {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ModelError(f"model manifest {path}: top level must be an object, got {type(data).__name__}")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (the manifest hash needs finite values)")


def write_manifest(directory: Path, data: dict[str, Any]) -> bytes:
    """Check `data` against the schema (as the loader will), write DIR/manifest.json (indented, sorted
    keys) atomically and return its manifest hash. Write the pinned artifacts first."""
    path = directory / MANIFEST_FILE
    digest = manifest_hash(data)  # fails early on NaN/inf
    check_manifest(path, data)
    atomic.write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return digest
