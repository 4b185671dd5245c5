"""Python fits, packs and signs surfaces; VolSurfaceOracle.sol verifies, stores and answers sigma(K, T).

A real Deribit snapshot (../shared/data/options) is fitted with the node's fitter, signed by 3 of the
RiskOracle's 5 signers and published on an anvil whose clock starts at the snapshot's time. The
differential test holds the contract's impliedVol to EXACT equality with the Python mirror
(oracle_node/options/onchain_math.py) on 2,048 random (smile, strike) cases, and both within 1e-9 vol
of the float formula on the same packed parameters.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import ContractReverted
from oracle_node.chain.deploy import (
    SurfaceBoundsConfig,
    SurfaceOracleConfig,
    deploy_stack,
    deploy_surface_oracle,
    load_deploy_config,
    resolve_account,
)
from oracle_node.chain.surface_oracle import VolSurfaceOracle
from oracle_node.options import onchain
from oracle_node.options import onchain_math as om
from oracle_node.options.build import ChainFit, fit_chain
from oracle_node.options.chain import read_chain

MODEL = b"mlra-dev-manifest-v1".ljust(32, b"\x00")
SNAPSHOT = "deribit_options_snapshot_20251230T173115Z.csv"
WIDE = SurfaceBoundsConfig(
    atm_vol_floor=0,
    atm_vol_ceiling=0xFFFF,
    atm_vol_max_change=0xFFFF,
    price_move_floor=0,
    price_move_ceiling=0xFFFF,
    vol_up_floor=0,
    vol_up_ceiling=0xFFFF,
    vol_down_floor=0,
    vol_down_ceiling=0xFFFF,
    min_interval=1,
    spot_max_change=0xFFFF,
)
REAL = SurfaceBoundsConfig(
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
DIFF_UNDERLYINGS = tuple(f"DIFF{i}" for i in range(8))
SHOCKS = onchain.Shocks(1600, 5000, 2500)


@dataclass
class Env:
    w3: Web3
    oracle: VolSurfaceOracle
    signers: dict[int, str]
    submitter: str
    fit: ChainFit
    observed: int

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def sign(self, report: onchain.SurfaceReport, keys: dict[int, str] | None = None) -> list:
        return onchain.co_sign(report, self.w3.eth.chain_id, self.oracle.address, keys or self.signers)


@pytest.fixture(scope="module")
def env(shared_data: Path) -> Iterator[Env]:
    chain = read_chain(shared_data / "options" / SNAPSHOT)
    fit = fit_chain(chain)
    observed = int(chain.observed_at.timestamp())
    with Anvil(extra_args=["--timestamp", str(observed + 30)]) as node:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        config = load_deploy_config().model_copy(update={"models": ("0x" + MODEL.hex(),), "adapters": ()})
        deployer = resolve_account(config.deployer)
        deployment = deploy_stack(w3, deployer, config)
        underlyings = {"BTC": REAL, "ETH": REAL} | dict.fromkeys(DIFF_UNDERLYINGS, WIDE)
        surface = SurfaceOracleConfig(max_report_age=3600, underlyings=underlyings)
        oracle = deploy_surface_oracle(w3, deployer, deployment.oracle, surface)
        keys = {i: ANVIL_KEYS[ref] for i, ref in enumerate(config.signers) if isinstance(ref, int)}
        yield Env(w3, oracle, {i: keys[i] for i in range(3)}, resolve_account(6), fit, observed)


def _report(env: Env, rnd: int, surfaces: list, shocks: dict, observed: int) -> onchain.SurfaceReport:
    return onchain.build_report(
        surfaces,
        shocks,
        epoch=1,
        round=rnd,
        observed_at=observed,
        deadline=env.now() + 600,
        model_hash=MODEL,
        inputs_hash=Web3.keccak(text=f"{SNAPSHOT}#{rnd}"),
    )


@pytest.fixture(scope="module")
def published(env: Env) -> onchain.SurfaceReport:
    surfaces = [u.surface for u in env.fit.underlyings]
    report = _report(env, 1, surfaces, dict.fromkeys(("BTC", "ETH"), SHOCKS), env.observed)
    env.oracle.submit(onchain.to_abi(report), env.sign(report), sender=env.submitter)
    return report


def test_real_snapshot__published_by_3_of_5__reads_back_words_and_vols(
    env: Env, published: onchain.SurfaceReport
) -> None:
    assert env.oracle.report_digest(onchain.to_abi(published)) == onchain.report_digest(
        published, env.w3.eth.chain_id, env.oracle.address
    )
    worst = 0.0
    for u in env.fit.underlyings:
        sid = onchain.underlying_id(u.surface.underlying)
        smiles = published.surfaces()[u.surface.underlying]
        expiries = [published.observed_at + s.tau for s in smiles]
        assert env.oracle.expiries_of(sid) == expiries
        assert env.oracle.get_spot(sid) == (round(u.surface.spot * 1e8) * 10**10, published.observed_at)
        for sl, word, expiry in zip(u.surface.slices, smiles, expiries, strict=True):
            assert env.oracle.get_smile_word(sid, expiry) == word.pack()
            smile = env.oracle.get_smile(sid, expiry)
            assert (smile.a, smile.b, smile.rho, smile.sigma) == (
                word.a * 10**9,
                word.b * 10**9,
                word.rho * 10**9,
                word.sigma * 10**9,
            )
            assert smile.observed_at == published.observed_at
            for k in (-1.0, -0.3, -0.05, 0.0, 0.05, 0.3, 1.0):
                strike = sl.forward * math.exp(k)
                strike_wad = round(strike * 1e18)
                onchain_vol = env.oracle.implied_vol(sid, expiry, strike_wad)
                assert onchain_vol == word.implied_vol_wad(strike_wad)
                fitted = float(u.surface.implied_vol(strike, sl.t))
                worst = max(worst, abs(onchain_vol / 1e18 - fitted))
    print(f"real snapshot: worst |on-chain - float fit| = {worst:.2e} vol")
    # Quantisation (1e-9 parameters, 1e-6 forward) and the 365 vs 365.25-day year (absorbed by a, b).
    assert worst < 1e-4, f"on-chain sigma differs from the float fit by {worst:.2e}"


def _random_smile(rng: random.Random, observed: int, tau: int) -> onchain.SmileWord:
    """A random smile that passes the contract's checks (ATM vol anywhere: WIDE bounds)."""
    while True:
        t = tau / om.YEAR
        b = rng.uniform(0.0, min(2.0, 3.9 / t) / 1.99)
        rho = rng.uniform(-0.99, 0.99)
        sigma = rng.uniform(0.001, 3.0)
        m = rng.uniform(-1.5, 1.5)
        floor = -b * sigma * math.sqrt(1 - rho * rho)
        a = floor + rng.uniform(0.0, 0.5) * max(t, 0.01)
        word = onchain.SmileWord(
            a=round(a * 1e9),
            b=round(b * 1e9),
            rho=round(rho * 1e9),
            m=round(m * 1e9),
            sigma=round(sigma * 1e9),
            forward=round(rng.uniform(0.05, 150_000) * 1e6),
            tau=tau,
        )
        # WIDE bounds still cap the ATM vol at 65535 bp (655%).
        if word.check() == 0 and word.atm_variance_wad() <= 6.5**2 * 10**18:
            return word


