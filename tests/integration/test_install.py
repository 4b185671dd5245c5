"""`pip install .` (not editable) outside the checkout: the installed package deploys, checks and replays
from a directory that is not the checkout.

The working tree's package files (tracked and untracked-not-ignored: what a clean clone holds once they
are committed) are copied to a temporary directory and installed with `pip install --no-deps` (build
isolation on, as for a user) into a fresh venv. The venv reaches the already installed dependencies
through a .pth line naming this interpreter's site-packages; .pth files inside that directory are not
processed, so the editable install of the checkout stays invisible, and each test asserts it ran the
installed copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PACKAGE_FILES = ("pyproject.toml", "README.md", "oracle_node")

WHERE = """
import json, oracle_node
from oracle_node.chain.artifacts import load_artifact
from oracle_node.chain.contracts import STACK
from oracle_node.models.manifest import ARTIFACTS_DIR
from oracle_node.sources.bundled import BUNDLED_DIR
paths = [oracle_node.__file__, str(ARTIFACTS_DIR), str(BUNDLED_DIR)]
print(json.dumps({"paths": paths, "artifacts": {n: str(load_artifact(n).path) for n in STACK}}))
"""

DEPLOY = """
import json, sys
from eth_account import Account
from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.models.manifest import load_manifest
model = "0x" + load_manifest().hash.hex()  # the installed package's bundled model
cfg = load_deploy_config(sys.argv[2])
cfg = cfg.model_copy(update={"signers": (1,), "threshold": 1, "models": (model,)})
print(json.dumps({"oracle": deploy_stack(make_web3(sys.argv[1]), Account.from_key(ANVIL_KEYS[0]), cfg).oracle}))
"""


@dataclass(frozen=True)
class Installed:
    python: Path
    cli: Path
    site: Path


def _run(
    cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _ok(proc: subprocess.CompletedProcess[str], what: str) -> str:
    assert proc.returncode == 0, (
        f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def _copy_package_sources(dest: Path) -> Path:
    listed = _ok(
        _run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *PACKAGE_FILES],
            REPO,
        ),
        "git ls-files",
    )
    for rel in filter(None, listed.split("\0")):
        if (REPO / rel).is_file():  # a tracked file deleted in the working tree is not copied
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    return dest


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("install")
    assert not root.resolve().is_relative_to(REPO), f"{root} is inside the checkout"
    src = _copy_package_sources(root / "src")
    venv = root / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", venv], root), "python -m venv")
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", src]
    _ok(_run(pip, root, _env()), "pip install . (build isolation fetches setuptools and wheel)")
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_ok(_run([python, "-c", purelib], root), "venv site-packages").strip())
    (site / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    return Installed(python=python, cli=venv / "bin" / "oracle-node", site=site)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory outside the checkout holding copies of the example files."""
    for name in ("node.yaml", "ticks_2020-03-12.csv"):
        shutil.copy2(REPO / "examples" / name, tmp_path / name)
    shutil.copy2(REPO / "deploy" / "local.yaml", tmp_path / "deploy.yaml")
    return tmp_path


def test_installed__imported_from_anywhere__package_copy_with_its_abis_and_data(
    installed: Installed, workdir: Path
) -> None:
    where = json.loads(_ok(_run([installed.python, "-c", WHERE], workdir, _env()), "import"))
    paths = [*where["paths"], *where["artifacts"].values()]
    assert all(Path(p).is_relative_to(installed.site) for p in paths), paths
    assert not any(Path(p).is_relative_to(REPO) for p in paths), paths
    assert where["artifacts"]["RiskOracle"] == str(installed.site / "oracle_node/chain/abi/RiskOracle.json")


def test_installed_check__stack_deployed_by_the_installed_package__every_line_ok(
    installed: Installed, anvil: Anvil, workdir: Path
) -> None:
    deployed = _run([installed.python, "-c", DEPLOY, anvil.url, workdir / "deploy.yaml"], workdir, _env())
    oracle = json.loads(_ok(deployed, "deploy_stack from the installed package"))["oracle"]
    (workdir / "k.json").write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "pw")))
    env = _env(
        ORACLE_CHAIN__RPC_URL=anvil.url,
        ORACLE_CHAIN__ORACLE_ADDRESS=oracle,
        ORACLE_SIGNER__KEYSTORE="k.json",
        ORACLE_SIGNER__PASSWORD_ENV="NODE_PW",
        NODE_PW="pw",
    )
    out = _ok(_run([installed.cli, "check", "--config", "node.yaml"], workdir, env), "oracle-node check")
    for line in (
        "ok   model files",
        "ok   oracle contract",
        "ok   signer set",
        "ok   model allow-list",
        "ok   market BTC-USD",
        "ok   market ETH-USD",
        "ok   oracle paused",
    ):
        assert line in out, out
    assert "FAIL" not in out, out


def test_installed_replay__example_ticks__one_line_per_tick_and_market(
    installed: Installed, workdir: Path
) -> None:
    args = ["replay", "--ticks", "ticks_2020-03-12.csv", "--config", "node.yaml", "--out", "replay.jsonl"]
    _ok(_run([installed.cli, *args], workdir, _env()), "oracle-node replay")
    rows = [json.loads(line) for line in (workdir / "replay.jsonl").read_text().splitlines()]
    assert len(rows) == 240  # 120 hours x 2 markets
    assert {r["market"] for r in rows} == {"BTC-USD", "ETH-USD"}
    assert all(r["aggregate_price"] > 0 and r["params"] for r in rows)
    assert any(r["would_publish"] for r in rows)

    missing = _run([installed.cli, "replay", "--ticks", "nope.csv", *args[3:]], workdir, _env())
    assert missing.returncode == 2 and "Traceback" not in missing.stdout + missing.stderr
    assert "nope.csv" in missing.stderr, missing.stderr
