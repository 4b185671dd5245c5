"""ape as its users run it: `ape compile`, `ape test tests/ape` and `ape run deploy` in a fresh shell.

Each command runs in a subprocess whose environment holds only PATH (the venv's bin first, then the
system's, for node) and a temporary HOME: no SOLCX_BINARY_PATH, nothing else exported. The venv's
`mlra_solcx.pth` (written by `make setup`) is what points ape-solidity at tools/solcx.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import Anvil
from tests.conftest import REPO_ROOT

APE = REPO_ROOT / ".venv" / "bin" / "ape"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def _ape(args: list[str], home: Path, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{APE.parent}{os.pathsep}{SYSTEM_PATH}", "HOME": str(home)}
    proc = subprocess.run(
        [str(APE), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"ape {' '.join(args)} exited {proc.returncode}:\n{output[-4000:]}"
    assert "Traceback" not in output, output[-4000:]
    return proc


@pytest.fixture(scope="module")
def ape_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ape-home")


@pytest.mark.slow
def test_ape_compile__fresh_shell_nothing_exported__compiles_with_the_solcjs_shim(ape_home: Path) -> None:
    proc = _ape(["compile", "--force"], ape_home)  # --force: solc really runs, not ape's cached .build
    assert "SUCCESS:  'local project' compiled." in proc.stdout + proc.stderr
    manifest = json.loads((REPO_ROOT / ".build" / "__local__.json").read_text(encoding="utf-8"))
    assert {"RiskOracle", "RiskOracleTimelock", "OptionsMarginEngine"} <= set(manifest["contractTypes"])
    # solc came from tools/solcx, never from a download into HOME
    assert not any((ape_home / ".solcx").glob("solc-*"))


@pytest.mark.slow
def test_ape_test__tests_ape__the_ape_style_suite_passes(ape_home: Path) -> None:
    proc = _ape(["test", "tests/ape"], ape_home)
    assert "1 passed" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.slow
def test_ape_run_deploy__anvil_on_a_free_port__stack_deployed_and_written(
    ape_home: Path, anvil: Anvil, tmp_path: Path
) -> None:
    out = tmp_path / "deployment.json"
    proc = _ape(["run", "deploy", "--network", anvil.url, "--out", str(out)], ape_home)
    deployment = json.loads(out.read_text(encoding="utf-8"))
    assert f"deployed oracle {deployment['oracle']}" in proc.stdout
    w3 = Web3(HTTPProvider(anvil.url))
    for name in ("oracle", "timelock", "engine"):
        assert len(w3.eth.get_code(Web3.to_checksum_address(deployment[name]))) > 0, name
