"""Gas benchmark: `python -m bench.gas --out bench/gas.json` (`make bench-gas`).

Starts its own anvil, deploys the stack with deploy_stack (5 signers, threshold 1, 3 or 5), and measures
TOTAL transaction gas from receipts (21,000 base and calldata included) for report submissions in
steady state: every measured report updates markets that already hold a published value (round N over
round N-1, nonzero -> nonzero storage writes, fields changing within the bounds), which is what an
oracle pays on every update after the first. The first publication is shown in the breakdown.

Keys: single_k1, single_k3, single_k5 (one market, 1/3/5 signatures), batch10_k3_per_market and
batch50_k3_per_market (total / markets), read_cold (ReadProbe.measureRead via eth_call: gasleft()
around one getRiskParams call, cold account and slot); surface_update_2x8_k3 and read_vol_cold
(bench/gas_surface.py: VolSurfaceOracle), margin_check_16_options, margin_check_100_options and
margin_check_17_options_new_slot
(bench/gas_margin.py: OptionsPortfolioMarginEngine). "breakdown" splits each figure into base,
calldata (16 gas per nonzero and 4 per zero input byte) and execution (the rest), with the EIP-7623
calldata floor for reference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

from bench import gas_margin, gas_surface
from oracle_node.chain.anvil import ANVIL_KEYS, Anvil, anvil_binary
from oracle_node.chain.contracts import ContractWrapper, RiskOracle, RiskParamAggregator, TxResult
from oracle_node.chain.deploy import (
    DeployConfig,
    MarketConfig,
    deploy_stack,
    load_deploy_config,
    resolve_account,
)
from oracle_node.errors import ConfigError, OracleNodeError
from oracle_node.reports.eip712 import RiskReport, co_sign
from oracle_node.types import RiskParamsBps, market_id_bytes32

BASE_GAS = 21_000
TICKERS = [
    "BTC",
    "ETH",
    "SOL",
    "BNB",
    "XRP",
    "ADA",
    "DOGE",
    "AVAX",
    "DOT",
    "LINK",
    "TRX",
    "LTC",
    "BCH",
    "ATOM",
    "UNI",
    "XLM",
    "ETC",
    "FIL",
    "APT",
    "ARB",
    "OP",
    "NEAR",
    "ICP",
    "HBAR",
    "VET",
    "MKR",
    "AAVE",
    "INJ",
    "RNDR",
    "GRT",
    "STX",
    "IMX",
    "SUI",
    "SEI",
    "TIA",
    "LDO",
    "CRV",
    "SNX",
    "COMP",
    "RUNE",
    "ALGO",
    "EGLD",
    "FTM",
    "SAND",
    "MANA",
    "AXS",
    "KAS",
    "TON",
    "PEPE",
    "WLD",
]
MARKETS = tuple(f"{t}-USD" for t in TICKERS)
MODEL = b"mlra-dev-manifest-v1".ljust(32, b"\x00")
# Two realistic parameter sets within one update of each other (50 % relative, 500 bp LT, 3000 bp score).
STATE_A = RiskParamsBps(6000, 500, 650, 1200, 700, 8500, 4000, 9000)
STATE_B = RiskParamsBps(6310, 523, 684, 1262, 736, 8470, 4150, 9040)


class ReadProbe(ContractWrapper):
    ARTIFACT = "ReadProbe"

    def measure(self, function: str, *args: Any) -> int:
        return int(self._call(function, *args))


@dataclass
class Bench:
    w3: Web3
    oracle: RiskOracle
    keys: dict[int, str]
    submitter: str
    round: int = 0

    def publish(self, markets: tuple[str, ...], k: int) -> TxResult:
        """Submit the next round for `markets`, alternating states so every field changes."""
        self.round += 1
        self.w3.provider.make_request("evm_increaseTime", [60])
        self.w3.provider.make_request("evm_mine", [])
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        state = STATE_A if self.round % 2 else STATE_B
        report = RiskReport.build(
            epoch=1,
            round=self.round,
            observed_at=now,
            deadline=now + 300,
            model_hash=MODEL,
            inputs_hash=Web3.keccak(self.round.to_bytes(8, "big")),
            updates=dict.fromkeys(markets, state),
        )
        sigs = co_sign(report, self.w3.eth.chain_id, self.oracle.address, {i: self.keys[i] for i in range(k)})
        return self.oracle.submit_report(report, sigs, sender=self.submitter)


def bench_config(threshold: int) -> DeployConfig:
    base = load_deploy_config()
    markets = tuple(MarketConfig(id=m, profile=0, engine_max_age=3600) for m in MARKETS)
    update = {"threshold": threshold, "markets": markets, "adapters": (), "engine": base.engine.model_copy()}
    return base.model_copy(update=update)


def deploy(w3: Web3, threshold: int, out_dir: Path | None) -> Bench:
    config = bench_config(threshold)
    deployment = deploy_stack(w3, resolve_account(config.deployer), config, out_dir)
    keys = {i: ANVIL_KEYS[ref] for i, ref in enumerate(config.signers) if isinstance(ref, int)}
    if len(keys) < 5:
        raise ConfigError("the benchmark needs 5 signers given as dev account indices in deploy/local.yaml")
    return Bench(w3, RiskOracle(w3, deployment.oracle, out_dir), keys, resolve_account(6))


def breakdown(w3: Web3, result: TxResult, markets: int, k: int) -> dict[str, Any]:
    data = bytes(w3.eth.get_transaction(result.tx_hash)["input"])
    zeros = data.count(0)
    nonzero = len(data) - zeros
    calldata = 16 * nonzero + 4 * zeros
    return {
        "gas_used": result.gas_used,
        "markets": markets,
        "signatures": k,
        "base": BASE_GAS,
        "calldata": calldata,
        "execution": result.gas_used - BASE_GAS - calldata,
        "input_bytes": len(data),
        "zero_bytes": zeros,
        "eip7623_floor": BASE_GAS + 10 * (zeros + 4 * nonzero),
        "ecrecover_precompile": 3000 * k,
    }


def measure_updates(w3: Web3, out_dir: Path | None) -> tuple[dict[str, int], dict[str, Any]]:
    results: dict[str, int] = {}
    detail: dict[str, Any] = {}
    for k in (1, 3, 5):
        bench = deploy(w3, k, out_dir)
        first = bench.publish(MARKETS[:1], k)
        if k == 3:
            detail["first_publish_k3"] = breakdown(w3, first, 1, k) | {"state": "first publication"}
        steady = bench.publish(MARKETS[:1], k)
        results[f"single_k{k}"] = steady.gas_used
        detail[f"single_k{k}"] = breakdown(w3, steady, 1, k) | {"state": "steady (previous value stored)"}
        if k != 3:
            continue
        for n in (10, 50):
            bench.publish(MARKETS[:n], k)  # warm-up: every market holds a value before the measured round
            steady = bench.publish(MARKETS[:n], k)
            key = f"batch{n}_k3_per_market"
            results[key] = round(steady.gas_used / n)
            detail[key] = breakdown(w3, steady, n, k) | {"state": "steady (previous value stored)"}
    return results, detail


def measure_reads(w3: Web3, out_dir: Path | None) -> tuple[int, dict[str, Any]]:
    bench = deploy(w3, 3, out_dir)
    bench.publish(MARKETS[:1], 3)
    deployer = resolve_account(0)
    probe = ReadProbe.deploy(w3, deployer, out_dir=out_dir)
    market = market_id_bytes32(MARKETS[0])
    adapter = RiskParamAggregator.deploy(w3, deployer, bench.oracle.address, market, 3, out_dir=out_dir)
    cold = probe.measure("measureRead", bench.oracle.address, market)
    detail = {
        "read_cold": {"getRiskParams": cold, "note": "gasleft() around one call via eth_call; cold account"},
        "read_cold_market_word": {
            "getMarketWord": probe.measure("measureWordRead", bench.oracle.address, market)
        },
        "read_cold_adapter": {"latestRoundData": probe.measure("measureAdapterRead", adapter.address)},
    }
    return cold, detail


def environment(w3: Web3) -> dict[str, Any]:
    info = w3.provider.make_request("anvil_nodeInfo", []).get("result", {})
    version = subprocess.run([anvil_binary(), "--version"], capture_output=True, text=True, check=False)
    return {
        "anvil": version.stdout.strip().splitlines()[0] if version.stdout else "?",
        "hardfork": info.get("hardFork"),
    }


def run(out_dir: Path | None = None) -> dict[str, Any]:
    with Anvil() as node:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        results, detail = measure_updates(w3, out_dir)
        results["read_cold"], reads = measure_reads(w3, out_dir)
        detail |= reads
        detail["environment"] = environment(w3)
    surface = gas_surface.measure(out_dir)  # its own anvil: the VolSurfaceOracle stack
    results |= {k: v for k, v in surface.items() if k != "breakdown"}
    detail |= surface["breakdown"]
    with Anvil() as node:  # the options portfolio margin engine (bench/gas_margin.py: its surface oracle)
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        margin, margin_detail = gas_margin.measure_margin(w3, out_dir)
    results |= margin
    detail |= margin_detail
    order = (
        "single_k1",
        "single_k3",
        "single_k5",
        "batch10_k3_per_market",
        "batch50_k3_per_market",
        "read_cold",
        "surface_update_2x8_k3",
        "read_vol_cold",
        "margin_check_16_options",
        "margin_check_100_options",
        "margin_check_17_options_new_slot",
    )
    return {key: results[key] for key in order} | {"breakdown": detail}


def table(report: dict[str, Any]) -> str:
    rows = [
        "| scenario | gas | base | calldata | execution | EIP-7623 floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, value in report.items():
        if key == "breakdown":
            continue
        b = report["breakdown"].get(key, {})
        if "gas_used" in b:
            total = f"{value:,}" + (f" ({b['gas_used']:,} total)" if b.get("markets", 1) > 1 else "")
            rows.append(
                f"| {key} | {total} | {_fmt(b.get('base'))} | {_fmt(b.get('calldata'))} | {_fmt(b.get('execution'))} "
                f"| {_fmt(b.get('eip7623_floor'))} |"
            )
        else:
            rows.append(f"| {key} | {value:,} | | | | |")
    return "\n".join(rows)


def _fmt(value: int | None) -> str:
    return f"{value:,}" if value is not None else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure RiskOracle gas on a local anvil.")
    parser.add_argument("--out", type=Path, default=Path("bench/gas.json"))
    parser.add_argument("--artifacts", type=Path, default=None, help="forge out/ directory (default: ./out)")
    args = parser.parse_args(argv)
    try:
        report = run(args.artifacts)
    except OracleNodeError as exc:
        print(f"bench-gas failed: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
