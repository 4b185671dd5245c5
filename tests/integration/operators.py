"""A k-of-n oracle network of real `oracle-node run` processes on anvil, for the fault suite.

Every operator is its own OS process with its own encrypted keystore, SQLite store, peer HTTP port,
health/metrics port and log file, replaying the same real ticks (2020-03-10..13, BTC and ETH) on the
shared round clock. Faults are injected from outside the processes only:

- signals (SIGKILL a node, SIGTERM the rest);
- per-node configuration (a poisoned history file for one operator);
- a different program on a peer's port (`tests/integration/byzantine.py`: a node that forges its
  signatures, or a server answering garbage);
- `RpcProxy`, a JSON-RPC pass-through between one node and anvil that lets the test see each call and
  hold or drop it (a leader killed with its transaction in flight; an `evm_snapshot` taken just before
  a report is broadcast);
- anvil itself (stopped and restarted from its dumped state, `evm_revert`).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil, free_port
from oracle_node.chain.contracts import OptionsMarginEngine, RiskOracle, TestUSD
from oracle_node.chain.deploy import Deployment, deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.network.schedule import RoundClock
from oracle_node.sources.history import load_history
from oracle_node.store import NodeStore

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
WINDOW = (1583841600, 1584100800)  # 2020-03-10 12:00 .. 2020-03-13 12:00 UTC: 72 replayed hours
MARKETS = ("BTC-USD", "ETH-USD")
HISTORY = {"BTC-USD": "bundled:binance_btcusdt_spot_1h", "ETH-USD": "bundled:binance_ethusdt_spot_1h"}
SIGNER_ACCOUNTS = (1, 2, 3, 4, 5)  # deploy/local.yaml: five dev signers, k = 3
TRADER_ACCOUNT = 6
USD = 10**6
STARTUP_S = 90.0  # five processes importing, loading history and fitting models on two CI cores


@dataclass
class Operator:
    index: int
    account: int  # anvil dev account of its signer key
    address: str
    config: Path
    peer_port: int
    health_port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    proxy: RpcProxy | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def events(self, name: str) -> list[dict[str, Any]]:
        """The node's JSON log records with event == name."""
        out = []
        for line in self.log_text().splitlines():
            if f'"{name}"' in line:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("event") == name:
                    out.append(record)
        return out

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.health_port}/metrics"
        return urllib.request.urlopen(url, timeout=3).read().decode()


