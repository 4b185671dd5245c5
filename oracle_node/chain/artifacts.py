"""Compiled contract artifacts (ABI + bytecode) from forge's out/ directory, and what their ABIs decode.

ABIs are never pasted: wrappers, deploy scripts and the revert decoder all read them from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import abi_to_signature, get_abi_input_names, get_abi_input_types

from oracle_node.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "out"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its ABI and creation/runtime bytecode as hex strings."""

    name: str
    path: Path
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str

    def entries(self, kind: str) -> list[dict[str, Any]]:
        """ABI entries of one kind ("function", "event", "error", "constructor")."""
        return [e for e in self.abi if e.get("type") == kind]


def _find(name: str, out_dir: Path, source: str | None) -> Path:
    if not out_dir.is_dir():
        raise ConfigError(f"compiled artifacts not found: {out_dir} does not exist; run `make build`")
    if source is not None:
        candidates = [out_dir / source / f"{name}.json"]
    else:
        candidates = sorted(out_dir.glob(f"*.sol/{name}.json"))
    found = [p for p in candidates if p.is_file()]
    if not found:
        where = source or "*.sol"
        raise ConfigError(f"artifact {out_dir}/{where}/{name}.json not found; run `make build`")
    if len(found) > 1:
        files = ", ".join(p.parent.name for p in found)
        raise ConfigError(f"contract name {name} is ambiguous in {out_dir} ({files}); pass source=")
    return found[0]


def _hex(obj: Any, path: Path, key: str) -> str:
    value = obj.get("object") if isinstance(obj, dict) else obj
    if not isinstance(value, str):
        raise ConfigError(f"artifact {path}: field {key!r} holds no bytecode; run `make build`")
    return value if value.startswith("0x") else "0x" + value


def _parse(name: str, path: Path) -> Artifact:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"artifact {path} is unreadable ({exc}); run `make build`") from exc
    abi = raw.get("abi") if isinstance(raw, dict) else None
    if not isinstance(abi, list):
        raise ConfigError(f"artifact {path}: field 'abi' missing or not a list; run `make build`")
    return Artifact(
        name=name,
        path=path,
        abi=abi,
        bytecode=_hex(raw.get("bytecode"), path, "bytecode"),
        deployed_bytecode=_hex(raw.get("deployedBytecode"), path, "deployedBytecode"),
    )


@lru_cache(maxsize=64)
def _load_cached(name: str, out_dir: Path, source: str | None, mtime_ns: int) -> Artifact:
    del mtime_ns  # part of the cache key only: a rebuilt artifact is reloaded
    return _parse(name, _find(name, out_dir, source))


def load_artifact(name: str, out_dir: Path | str | None = None, source: str | None = None) -> Artifact:
    """The artifact of contract `name` (e.g. "RiskOracle"); `source` picks the file ("RiskOracle.sol")
    when two sources define the same name. Raises ConfigError naming the path if it is missing."""
    root = Path(out_dir) if out_dir is not None else DEFAULT_OUT_DIR
    path = _find(name, root, source)
    return _load_cached(name, root, source, path.stat().st_mtime_ns)


_BUILTIN_ERRORS = (
    {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
)


@dataclass(frozen=True)
class DecodedError:
    name: str
    args: tuple[Any, ...]
    arg_names: tuple[str, ...]

    def __str__(self) -> str:
        shown = (f"{n}={_show(v)}" for n, v in zip(self.arg_names, self.args, strict=True))
        return f"{self.name}({', '.join(shown)})"


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else repr(value)


class ErrorDecoder:
    """Selector → error ABI for a set of artifacts, plus Solidity's Error(string) and Panic(uint256)."""

    def __init__(self, abis: Iterable[Sequence[dict[str, Any]]]) -> None:
        self._by_selector: dict[bytes, dict[str, Any]] = {}
        for abi in (*abis, _BUILTIN_ERRORS):
            for entry in abi:
                if entry.get("type") == "error":
                    self._by_selector[keccak(text=abi_to_signature(entry))[:4]] = entry

    def decode(self, data: bytes | str | None) -> DecodedError | None:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        if not raw or len(raw) < 4 or raw[:4] not in self._by_selector:
            return None
        entry = self._by_selector[raw[:4]]
        try:
            args = abi_decode(get_abi_input_types(entry), raw[4:])
        except DecodingError:
            return None
        types = get_abi_input_types(entry)
        args = tuple(
            to_checksum_address(a) if t == "address" else a for t, a in zip(types, args, strict=True)
        )
        return DecodedError(entry["name"], args, tuple(get_abi_input_names(entry)))
