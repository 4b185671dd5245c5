"""Compiled contract artifacts (ABI + bytecode) and what their ABIs decode.

ABIs are never pasted: wrappers, deploy scripts and the revert decoder all read them from here. The
contracts the node talks to ship inside the package (`oracle_node/chain/abi/<Name>.json`: ABI and
bytecode only, written from forge's `out/` by `make abi`), so an installed node needs no checkout; in
a checkout, contracts the package does not ship (bench probes, test harnesses) come from `out/`.
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

PACKAGE_ABI_DIR = Path(__file__).resolve().parent / "abi"
REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout, when the package runs from one
DEFAULT_OUT_DIR = REPO_ROOT / "out"
PACKAGED_FIELDS = ("contractName", "sourceName", "abi", "bytecode", "deployedBytecode")


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


def _fix(path: Path) -> str:
    """What rebuilds this file: `make abi` for a packaged copy, `make build` for forge's output."""
    if path.parent == PACKAGE_ABI_DIR:
        return "run `make abi` in a checkout, or reinstall the package"
    return "run `make build`"


def _hex(obj: Any, path: Path, key: str) -> str:
    value = obj.get("object") if isinstance(obj, dict) else obj
    if not isinstance(value, str):
        raise ConfigError(f"artifact {path}: field {key!r} holds no bytecode; {_fix(path)}")
    return value if value.startswith("0x") else "0x" + value


def _parse_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"artifact {path} is unreadable ({exc}); {_fix(path)}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"artifact {path}: top level is a {type(raw).__name__}, not an object; {_fix(path)}"
        )
    return raw


def _parse(name: str, path: Path) -> Artifact:
    raw = _parse_json(path)
    abi = raw.get("abi")
    if not isinstance(abi, list):
        raise ConfigError(f"artifact {path}: field 'abi' missing or not a list; {_fix(path)}")
    return Artifact(
        name=name,
        path=path,
        abi=abi,
        bytecode=_hex(raw.get("bytecode"), path, "bytecode"),
        deployed_bytecode=_hex(raw.get("deployedBytecode"), path, "deployedBytecode"),
    )


@lru_cache(maxsize=64)
def _load_cached(name: str, path: Path, mtime_ns: int) -> Artifact:
    del mtime_ns  # part of the cache key only: a rebuilt artifact is reloaded
    return _parse(name, path)


def _packaged(name: str, source: str | None) -> Path | None:
    path = PACKAGE_ABI_DIR / f"{name}.json"
    if not path.is_file():
        return None
    if source is not None and _parse_json(path).get("sourceName") != source:
        return None  # another contract of the same name: only forge's out/ can have it
    return path


def _in_checkout() -> bool:
    return (REPO_ROOT / "foundry.toml").is_file()


def load_artifact(name: str, out_dir: Path | str | None = None, source: str | None = None) -> Artifact:
    """The artifact of contract `name` (e.g. "RiskOracle"); `source` picks the file ("RiskOracle.sol")
    when two sources define the same name. Without `out_dir`: the copy shipped in the package, else (in
    a checkout) forge's out/. Raises ConfigError naming the path if it is missing."""
    if out_dir is not None:
        path = _find(name, Path(out_dir), source)
    elif (packaged := _packaged(name, source)) is not None:
        path = packaged
    elif _in_checkout():
        path = _find(name, DEFAULT_OUT_DIR, source)
    else:
        shipped = ", ".join(sorted(p.stem for p in PACKAGE_ABI_DIR.glob("*.json"))) or "none"
        raise ConfigError(
            f"artifact {name}.json not found: the package ships {shipped} in {PACKAGE_ABI_DIR} and runs "
            "outside a checkout (no forge out/); build it with `make build` in a checkout and pass out_dir"
        )
    return _load_cached(name, path, path.stat().st_mtime_ns)


def packaged_form(
    name: str, out_dir: Path | str = DEFAULT_OUT_DIR, source: str | None = None
) -> dict[str, Any]:
    """What the package ships for contract `name`: forge's artifact reduced to ABI and bytecode."""
    path = _find(name, Path(out_dir), source)
    artifact = _parse(name, path)
    if "__$" in artifact.bytecode:
        raise ConfigError(f"artifact {path}: bytecode needs library linking, which the package cannot ship")
    return {
        "contractName": name,
        "sourceName": path.parent.name,
        "abi": artifact.abi,
        "bytecode": artifact.bytecode,
        "deployedBytecode": artifact.deployed_bytecode,
    }


def packaged_text(form: dict[str, Any]) -> str:
    """The exact file text of a packaged artifact (stable, so `make abi` twice changes nothing)."""
    return json.dumps({k: form[k] for k in PACKAGED_FIELDS}, indent=1) + "\n"


def export_artifacts(
    names: Iterable[str], out_dir: Path | str = DEFAULT_OUT_DIR, dest: Path | str = PACKAGE_ABI_DIR
) -> list[Path]:
    """`make abi`: write each named contract's packaged form from forge's out_dir into dest, and delete
    packaged files of contracts no longer named. Returns the written paths."""
    target = Path(dest)
    wanted = sorted(set(names))
    texts = {name: packaged_text(packaged_form(name, out_dir)) for name in wanted}  # all or nothing
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.json"):
        if stale.stem not in texts:
            stale.unlink()
    written = []
    for name, text in texts.items():
        path = target / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


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