def test_differential__2048_random_smiles_and_strikes__contract_equals_python_mirror(
    env: Env, published: onchain.SurfaceReport
) -> None:
    rng = random.Random(20251230)
    env.w3.provider.make_request("evm_increaseTime", [120])
    env.w3.provider.make_request("evm_mine", [])
    observed = env.now() - 5
    words: dict[str, list[onchain.SmileWord]] = {}
    for u in DIFF_UNDERLYINGS:
        taus = sorted(rng.sample(range(600, 2 * om.YEAR), 16))
        words[u] = [_random_smile(rng, observed, tau) for tau in taus]
    report = onchain.SurfaceReport(
        1,
        2,
        observed,
        env.now() + 600,
        MODEL,
        Web3.keccak(text="differential"),
        tuple(onchain.underlying_id(u) for u in DIFF_UNDERLYINGS),
        tuple(onchain.pack_underlying_word(10**8, SHOCKS, 16) for _ in DIFF_UNDERLYINGS),
        tuple(w.pack() for u in DIFF_UNDERLYINGS for w in words[u]),
    )
    env.oracle.submit(onchain.to_abi(report), env.sign(report), sender=env.submitter)
    cases = []
    for u in DIFF_UNDERLYINGS:
        for w in words[u]:
            for _ in range(16):
                k = rng.choice((rng.uniform(-0.5, 0.5), rng.uniform(-3.0, 3.0)))
                cases.append((u, w, round(w.forward * 1e12 * math.exp(k))))
    fn = env.oracle.contract.functions.impliedVol
    with env.w3.batch_requests() as batch:
        for u, w, strike in cases:
            batch.add(fn(onchain.underlying_id(u), observed + w.tau, strike))
        results = batch.execute()
    assert len(results) == len(cases) >= 1000
    worst = 0.0
    for (_, w, strike), got in zip(cases, results, strict=True):
        assert got == w.implied_vol_wad(strike), (w, strike)
        k = math.log(strike / (w.forward * 1e12))
        x = k - w.m / 1e9
        tv = w.a / 1e9 + w.b / 1e9 * (w.rho / 1e9 * x + math.sqrt(x * x + (w.sigma / 1e9) ** 2))
        worst = max(worst, abs(got / 1e18 - math.sqrt(max(tv, 0.0) / (w.tau / om.YEAR))))
    print(f"differential: {len(cases)} cases, worst |fixed - float| = {worst:.2e} vol")
    assert worst < 1e-9, f"fixed point differs from float maths by {worst:.2e} vol"


def test_reports__bad_signer_stale_and_replayed__refused_with_named_errors(
    env: Env, published: onchain.SurfaceReport
) -> None:
    btc = onchain.underlying_id("BTC")
    replay_sigs = env.sign(published)
    with pytest.raises(ContractReverted) as exc:
        env.oracle.submit(onchain.to_abi(published), replay_sigs, sender=env.submitter)
    assert exc.value.decoded is not None
    assert exc.value.decoded.name in ("VolSurfaceNonIncreasingRound", "VolSurfaceDeadlinePassed")
    stranger = {0: ANVIL_KEYS[9], 1: env.signers[1], 2: env.signers[2]}
    surfaces = [u.surface for u in env.fit.underlyings]
    fresh = _report(env, 5, surfaces, dict.fromkeys(("BTC", "ETH"), SHOCKS), env.now() - 1)
    with pytest.raises(ContractReverted) as exc:
        env.oracle.submit(onchain.to_abi(fresh), env.sign(fresh, stranger), sender=env.submitter)
    assert exc.value.decoded is not None and exc.value.decoded.name == "VolSurfaceUnknownSigner"
    expiry = published.observed_at + published.surfaces()["BTC"][-1].tau
    with pytest.raises(ContractReverted) as exc:
        env.oracle._call("getSmileNoOlderThan", btc, expiry, 1)
    assert exc.value.decoded is not None and exc.value.decoded.name == "VolSurfaceStale"
