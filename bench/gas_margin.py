"""Gas of the options portfolio margin check: `margin_check_16_options` and `margin_check_100_options`.

`python -m bench.gas_margin` prints both; bench/gas.py calls `measure_margin(w3, out_dir)` on its own
anvil. Each figure is the TOTAL gas (from the receipt: 21,000 base, calldata and execution) of one
`setOption` transaction that opens a new short put on an account already holding the rest of the
book, so it runs the full margin check over the whole book (every smile read from the surface
oracle, every option revalued in all 15 scenarios):

- margin_check_16_options: the account holds 15 options across 2 underlyings (BTC, ETH) x 4 expiries
  each (8 smiles) plus a linear hedge on each underlying; the transaction opens the 16th option;
- margin_check_100_options: 99 options across 2 underlyings x 8 expiries (16 smiles) plus the two
  linear hedges; the transaction opens the 100th.

The options mix calls and puts, longs and shorts, strikes from 0.7 to 1.3 times the forward. The
surface oracle is the real VolSurfaceOracle (one storage word per smile), deployed beside the
RiskOracle stack by deploy_stack and fed one SurfaceReport signed by 3 of its 5 signers; `--mock`
uses tests/contracts/mocks/MockVolSurfaceOracle.sol instead (three words per smile, as the
differential test does).

The engine stores two options per storage slot, so an even-numbered option (the 16th, the 100th)
fills the free half of an existing slot and an odd-numbered one pays for a fresh slot (~20,000 gas
more). `margin_check_17_options_new_slot` (no target) measures that case: 16 options held, the 17th
opens a new slot; it bounds what a 16-option book pays when its last option needs a new slot.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import ContractWrapper, TxResult
from oracle_node.chain.deploy import (
    SurfaceBoundsConfig,
    SurfaceOracleConfig,
    deploy_stack,
    deploy_surface_oracle,
    load_deploy_config,
    resolve_account,
)
from oracle_node.errors import OracleNodeError
from oracle_node.options import onchain

WAD = 10**18
DAY = 86_400
T0_OFFSET = 600
MAX_AGE = 3_600
GRACE = 1_800
MM_FACTOR = 8 * 10**17
TARGETS = {"margin_check_16_options": 400_000, "margin_check_100_options": 2_500_000}
BTC, ETH = b"BTC".ljust(32, b"\x00"), b"ETH".ljust(32, b"\x00")
SPOTS = {BTC: 100_000 * WAD, ETH: 3_000 * WAD}
TERMS_DAYS = (7, 14, 30, 60, 90, 120, 180, 270)
MODEL = b"mlra-dev-manifest-v1".ljust(32, b"\x00")


class SurfaceMock(ContractWrapper):
    ARTIFACT = "MockVolSurfaceOracle"


class PortfolioEngine(ContractWrapper):
    ARTIFACT = "OptionsPortfolioMarginEngine"

    def call(self, function: str, *args: Any) -> Any:
        return self._call(function, *args)

    def send(self, function: str, *args: Any, sender: str) -> TxResult:
        return self._send(function, *args, sender=sender)


class Token(ContractWrapper):
    ARTIFACT = "TestUSD"

    def send(self, function: str, *args: Any, sender: str) -> TxResult:
        return self._send(function, *args, sender=sender)


@dataclass
class Stack:
    w3: Web3
    surface: ContractWrapper
    engine: PortfolioEngine
    usd: Token
    owner: str
    signers: dict[int, str] | None = None  # set for the real oracle: RiskOracle signer index -> key


def smile_tuple(
    svi: tuple[float, float, float, float, float], forward: int, expiry: int, observed: int
) -> tuple[int, ...]:
    a, b, rho, m, sigma = (round(v * WAD) for v in svi)
    return (a, b, rho, m, sigma, forward, expiry, observed)


def smile_for(term_days: int) -> tuple[float, float, float, float, float]:
    """A plausible crypto smile for a term: ATM vol near 55 %, negative skew, wider for longer terms."""
    t = term_days / 365
    return (0.25 * t, 0.4 * t**0.5 * 0.25, -0.3, 0.01, 0.12 + 0.1 * t)


def open_bounds() -> SurfaceBoundsConfig:
    """DAO bounds that let any sane surface through: floors 0, min_interval 1 s, every other field
    (ceilings, maximum changes) at its largest value; built from the model's fields, so a bound added
    later gets its loosest value too."""
    values = {}
    for name, field in SurfaceBoundsConfig.model_fields.items():
        top = next((m.le for m in field.metadata if getattr(m, "le", None) is not None), 0xFFFF)
        values[name] = 0 if name.endswith("_floor") else 1 if name == "min_interval" else top
    return SurfaceBoundsConfig(**values)


def _engine(w3: Web3, surface: ContractWrapper, out_dir: Path | None) -> tuple[PortfolioEngine, Token, str]:
    owner = w3.eth.accounts[0]
    usd = Token.deploy(w3, owner, owner, out_dir=out_dir)
    engine = PortfolioEngine.deploy(
        w3, owner, surface.address, usd.address, owner, GRACE, MM_FACTOR, out_dir=out_dir
    )
    return engine, usd, owner


def deploy(w3: Web3, out_dir: Path | None) -> Stack:
    """The engine on MockVolSurfaceOracle (any WAD values, settlement set by hand)."""
    surface = SurfaceMock.deploy(w3, w3.eth.accounts[0], out_dir=out_dir)
    return Stack(w3, surface, *_engine(w3, surface, out_dir))


def deploy_real(w3: Web3, out_dir: Path | None) -> Stack:
    """The engine on a real VolSurfaceOracle sharing a fresh RiskOracle stack's signers."""
    config = load_deploy_config().model_copy(
        update={"models": ("0x" + MODEL.hex(),), "adapters": (), "surface": None}
    )
    deployer = resolve_account(config.deployer)
    deployment = deploy_stack(w3, deployer, config, out_dir)
    surface_config = SurfaceOracleConfig(
        max_report_age=MAX_AGE, underlyings=dict.fromkeys(("BTC", "ETH"), open_bounds())
    )
    surface = deploy_surface_oracle(w3, deployer, deployment.oracle, surface_config, out_dir)
    keys = {i: ANVIL_KEYS[ref] for i, ref in enumerate(config.signers) if isinstance(ref, int)}
    stack = Stack(w3, surface, *_engine(w3, surface, out_dir))
    stack.signers = {i: keys[i] for i in range(3)}
    return stack


