"""Gas of the VolSurfaceOracle: `measure()` returns the issue-11 entries for bench/gas.json.

    .venv/bin/python -m bench.gas_surface [--artifacts DIR]      # prints the JSON

Starts its own anvil, deploys the stack with deploy_stack (5 signers, threshold 3) and a
VolSurfaceOracle sharing its signers, and measures TOTAL transaction gas from receipts (21,000 base and
calldata included), as bench/gas.py does:

- `surface_update_2x8_k3`: one report updating 2 underlyings x 8 expiries with 3 signatures, in steady
  state: the same expiries already hold a smile from the previous round, every word changes (nonzero
  -> nonzero writes); the first publication (fresh slots) is in the breakdown.
- `read_vol_cold`: SurfaceReadProbe.measureImpliedVol via eth_call: gasleft() around one
  impliedVol(underlying, expiry, strike) call, cold account and slot (call and ABI decoding included,
  no 21,000 base), like read_cold.

The smiles are synthetic but shaped like the fitted BTC/ETH surfaces of 2025-12-30 (1 day .. 1 year);
the bench needs no shared data.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
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
from oracle_node.options import onchain
from oracle_node.options.surface import Surface, SurfaceSlice
from oracle_node.options.svi import SviParams

BASE_GAS = 21_000
MODEL = b"mlra-dev-manifest-v1".ljust(32, b"\x00")
DAY = 86_400
EXPIRY_DAYS = (1, 2, 3, 9, 16, 30, 91, 360)
# spot, daily carry of the forward, (ATM variance per year, b / sqrt(t), rho, m / sqrt(t), sigma / sqrt(t)),
# shaped like the 2025-12-30 fits (ATM vol ~45% BTC, ~60% ETH; skew negative).
SHAPES = {
    "BTC": (88_524.21, 0.00015, (0.20, 0.30, -0.12, 0.05, 0.60)),
    "ETH": (2_978.74, 0.00010, (0.36, 0.40, -0.14, -0.02, 0.80)),
}
BOUNDS = SurfaceBoundsConfig(
    atm_vol_floor=1000,
    atm_vol_ceiling=30000,
    atm_vol_max_change=5000,
    price_move_floor=500,
    price_move_ceiling=5000,
    vol_up_floor=1000,
    vol_up_ceiling=20000,
    vol_down_floor=500,
    vol_down_ceiling=9000,
    min_interval=60,
    spot_max_change=3000,
)
SHOCKS = onchain.Shocks(1600, 5000, 2500)


class SurfaceReadProbe(ContractWrapper):
    ARTIFACT = "SurfaceReadProbe"

    def measure_implied_vol(
        self, oracle: str, underlying: bytes, expiry: int, strike: int
    ) -> tuple[int, int]:
        gas, vol = self._call("measureImpliedVol", oracle, underlying, expiry, strike)
        return int(gas), int(vol)

    def measure_get_smile(self, oracle: str, underlying: bytes, expiry: int) -> int:
        return int(self._call("measureGetSmile", oracle, underlying, expiry))

    def implied_vols(self, oracle: str, underlying: bytes, expiry: int, strikes: list[int]) -> list[int]:
        return [int(v) for v in self._call("impliedVols", oracle, underlying, expiry, strikes)]


def expiries_after(now: int) -> list[int]:
    """Eight expiries at 08:00 UTC, 1 day .. 1 year after `now` (EXPIRY_DAYS)."""
    first = (now // DAY + 1) * DAY + 8 * 3600
    return [first + (days - 1) * DAY for days in EXPIRY_DAYS]


def surfaces(now: int, bump: float, expiries: list[int] | None = None) -> list[Surface]:
    """Two synthetic surfaces fitted at `now` (default: the 8 expiries_after(now)); `bump` scales the
    variance level."""
    out = []
    for name, (spot, carry, (v, b, rho, m, sigma)) in SHAPES.items():
        slices = []
        for expiry in expiries or expiries_after(now):
            days = (expiry - now) / DAY
            t = (expiry - now) / onchain.om.YEAR
            root = t**0.5
            bt, st, mt = b * root * bump, sigma * root, m * root
            # w(0) = v t exactly: a = v t - b (sqrt(m^2 + sigma^2) - rho m).
            a = v * t * bump - bt * ((mt * mt + st * st) ** 0.5 - rho * mt)
            params = SviParams(a, bt, rho, mt, st)
            slices.append(
                SurfaceSlice(datetime.fromtimestamp(expiry, UTC), t, spot * (1 + carry * days), params)
            )
        out.append(Surface(name, spot, tuple(slices)))
    return out


def _breakdown(w3: Web3, result: TxResult) -> dict[str, Any]:
    data = bytes(w3.eth.get_transaction(result.tx_hash)["input"])
    zeros = data.count(0)
    calldata = 16 * (len(data) - zeros) + 4 * zeros
    return {
        "gas_used": result.gas_used,
        "base": BASE_GAS,
        "calldata": calldata,
        "execution": result.gas_used - BASE_GAS - calldata,
        "input_bytes": len(data),
        "zero_bytes": zeros,
        "ecrecover_precompile": 3 * 3000,
    }


def measure(out_dir: Path | None = None) -> dict[str, Any]:
    """{"surface_update_2x8_k3": gas, "read_vol_cold": gas, "breakdown": {...}} on a fresh anvil."""
    with Anvil() as node:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        base = load_deploy_config()
        config = base.model_copy(update={"threshold": 3, "adapters": ()})
        deployer = resolve_account(config.deployer)
        deployment = deploy_stack(w3, deployer, config)
        surface_config = SurfaceOracleConfig(max_report_age=3600, underlyings=dict.fromkeys(SHAPES, BOUNDS))
        oracle = deploy_surface_oracle(w3, deployer, deployment.oracle, surface_config, out_dir)
        keys = {i: ANVIL_KEYS[ref] for i, ref in enumerate(config.signers) if isinstance(ref, int)}
        signers = {i: keys[i] for i in range(3)}
        submitter = resolve_account(6)

        def publish(
            rnd: int, bump: float, expiries: list[int], wait: int = 120
        ) -> tuple[TxResult, onchain.SurfaceReport]:
            w3.provider.make_request("evm_increaseTime", [wait])
            w3.provider.make_request("evm_mine", [])
            now = int(w3.eth.get_block("latest")["timestamp"])
            report = onchain.build_report(
                surfaces(now, bump, expiries),
                dict.fromkeys(SHAPES, SHOCKS),
                epoch=1,
                round=rnd,
                observed_at=now,
                deadline=now + 300,
                model_hash=MODEL,
                inputs_hash=Web3.keccak(rnd.to_bytes(8, "big")),
            )
            sigs = onchain.co_sign(report, w3.eth.chain_id, oracle.address, signers)
            return oracle.submit(onchain.to_abi(report), sigs, sender=submitter), report

        listed = expiries_after(int(w3.eth.get_block("latest")["timestamp"]) + 120)
        first, _ = publish(1, 1.0, listed)
        steady, report = publish(2, 1.03, listed)
        # A daily roll: the first expiry has passed (settled by this report), a new one is listed.
        now = int(w3.eth.get_block("latest")["timestamp"])
        rolled = [*listed[1:], listed[-1] + DAY]
        roll, _ = publish(3, 1.0, rolled, wait=listed[0] - now + 120)
        probe = SurfaceReadProbe.deploy(w3, deployer, out_dir=out_dir)
        smile = report.surfaces()["BTC"][3]
        expiry = report.observed_at + smile.tau
        strike = int(0.9 * smile.forward * 10**12)
        read_gas, vol = probe.measure_implied_vol(
            oracle.address, onchain.underlying_id("BTC"), expiry, strike
        )
        smile_gas = probe.measure_get_smile(oracle.address, onchain.underlying_id("BTC"), expiry)
        return {
            "surface_update_2x8_k3": steady.gas_used,
            "read_vol_cold": read_gas,
            "breakdown": {
                "surface_update_2x8_k3": _breakdown(w3, steady) | {"state": "steady (same expiries stored)"},
                "surface_first_publish_2x8_k3": _breakdown(w3, first) | {"state": "first publication"},
                "surface_roll_2x8_k3": _breakdown(w3, roll)
                | {"state": "daily roll: one expiry settled and one listed per underlying"},
                "read_vol_cold": {
                    "impliedVol": read_gas,
                    "vol_wad": vol,
                    "note": "gasleft() around one call via eth_call; cold account and slot",
                },
                "read_smile_cold": {"getSmile": smile_gas},
            },
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure VolSurfaceOracle gas on a local anvil.")
    parser.add_argument("--artifacts", type=Path, default=None, help="forge out/ directory (default: ./out)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.artifacts), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