def metric(text: str, name: str) -> float:
    """Sum of every sample whose line starts with `name` (a full `name{labels}` picks one series)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@dataclass
class OperatorNetwork:
    """Deploys the stack, writes one config per operator and runs `oracle-node run` processes."""

    anvil: Anvil
    tmp: Path
    accounts: Sequence[int] = SIGNER_ACCOUNTS
    threshold: int = 3
    period_s: float = 2.0
    leader_timeout_s: float = 1.0
    proxies: bool = False  # put an RpcProxy between each node and anvil
    w3: Web3 = field(init=False)
    deployment: Deployment = field(init=False)
    operators: list[Operator] = field(default_factory=list)
    genesis: float = 0.0

    def __post_init__(self) -> None:
        self.w3 = make_web3(self.anvil.url)
        base = load_deploy_config()
        profiles = tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles)
        update = {"signers": tuple(self.accounts), "threshold": self.threshold, "profiles": profiles}
        self.deployment = deploy_stack(
            self.w3, Account.from_key(ANVIL_KEYS[0]), base.model_copy(update=update)
        )
        for signer in self.deployment.signers:  # every signer pays its own submissions
            self.w3.provider.make_request("anvil_setBalance", [signer, hex(10**21)])  # type: ignore[attr-defined]
        self.ticks = self.tmp / "ticks.csv"
        lines = TICKS.read_text(encoding="utf-8").splitlines()
        kept = [row for row in lines[1:] if WINDOW[0] <= int(row.split(",", 1)[0]) <= WINDOW[1]]
        self.ticks.write_text("\n".join([lines[0], *kept]) + "\n", encoding="utf-8")

    @property
    def oracle(self) -> RiskOracle:
        return RiskOracle(self.w3, self.deployment.oracle)

    @property
    def engine(self) -> OptionsMarginEngine:
        return OptionsMarginEngine(self.w3, self.deployment.engine)

    @property
    def clock(self) -> RoundClock:
        return RoundClock(self.genesis, self.period_s, self.leader_timeout_s)

    # -- configuration ---------------------------------------------------------------------------

    def configure(self, history: dict[int, dict[str, str]] | None = None) -> list[Operator]:
        """One config per operator; genesis is now. `history` overrides {operator: {market: spec}}."""
        self.genesis = math.floor(time.time())
        ports = [free_port() for _ in self.accounts]
        addresses = [Account.from_key(ANVIL_KEYS[a]).address for a in self.accounts]
        peers = [
            {"address": a, "url": f"http://127.0.0.1:{p}"} for a, p in zip(addresses, ports, strict=True)
        ]
        self.operators = []
        for n, account in enumerate(self.accounts):
            key, password = self.tmp / f"key{n}.json", self.tmp / f"pw{n}"
            key.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[account], f"pw{n}")))
            password.write_text(f"pw{n}\n")
            password.chmod(0o600)
            proxy = RpcProxy(self.anvil.url, n).start() if self.proxies else None
            op = Operator(n, account, addresses[n], self.tmp / f"op{n}.yaml", ports[n], free_port(),
                          self.tmp / f"op{n}.log", proxy=proxy)  # fmt: skip
            specs = {**HISTORY, **(history or {}).get(n, {})}
            cfg = {
                "node_name": f"op{n}",
                "chain": {
                    "rpc_url": proxy.url if proxy else self.anvil.url, "chain_id": 31337,
                    "oracle_address": self.deployment.oracle,
                    "tx": {"poll_interval_s": 0.1, "receipt_timeout_s": 10, "retries": 1, "backoff_base_s": 0.2},
                },
                "signer": {"keystore": str(key), "password_file": str(password)},
                "markets": [{"id": m, "history": specs[m]} for m in MARKETS],
                "service": {
                    "store_path": str(self.tmp / f"op{n}.sqlite"), "replay_ticks": str(self.ticks),
                    "replay_speed": 3600.0 / self.period_s, "health_port": op.health_port,
                },
                "network": {
                    "genesis": self.genesis, "period_s": self.period_s,
                    "leader_timeout_s": self.leader_timeout_s, "max_attempts": 3, "deadline_s": 60,
                    "collect_timeout_s": 0.6, "request_timeout_s": 1.0, "observe_timeout_s": 3.0,
                    "max_skew_s": 2.0, "peers": peers, "listen_port": ports[n],
                },
            }  # fmt: skip
            op.config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
            self.operators.append(op)
        return self.operators

    # -- processes -------------------------------------------------------------------------------

    def start(self, indices: Iterable[int] | None = None, program: Sequence[str] | None = None) -> None:
        """Start `oracle-node run` for each operator in `indices` (all by default), or `program`
        (argv after the interpreter, `{config}` and `{port}` filled in) in its place."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for n in self.indices(indices):
            op = self.operators[n]
            assert not op.alive, f"op{n} is already running"
            argv = program or ("-m", "oracle_node.cli", "run", "--config", "{config}")
            argv = [a.format(config=op.config, port=op.peer_port) for a in argv]
            with op.log.open("ab") as log:
                op.proc = subprocess.Popen([sys.executable, *argv], cwd=REPO, env=env,
                                           stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip

    def indices(self, indices: Iterable[int] | None) -> list[int]:
        return list(range(len(self.operators))) if indices is None else list(indices)

    def kill(self, n: int) -> None:
        op = self.operators[n]
        assert op.proc is not None
        op.proc.send_signal(signal.SIGKILL)
        op.proc.wait(10)

    def terminate(self, indices: Iterable[int] | None = None) -> list[int | None]:
        """SIGTERM each running operator and wait; exit codes (None for one not running)."""
        chosen = [self.operators[n] for n in self.indices(indices)]
        running = [op for op in chosen if op.alive]
        for op in running:
            assert op.proc is not None
            op.proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for op in chosen:
            if op in running and op.proc is not None:
                try:
                    codes.append(op.proc.wait(30))
                except subprocess.TimeoutExpired:
                    op.proc.kill()
                    codes.append(op.proc.wait(10))
            else:
                codes.append(None)
        return codes

    def close(self) -> None:
        for op in self.operators:
            if op.alive and op.proc is not None:
                op.proc.kill()
                op.proc.wait(10)
            if op.proxy is not None:
                op.proxy.stop()

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str,
                 alive: Iterable[int] | None = None) -> None:  # fmt: skip
        """Poll `predicate`; fail if it is not reached in time or a node that should run has exited."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            for n in self.indices(alive):
                op = self.operators[n]
                assert op.proc is None or op.alive, (
                    f"op{n} exited with code {op.proc.returncode}:\n{op.log_text()[-3000:]}"
                )
            if predicate():
                return
            time.sleep(0.2)
        tails = "\n".join(f"--- op{op.index}\n{op.log_text()[-1500:]}" for op in self.operators)
        raise AssertionError(f"{what}: not reached within {timeout_s:.0f} s\n{tails}")

    # -- what the chain and the stores say ---------------------------------------------------------

    def accepted(self) -> list[Accepted]:
        """Every RiskReportAccepted on the canonical chain, in chain order."""
        logs = self.oracle.contract.events.RiskReportAccepted.get_logs(from_block=0)
        return [
            Accepted(
                int(e["blockNumber"]),
                int(e["args"]["round"]),
                int(e["args"]["signerBitmap"]),
                "0x" + bytes(e["transactionHash"]).hex(),
            )
            for e in logs
        ]

    def landed_rounds(self) -> Counter[int]:
        return Counter(a.round for a in self.accepted())

    def submitter(self, tx_hash: str) -> str:
        return str(self.w3.eth.get_transaction(tx_hash)["from"])  # type: ignore[arg-type]

    def submitted_report(self, tx_hash: str) -> dict[str, Any]:
        """The `report` argument of the submitReport call in a transaction (by hash)."""
        tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        return decode_report(self.oracle, bytes(tx["input"]))

    def included_in_stores(self, indices: Iterable[int] | None = None) -> Counter[int]:
        """Rounds each operator's store says it saw included as leader, counted over operators."""
        out: Counter[int] = Counter()
        for n in self.indices(indices):
            path = self.tmp / f"op{n}.sqlite"
            if path.exists():
                with NodeStore.open(path) as store:
                    out.update(r.round for r in store.reports_with_status("included"))
        return out

    def stored_reports(self) -> dict[int, dict[str, Any]]:
        """round -> stored body (report + included observations) of every report any leader saw included."""
        out: dict[int, dict[str, Any]] = {}
        for n in self.indices(None):
            path = self.tmp / f"op{n}.sqlite"
            if path.exists():
                with NodeStore.open(path) as store:
                    for record in store.reports_with_status("included"):
                        out[record.round] = record.body
        return out

    def open_trader_position(self, notional_usd: int) -> str:
        """A trader with `notional_usd` of BTC-USD exposure on the margin engine (fully collateralised)."""
        trader = Account.from_key(ANVIL_KEYS[TRADER_ACCOUNT])
        token = TestUSD(self.w3, self.deployment.collateral)
        token.mint(trader.address, notional_usd * USD, sender=Account.from_key(ANVIL_KEYS[0]))
        token.approve(self.deployment.engine, 2**255, sender=trader)
        self.engine.deposit(notional_usd * USD, sender=trader)
        self.engine.set_position("BTC-USD", notional_usd * USD, sender=trader)
        return str(trader.address)