def publish(stack: Stack, expiries: list[int], now: int) -> None:
    """Shocks, spots and one smile per expiry for BTC and ETH, observed at `now`."""
    if stack.signers is not None:
        publish_report(stack, expiries, now)
        return
    for u, spot in SPOTS.items():
        stack.surface._send("setShocks", u, 16 * WAD // 100, WAD // 2, WAD // 4, now, sender=stack.owner)
        stack.surface._send("setSpot", u, spot, now, sender=stack.owner)
        for expiry in expiries:
            days = (expiry - now) // DAY
            smile = smile_tuple(smile_for(days), spot + spot * days // 36_500, expiry, now)
            stack.surface._send("setSmile", u, expiry, smile, sender=stack.owner)


def publish_report(stack: Stack, expiries: list[int], now: int, round_: int = 1) -> None:
    """The same market as one SurfaceReport (contract units) co-signed by 3 signers and submitted."""
    words, smiles = [], []
    for spot in SPOTS.values():
        words.append(
            onchain.pack_underlying_word(spot // 10**10, onchain.Shocks(1600, 5000, 2500), len(expiries))
        )
        for expiry in expiries:
            days = (expiry - now) // DAY
            a, b, rho, m, sigma = (round(v * 10**9) for v in smile_for(days))
            forward = (spot + spot * days // 36_500) // 10**12  # 1e-6 USD units
            smiles.append(onchain.SmileWord(a, b, rho, m, sigma, forward, expiry - now).pack())
    report = onchain.SurfaceReport(
        1,
        round_,
        now,
        now + 3_600,
        MODEL,
        Web3.keccak(text=f"bench-gas-margin#{round_}"),
        tuple(SPOTS),
        tuple(words),
        tuple(smiles),
    )
    assert stack.signers is not None
    signatures = onchain.co_sign(report, stack.w3.eth.chain_id, stack.surface.address, stack.signers)
    stack.surface.submit(onchain.to_abi(report), signatures, sender=resolve_account(6))  # type: ignore[attr-defined]


def book(n: int, expiries: list[int]) -> list[tuple[bytes, int, int, bool, int]]:
    """n deterministic options (underlying, expiry, strike, isCall, size) spread over both
    underlyings and all expiries; sizes alternate long and short."""
    out = []
    for i in range(n):
        u = (BTC, ETH)[i % 2]
        expiry = expiries[(i // 2) % len(expiries)]
        moneyness = 70 + (i * 37) % 61  # 70..130 % of spot
        strike = SPOTS[u] * moneyness // 100
        is_call = moneyness >= 100 if i % 3 else moneyness < 100
        size = (1 if i % 4 in (0, 3) else -1) * WAD * (1 + i % 3) // (10 if u == BTC else 1)
        out.append((u, expiry, strike, is_call, size))
    return out


def measured_check(
    w3: Web3, out_dir: Path | None, n_options: int, n_expiries: int, mock: bool = False
) -> dict[str, Any]:
    stack = deploy(w3, out_dir) if mock else deploy_real(w3, out_dir)
    now = int(w3.eth.get_block("latest")["timestamp"]) + T0_OFFSET
    w3.provider.make_request("evm_setNextBlockTimestamp", [now])
    w3.provider.make_request("evm_mine", [])
    expiries = (
        [now + d * DAY for d in TERMS_DAYS[:n_expiries]]
        if n_expiries < 8
        else [now + d * DAY for d in TERMS_DAYS]
    )
    publish(stack, expiries, now)
    for u in SPOTS:
        stack.engine.send("listUnderlying", u, MAX_AGE, sender=stack.owner)
    trader = w3.eth.accounts[1]
    collateral = 10**9 * 10**6
    stack.usd.send("mint", trader, collateral, sender=stack.owner)
    stack.usd.send("approve", stack.engine.address, collateral, sender=trader)
    stack.engine.send("deposit", collateral, sender=trader)
    stack.engine.send("setLinear", BTC, WAD // 2, sender=trader)
    stack.engine.send("setLinear", ETH, -5 * WAD, sender=trader)
    positions = book(n_options - 1, expiries)
    for position in positions:
        stack.engine.send("setOption", *position, sender=trader)
    new_option = (BTC, expiries[min(2, len(expiries) - 1)], 93_000 * WAD, False, -WAD // 2)
    result = stack.engine.send("setOption", *new_option, sender=trader)
    return {
        "gas_used": result.gas_used,
        "options_held_before": len(positions),
        "underlyings": 2,
        "expiries_per_underlying": len(expiries),
        "linear_positions": 2,
        "initial_margin_usd": stack.engine.call("initialMargin", trader) / 10**6,
        "surface_oracle": "MockVolSurfaceOracle" if mock else "VolSurfaceOracle",
    }


def measure_margin(
    w3: Web3, out_dir: Path | None = None, mock: bool = False
) -> tuple[dict[str, int], dict[str, Any]]:
    """The two figures (total tx gas) and their details; see the module docstring."""
    detail = {
        "margin_check_16_options": measured_check(w3, out_dir, 16, 4, mock),
        "margin_check_100_options": measured_check(w3, out_dir, 100, 8, mock),
        "margin_check_17_options_new_slot": measured_check(w3, out_dir, 17, 4, mock),
    }
    results = {key: value["gas_used"] for key, value in detail.items()}
    for key, value in detail.items():
        value["target"] = TARGETS.get(key)  # None: reported, no target
    return results, detail


def run(out_dir: Path | None = None, mock: bool = False) -> dict[str, Any]:
    with Anvil() as node:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        results, detail = measure_margin(w3, out_dir, mock)
    return results | {"breakdown": detail}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the options portfolio margin check's gas on anvil.")
    parser.add_argument("--artifacts", type=Path, default=None, help="forge out/ directory (default: ./out)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--mock", action="store_true", help="read MockVolSurfaceOracle, not the real oracle")
    args = parser.parse_args(argv)
    try:
        report = run(args.artifacts, args.mock)
    except OracleNodeError as exc:
        print(f"bench-gas-margin failed: {exc}", file=sys.stderr)
        return 1
    for key in (k for k in report if k != "breakdown"):
        target = TARGETS.get(key)
        print(f"{key}: {report[key]:,} gas" + (f" (target <= {target:,})" if target else " (no target)"))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
