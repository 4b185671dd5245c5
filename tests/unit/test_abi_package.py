"""The ABIs + bytecode shipped in the package (oracle_node/chain/abi/) are forge's current output.

`make test` builds the contracts first, so a contract change without `make abi` fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oracle_node.chain import artifacts
from oracle_node.chain.artifacts import (
    DEFAULT_OUT_DIR,
    PACKAGE_ABI_DIR,
    export_artifacts,
    load_artifact,
    packaged_form,
    packaged_text,
)
from oracle_node.chain.contracts import STACK, ContractWrapper
from oracle_node.chain.deploy import deploy_stack  # noqa: F401  (imports every wrapper the deployer uses)
from oracle_node.errors import ConfigError

REFRESH = "run `make abi` and commit oracle_node/chain/abi/"


def _built(name: str) -> dict[str, Any]:
    try:
        return packaged_form(name, DEFAULT_OUT_DIR)
    except ConfigError as exc:
        pytest.fail(f"forge output missing ({exc}); run `make build` first")


def _stale_fields(committed_path: Path, built: dict[str, Any]) -> list[str]:
    """Fields of the committed file that differ from forge's output ('file' if it is missing)."""
    if not committed_path.is_file():
        return ["file"]
    committed = json.loads(committed_path.read_text(encoding="utf-8"))
    fields = [k for k in artifacts.PACKAGED_FIELDS if committed.get(k) != built[k]]
    if not fields and committed_path.read_text(encoding="utf-8") != packaged_text(built):
        fields.append("formatting")
    return fields


def test_packaged_abis__every_stack_contract__equal_to_forge_build_output() -> None:
    stale = {}
    for name in STACK:
        fields = _stale_fields(PACKAGE_ABI_DIR / f"{name}.json", _built(name))
        if fields:
            stale[name] = fields
    assert not stale, f"packaged artifacts out of date with the contracts: {stale}; {REFRESH}"
    shipped = {p.stem for p in PACKAGE_ABI_DIR.glob("*.json")}
    assert shipped == set(STACK), f"shipped {sorted(shipped)} but the stack is {sorted(STACK)}; {REFRESH}"


def test_stale_fields__bytecode_or_abi_changed__named(tmp_path: Path) -> None:
    built = _built("TestUSD")
    path = tmp_path / "TestUSD.json"
    path.write_text(packaged_text(built))
    assert _stale_fields(path, built) == []
    changed = {**built, "bytecode": built["bytecode"][:-2] + "00", "abi": built["abi"][1:]}
    path.write_text(packaged_text(changed))
    assert _stale_fields(path, built) == ["abi", "bytecode"]
    assert _stale_fields(tmp_path / "Missing.json", built) == ["file"]


def test_contract_wrappers__every_wrapper_in_the_package__ships_its_artifact() -> None:
    def subclasses(cls: type) -> list[type]:
        return [s for c in cls.__subclasses__() for s in (c, *subclasses(c))]

    wrappers = {c.ARTIFACT for c in subclasses(ContractWrapper) if c.__module__.startswith("oracle_node.")}
    assert {"RiskOracle", "OptionsMarginEngine"} <= wrappers
    assert wrappers <= set(STACK), (
        f"wrappers {sorted(wrappers - set(STACK))} are not in STACK, so not shipped"
    )


def test_load_artifact__shipped_contract__package_copy_preferred_over_out() -> None:
    art = load_artifact("RiskOracle")
    assert art.path == PACKAGE_ABI_DIR / "RiskOracle.json"
    assert len(art.bytecode) > 10_000 and int(art.bytecode, 16) > 0
    assert len(art.deployed_bytecode) > 10_000 and int(art.deployed_bytecode, 16) > 0
    assert {e["name"] for e in art.entries("function")} >= {"submitReport", "getSigners"}
    assert load_artifact("RiskOracle", source="RiskOracle.sol").path == art.path


def test_load_artifact__not_shipped_in_a_checkout__read_from_forge_out() -> None:
    art = load_artifact("ReadProbe")
    assert art.path == DEFAULT_OUT_DIR / "ReadProbe.sol" / "ReadProbe.json"
    with pytest.raises(ConfigError, match=r"out/Other\.sol/RiskOracle\.json not found; run `make build`"):
        load_artifact("RiskOracle", source="Other.sol")


def test_load_artifact__installed_without_checkout__error_names_what_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifacts, "REPO_ROOT", tmp_path)  # site-packages: no foundry.toml above
    assert load_artifact("TestUSD").path == PACKAGE_ABI_DIR / "TestUSD.json"
    with pytest.raises(ConfigError) as info:
        load_artifact("ReadProbe")
    message = str(info.value)
    assert "ReadProbe.json not found" in message and str(PACKAGE_ABI_DIR) in message
    assert f"ships {', '.join(sorted(STACK))} in" in message


def test_load_artifact__corrupt_package_copy__error_says_make_abi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifacts, "PACKAGE_ABI_DIR", tmp_path)
    (tmp_path / "RiskOracle.json").write_text('{"abi": [')
    with pytest.raises(ConfigError, match=r"RiskOracle\.json is unreadable .*run `make abi`"):
        load_artifact("RiskOracle")
    (tmp_path / "TestUSD.json").write_text('{"abi": [], "bytecode": null, "deployedBytecode": "0x"}')
    with pytest.raises(
        ConfigError, match=r"TestUSD\.json: field 'bytecode' holds no bytecode; run `make abi`"
    ):
        load_artifact("TestUSD")


def test_export_artifacts__run_twice__same_bytes_and_stale_files_removed(tmp_path: Path) -> None:
    dest = tmp_path / "abi"
    dest.mkdir()
    (dest / "Removed.json").write_text("{}")
    first = export_artifacts(["TestUSD", "RiskParamAggregator"], DEFAULT_OUT_DIR, dest)
    texts = {p.name: p.read_bytes() for p in first}
    export_artifacts(["RiskParamAggregator", "TestUSD"], DEFAULT_OUT_DIR, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["RiskParamAggregator.json", "TestUSD.json"]
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == texts
    shipped = json.loads(texts["TestUSD.json"])
    assert list(shipped) == list(artifacts.PACKAGED_FIELDS) and shipped["sourceName"] == "TestUSD.sol"


def test_export_artifacts__missing_or_linked_contract__nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "out" / "Lib.sol"
    out.mkdir(parents=True)
    linked = {"abi": [], "bytecode": {"object": "0x60__$0123$__00"}, "deployedBytecode": {"object": "0x"}}
    (out / "Lib.json").write_text(json.dumps(linked))
    dest = tmp_path / "abi"
    with pytest.raises(ConfigError, match="needs library linking"):
        export_artifacts(["Lib"], tmp_path / "out", dest)
    with pytest.raises(ConfigError, match=r"Nope\.json not found; run `make build`"):
        export_artifacts(["Nope"], tmp_path / "out", dest)
    assert not dest.exists()
