"""`make demo`: a local chain, the contracts deployed, a node publishing through the COVID crash.

1. starts anvil on a free loopback port and deploys timelock, RiskOracle, adapters and the example
   OptionsMarginEngine (deploy/local.yaml, with this node's key as the signer set, k = 1);
2. replays the bundled real Binance BTC and ETH hours of 2020-03-10..14 with four derived venues
   per market, one of which (venue_b) is spiked 3x on 2020-03-11 10:00-12:00 (a manipulation);
3. runs the node's real cycle per market and hour: guard -> model -> risk -> bounds -> EIP-712
   signature from an encrypted keystore -> transaction pipeline -> RiskOracle;
4. a trader holds a 1M tUSD BTC position in the margin engine; the table shows its maintenance
   requirement as the oracle moves;
5. prints a summary and stops everything it started (run it again at will).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from rich.console import Console
from rich.live import Live
from rich.table import Table

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import OptionsMarginEngine, RiskOracle, TestUSD
from oracle_node.chain.rpc import make_web3
from oracle_node.config import NodeConfig
from oracle_node.service.feeds import ReplayFeed
from oracle_node.service.node import CycleResult
from oracle_node.service.wiring import build_node
from scripts.deploy import deploy_stack, load_deploy_config

REPO = Path(__file__).resolve().parents[1]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
USD = 10**6
HOUR = 3600.0


@dataclass
class Tally:
    gas: list[int] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    maint: list[tuple[float, int]] = field(default_factory=list)


def _deploy(anvil: Anvil, workdir: Path) -> tuple[object, NodeConfig]:
    w3 = make_web3(anvil.url)
    base = load_deploy_config()
    cfg = base.model_copy(
        update={
            "signers": (1,),
            "threshold": 1,
            "profiles": tuple(p.model_copy(update={"min_interval": 0}) for p in base.profiles),
        }
    )
    deployment = deploy_stack(w3, Account.from_key(ANVIL_KEYS[0]), cfg)
    keystore = workdir / "operator-key.json"
    keystore.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "demo-password")))
    (workdir / "password").write_text("demo-password\n")
    (workdir / "password").chmod(0o600)
    node_cfg = NodeConfig(
        node_name="demo-node",
        chain={"rpc_url": anvil.url, "chain_id": 31337, "oracle_address": deployment.oracle},
        signer={"keystore": keystore, "password_file": workdir / "password"},
        markets=[
            {"id": "BTC-USD", "history": "bundled:binance_btcusdt_spot_1h"},
            {"id": "ETH-USD", "history": "bundled:binance_ethusdt_spot_1h"},
        ],
        service={"store_path": workdir / "node.sqlite", "replay_ticks": TICKS, "replay_speed": HOUR},
    )
    return (w3, deployment), node_cfg


def _row(table: Table, t: float, r: CycleResult, maint: int | None) -> None:
    d = r.detail
    p = d.risk.params if d is not None and d.risk is not None else None
    rej = ",".join(f"{s}:{why}" for s, why in (d.guard.reasons() if d else {}).items()) or "-"
    gas = r.publish.gas_used if r.publish and r.publish.gas_used else None
    table.add_row(
        time.strftime("%m-%d %H:00", time.gmtime(t)),
        r.market,
        str(r.publish.round) if r.publish and r.publish.round else "-",
        f"{d.guard.aggregate_price:,.2f}" if d and d.guard.aggregate_price else "-",
        f"{p.volatility / 100:.0f}%" if p else "-",
        f"{p.var99 / 100:.1f}%" if p else "-",
        f"{p.initial_margin / 100:.1f}/{p.maintenance_margin / 100:.1f}%" if p else "-",
        f"{p.confidence / 10_000:.2f}" if p else "-",
        rej,
        f"{gas:,}" if gas else "-",
        f"{maint / USD:,.0f}" if maint is not None else "",
        r.outcome,
    )


def _table() -> Table:
    t = Table(title="MLRA risk oracle: node publishing through 2020-03-12 (real Binance hours)")
    for col in (
        "hour (UTC)",
        "market",
        "round",
        "price",
        "vol",
        "VaR99",
        "IM/MM",
        "conf",
        "rejected",
        "gas",
        "BTC maint. tUSD",
        "outcome",
    ):
        t.add_column(col, justify="right" if col not in ("market", "rejected", "outcome") else "left")
    return t


def run(every: int) -> Tally:
    console = Console(width=None if Console().is_terminal else 170)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="mlra-demo-") as tmp, Anvil() as anvil:
        (w3, deployment), node_cfg = _deploy(anvil, Path(tmp))
        console.print(
            f"anvil on {anvil.url}; RiskOracle at {deployment.oracle}; engine at {deployment.engine}"
        )
        engine = OptionsMarginEngine(w3, deployment.engine)
        token, trader = TestUSD(w3, deployment.collateral), Account.from_key(ANVIL_KEYS[6])
        token.mint(trader.address, 1_000_000 * USD, sender=Account.from_key(ANVIL_KEYS[0]))
        token.approve(deployment.engine, 2**255, sender=trader)
        engine.deposit(1_000_000 * USD, sender=trader)
        node, markets = build_node(node_cfg, {}, publish=True, wall_start=time.time())
        feed = node.feed
        assert isinstance(feed, ReplayFeed)
        table, t, k, position = _table(), feed.start, 0, False
        with Live(table, console=console, refresh_per_second=8, vertical_overflow="visible"):
            while t <= feed.end:
                feed.pin(t, time.time())
                for m in markets:
                    r = node.cycle(m)
                    _count(tally, r)
                    if not position and m == "BTC-USD" and r.outcome == "published":
                        engine.set_position("BTC-USD", 1_000_000 * USD, sender=trader)
                        position = True
                    maint = (
                        engine.maintenance_status(trader.address)[0] if position and m == "BTC-USD" else None
                    )
                    if maint is not None:
                        tally.maint.append((t, maint))
                    if k % every == 0 or r.outcome != "published" or (r.detail and r.detail.guard.rejected):
                        _row(table, t, r, maint)
                t, k = t + HOUR, k + 1
        oracle = RiskOracle(w3, deployment.oracle)
        _summary(console, tally, oracle)
        node.store.close()
    return tally


def _count(tally: Tally, r: CycleResult) -> None:
    tally.outcomes[r.outcome] = tally.outcomes.get(r.outcome, 0) + 1
    if r.publish and r.publish.gas_used:
        tally.gas.append(r.publish.gas_used)
    if r.detail:
        for s, why in r.detail.guard.reasons().items():
            tally.rejected[f"{r.market}/{s}:{why}"] = tally.rejected.get(f"{r.market}/{s}:{why}", 0) + 1


def _summary(console: Console, tally: Tally, oracle: RiskOracle) -> None:
    before = [m for t, m in tally.maint if t < 1583971200]
    after = [m for t, m in tally.maint if t >= 1583971200 + 12 * HOUR]
    btc = oracle.get_risk_params("BTC-USD")
    console.print(f"cycles: {tally.outcomes}")
    console.print(
        f"gas per report (1 market, 1 signature): median {statistics.median(tally.gas):,.0f}, max {max(tally.gas):,}"
    )
    console.print(f"rejected inputs: {tally.rejected or 'none'}")
    if before and after:
        console.print(
            f"BTC 1M position maintenance requirement: {before[-1] / USD:,.0f} tUSD before the crash -> "
            f"{max(after) / USD:,.0f} tUSD after (x{max(after) / before[-1]:.2f})"
        )
    console.print(f"on-chain BTC-USD now: round {btc.round}, {btc.params}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--every", type=int, default=3, help="print every Nth hour (plus every rejection)")
    args = p.parse_args(argv)
    run(args.every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
