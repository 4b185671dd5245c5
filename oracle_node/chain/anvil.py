"""Start and stop a local anvil on a free loopback port (tests, benchmarks, the demo)."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from oracle_node.errors import OracleNodeError

REPO_ROOT = Path(__file__).resolve().parents[2]
# anvil's default mnemonic ("test test ... junk"): well-known dev keys, never for real funds.
ANVIL_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)


def anvil_binary() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    found = str(local) if local.exists() else shutil.which("anvil")
    if not found:
        raise OracleNodeError("anvil not found: run `make setup` (installs Foundry from npm)")
    return found


_HANDED_OUT: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A loopback port to listen on later, chosen below the kernel's ephemeral range and never handed
    out twice by this process. A port from bind(("", 0)) is released before its user binds it, and
    in between the kernel may give it to any outgoing connection or bind(0) (e.g. an RPC proxy):
    ports outside the ephemeral range are never chosen that way."""
    lo, _ = _ephemeral_range()
    first = max(1024, lo - 12_000)
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(first, lo)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise OracleNodeError(f"no free loopback port in {first}..{lo - 1}")


@dataclass
class Anvil:
    """A running anvil process; use as a context manager or call stop()."""

    port: int = 0
    block_time: float | None = None
    chain_id: int = 31337
    state_path: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> Anvil:
        if self.port == 0:
            self.port = free_port()
        args = [anvil_binary(), "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--chain-id", str(self.chain_id), "--silent", "--gas-limit", "60000000"]
        if self.block_time is not None:
            args += ["--block-time", str(self.block_time)]
        if self.state_path is not None:
            args += ["--state", str(self.state_path)]
        args += self.extra_args
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = (self._proc.stderr.read() if self._proc.stderr else b"").decode(errors="replace")
                raise OracleNodeError(f"anvil exited with code {self._proc.returncode}: {err.strip()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise OracleNodeError(f"anvil did not answer on {self.url} within {timeout_s:.0f}s")

    def _answers(self) -> bool:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=0.5) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        if self._proc.stderr:
            with contextlib.suppress(OSError):
                self._proc.stderr.close()
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