@dataclass(frozen=True)
class Accepted:
    block: int
    round: int
    signer_bitmap: int
    tx_hash: str


def decode_report(oracle: RiskOracle, calldata: bytes) -> dict[str, Any]:
    """The `report` argument of submitReport calldata: {epoch, round, observedAt, deadline, modelHash,
    inputsHash, marketIds, params}."""
    function, args = oracle.contract.decode_function_input(calldata)
    assert function.fn_name == "submitReport", function.fn_name
    return dict(args["report"])


def raw_tx_input(raw_tx: str) -> bytes:
    """The calldata of a signed raw transaction (hex)."""
    return bytes(TypedTransaction.from_bytes(HexBytes(raw_tx)).as_dict()["data"])


def poisoned_history(market: str, spec: str, path: Path, factor: float) -> str:
    """The real daily history with every log return multiplied by `factor`, anchored at the real last
    close (so the replayed ticks continue from the same price): a node fed this sees `factor` x the
    volatility. Written as the plain daily file `date,price,volume`; returns its path as a spec."""
    hist = load_history(market, spec, until_ts=WINDOW[0])
    logs = np.log(hist.close)
    scaled = logs[-1] + factor * (logs - logs[-1])
    rows = ["date,price,volume"]
    for ts, price in zip(hist.ts, np.exp(scaled), strict=True):
        day = time.strftime("%Y-%m-%d", time.gmtime(ts - 86400))  # the file dates the day it covers
        rows.append(f"{day},{price:.6f},")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


class RpcProxy:
    """A JSON-RPC pass-through from one node to anvil. `intercept(node, calls)` runs on every request
    (calls: the parsed JSON-RPC objects) before it is forwarded; it may block, and returning "drop"
    closes the connection without forwarding (the node sees the RPC connection fail)."""

    def __init__(self, upstream: str, node: int) -> None:
        self.upstream, self.node = upstream, node
        self.intercept: Callable[[int, list[dict[str, Any]]], str | None] = lambda node, calls: None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = []
                calls = parsed if isinstance(parsed, list) else [parsed]
                if proxy.intercept(proxy.node, calls) == "drop":
                    self.close_connection = True
                    return
                request = urllib.request.Request(proxy.upstream, body, {"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=30) as resp:
                        status, answer = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    status, answer = exc.code, exc.read()
                except OSError:
                    self.close_connection = True  # upstream down: the node sees a failed connection
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> RpcProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HoldFirstBroadcast:
    """An RpcProxy intercept: once armed, the first eth_sendRawTransaction from any node is recorded and
    `before` runs; then the call is held until `release()` ("drop": it never reaches the chain) or
    forwarded at once (`hold=False`)."""

    def __init__(self, hold: bool, before: Callable[[], None] = lambda: None) -> None:
        self.hold, self.before = hold, before
        self.armed, self.caught, self.released = threading.Event(), threading.Event(), threading.Event()
        self.node: int | None = None
        self.raw_tx = ""
        self.lock = threading.Lock()

    def __call__(self, node: int, calls: list[dict[str, Any]]) -> str | None:
        sends = [c for c in calls if c.get("method") == "eth_sendRawTransaction"]
        if not sends or not self.armed.is_set():
            return None
        with self.lock:
            if self.caught.is_set():
                return None
            self.node, self.raw_tx = node, str(sends[0]["params"][0])
            self.before()
            self.caught.set()
        if not self.hold:
            return None
        self.released.wait(60)
        return "drop"

    def release(self) -> None:
        self.released.set()
