"""`make demo`, options phase: the bundled Deribit chains, in date order, through the 3-node network
into the VolSurfaceOracle, and an options book margined on them by OptionsPortfolioMarginEngine.

The phase runs in data time: its own anvil starts at the first snapshot's time and, before each
snapshot, the chain's clock and the nodes' clock jump to the snapshot's time (anvil_setTime; the
nodes get the same `now`), so expiries are real expiries, expired ones settle at the next report,
and every smile keeps the time to expiry it was fitted with. For each snapshot:
1. the three nodes (k = 2) fit the chain (service.surfaces.ChainReplay) and run surface rounds until
   the report lands (the leader proposes, followers co-sign within tolerance);
2. three books on BTC, at the listed expiry nearest 30 days, are margined by the engine's `marginFor`
   on the published surfaces: a short strangle (puts and calls 15 % out of the money), a put spread
   (short 0.95 F, long 0.85 F: a credit spread) and a covered call (short an ATM call, long half a BTC);
3. beside it, the margin a single-volatility model asks: the same grid (options.portfolio_margin)
   with every option at the expiry's ATM vol (no smile).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import OptionsPortfolioMarginEngine, TestUSD
from oracle_node.chain.deploy import deploy_stack, load_deploy_config, resolve_account
from oracle_node.chain.surface_oracle import VolSurfaceOracle
from oracle_node.network import Domain, LocalObservation, NetworkSettings
from oracle_node.network.cluster import LocalCluster
from oracle_node.network.errors import NothingDue
from oracle_node.options import onchain
from oracle_node.options import portfolio_margin as pm
from oracle_node.options.chain import read_chain
from oracle_node.options.svi import SviParams
from oracle_node.service.surfaces import ChainReplay, ShockSizer
from oracle_node.sources.bundled import BUNDLED_DIR

CHAINS_DIR = BUNDLED_DIR / "options"
SIGNER_ACCOUNTS = (1, 2, 3)
WAD = 10**18
BTC = onchain.underlying_id("BTC")
BOOKS = ("short strangle", "put spread", "covered call")


@dataclass
class SnapshotRecord:
    observed_at: int
    landed: bool
    round: int | None = None
    leader: str | None = None
    gas_used: int | None = None
    spot: float = math.nan
    expiry: int = 0  # the books' expiry
    atm_vol: float = math.nan
    shocks: onchain.Shocks | None = None
    margins: dict[str, tuple[float, float, float]] = field(
        default_factory=dict
    )  # book -> (IM, MM, single-vol IM)
    smiles: list[tuple[float, list[float], list[float]]] = field(default_factory=list)  # (days, k, vol)


@dataclass
class DataClock:
    """A clock that runs at wall speed from a settable data time (the nodes' and the chain's `now`)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def jump_to(self, t: float) -> None:
        self.offset = t - time.time()


async def _no_risk(round_: int, slot_time: int) -> LocalObservation:
    raise NothingDue("the options phase publishes surfaces only")


class OptionsPhase:
    def __init__(self, workdir: Path, period_s: float = 4.0, chains: list[Path] | None = None) -> None:
        self.workdir, self.period_s = workdir, period_s
        self.chains = sorted(chains or CHAINS_DIR.glob("*.csv.gz"), key=lambda p: read_chain(p).observed_at)
        self.clock = DataClock()

    def run(self, on_snapshot: Any = lambda record: None) -> list[SnapshotRecord]:
        first = int(read_chain(self.chains[0]).observed_at.timestamp())
        with Anvil(extra_args=["--timestamp", str(first - 600)]) as anvil:
            return asyncio.run(self._run(anvil.url, on_snapshot))

    async def _run(self, url: str, on_snapshot: Any) -> list[SnapshotRecord]:
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 60}))
        surface, engine, domain = self._deploy(w3)
        sizer = await asyncio.to_thread(ShockSizer)
        settings = NetworkSettings(
            genesis=float(int(read_chain(self.chains[0]).observed_at.timestamp()) - 3600),
            period_s=self.period_s, leader_timeout_s=self.period_s / 2, max_attempts=2, deadline_s=60,
            collect_timeout_s=1.0, request_timeout_s=1.5, observe_timeout_s=3.0, max_skew_s=2.0,
        )  # fmt: skip
        keys = [ANVIL_KEYS[i] for i in SIGNER_ACCOUNTS]
        (self.workdir / "option-stores").mkdir(parents=True, exist_ok=True)
        records = []
        for path in self.chains:
            t = int(read_chain(path).observed_at.timestamp()) + 1
            self.clock.jump_to(t)
            w3.provider.make_request("anvil_setTime", [t])  # type: ignore[attr-defined]
            record = await self._publish(url, domain, settings, keys, path, surface, sizer)
            if record.landed:
                self._margin(record, surface, engine)
            records.append(record)
            on_snapshot(record)
        return records

    def _deploy(self, w3: Web3) -> tuple[VolSurfaceOracle, OptionsPortfolioMarginEngine, Domain]:
        config = load_deploy_config()
        surface_cfg = config.surface
        assert surface_cfg is not None, "deploy/local.yaml has no surface section"
        # The snapshots are weeks apart, the shipped per-update limits are sized for updates a minute
        # apart (ETH fell 33 % between 2026-01-20 and 02-09, above spot_max_change 30 %): the demo
        # keeps every floor and ceiling but lifts the per-update change limits and the interval.
        lifted = {"min_interval": 1, "spot_max_change": 0xFFFF, "atm_vol_max_change": 0xFFFF}
        loose = {u: b.model_copy(update=lifted) for u, b in surface_cfg.underlyings.items()}
        config = config.model_copy(update={
            "signers": SIGNER_ACCOUNTS, "threshold": 2, "adapters": (),
            "surface": surface_cfg.model_copy(update={"underlyings": loose}),
        })  # fmt: skip
        deployer = resolve_account(config.deployer)
        deployment = deploy_stack(w3, deployer, config)
        for signer in deployment.signers:
            w3.provider.make_request("anvil_setBalance", [signer, hex(10**21)])  # type: ignore[attr-defined]
        assert deployment.surface_oracle is not None
        surface = VolSurfaceOracle(w3, deployment.surface_oracle)
        owner = w3.eth.accounts[0]
        usd = TestUSD.deploy(w3, owner, owner)
        engine = OptionsPortfolioMarginEngine.deploy(
            w3, owner, surface.address, usd.address, owner, 1800, 8 * WAD // 10
        )
        engine.list_underlying(BTC, 7 * 86_400, sender=owner)
        return surface, engine, Domain(deployment.chain_id, deployment.oracle)

    async def _publish(
        self,
        url: str,
        domain: Domain,
        settings: NetworkSettings,
        keys: list[str],
        path: Path,
        surface: VolSurfaceOracle,
        sizer: ShockSizer,
    ) -> SnapshotRecord:
        cluster = LocalCluster.create(url, domain, settings, keys, [_no_risk] * len(keys),
                                      self.workdir / "option-stores", ("BTC-USD", "ETH-USD"))  # fmt: skip
        cluster.surface_oracle, cluster.now = surface.address, self.clock
        start = math.floor((self.clock() - settings.genesis) / settings.period_s) + 1
        stored = _stored_round(surface)
        for member in cluster.members:
            member.surface_provider = ChainReplay([path], start, 3, sizer, lambda: _stored_round(surface),
                                                  settings.period_s, rebase=False)  # fmt: skip
        try:
            for member in cluster.members:
                await cluster.start(member)
            runs = [m.node.run(start + 2) for m in cluster.members if m.node is not None]
            await asyncio.wait_for(
                asyncio.gather(*runs, return_exceptions=True), timeout=4 * settings.period_s + 30
            )
        finally:
            await cluster.stop()
        won = [(m.name, o) for m in cluster.members for o, _ in m.outcomes
               if o.kind == "surface" and o.status == "included"]  # fmt: skip
        observed = int(read_chain(path).observed_at.timestamp())
        if not won or _stored_round(surface) <= stored:
            return SnapshotRecord(observed, landed=False)
        name, outcome = won[0]
        return SnapshotRecord(observed, True, outcome.round, name, outcome.gas_used)

    def _margin(
        self, record: SnapshotRecord, surface: VolSurfaceOracle, engine: OptionsPortfolioMarginEngine
    ) -> None:
        spot_wad, _ = surface.get_spot(BTC)
        record.spot = spot_wad / WAD
        now = int(self.clock())
        expiries = [e for e in surface.expiries_of(BTC) if e > now + 86_400]
        expiry = min(expiries, key=lambda e: abs(e - now - 30 * 86_400))
        smile = surface.get_smile(BTC, expiry)
        forward = smile.forward / WAD
        shocks = surface.get_shocks(BTC)
        record.expiry, record.shocks = expiry, onchain.Shocks(*(round(x * 1e4 / WAD) for x in shocks[:3]))
        record.atm_vol = surface.implied_vol(BTC, expiry, smile.forward) / WAD
        market = _reference_market(surface, record.spot)
        flat = _flat_market(market, record.atm_vol, now)
        for name, (options, linear) in _books(expiry, forward).items():
            im, mm = engine.margin_for(
                [_abi(o) for o in options], [(BTC, round(x.size * WAD)) for x in linear]
            )
            single = pm.initial_margin(options, linear, flat, now)
            record.margins[name] = (im / WAD, mm / WAD, single)
        for e in expiries[:: max(1, len(expiries) // 4)]:
            s = surface.get_smile(BTC, e)
            ks = [x / 10 for x in range(-6, 5)]
            vols = [surface.implied_vol(BTC, e, round(s.forward * math.exp(k))) / WAD for k in ks]
            record.smiles.append(((e - now) / 86_400, ks, vols))


def _stored_round(surface: VolSurfaceOracle) -> int:
    return (surface.get_state_word(BTC) >> 144) & ((1 << 64) - 1)


def _books(expiry: int, forward: float) -> dict[str, tuple[list[pm.OptionPosition], list[pm.LinearPosition]]]:
    def opt(strike: float, call: bool, size: float) -> pm.OptionPosition:
        return pm.OptionPosition("BTC", expiry, round(strike, -2), call, size)

    return {
        "short strangle": ([opt(0.85 * forward, False, -1.0), opt(1.15 * forward, True, -1.0)], []),
        "put spread": ([opt(0.95 * forward, False, -1.0), opt(0.85 * forward, False, 1.0)], []),
        "covered call": ([opt(forward, True, -1.0)], [pm.LinearPosition("BTC", 0.5)]),
    }


def _abi(o: pm.OptionPosition) -> tuple[bytes, int, int, bool, int]:
    return (BTC, o.expiry, round(o.strike * WAD), o.is_call, round(o.size * WAD))


def _reference_market(surface: VolSurfaceOracle, spot: float) -> dict[str, pm.Underlying]:
    shocks = surface.get_shocks(BTC)
    smiles = {}
    for e in surface.expiries_of(BTC):
        s = surface.get_smile(BTC, e)
        svi = SviParams(s.a / WAD, s.b / WAD, s.rho / WAD, s.m / WAD, s.sigma / WAD)
        smiles[e] = pm.Smile(svi, s.forward / WAD, s.observed_at)
    return {"BTC": pm.Underlying(pm.Shocks(*(x / WAD for x in shocks[:3])), spot, smiles, {})}


def _flat_market(market: dict[str, pm.Underlying], vol: float, now: int) -> dict[str, pm.Underlying]:
    """The same market with every smile flat at one volatility (a single-vol model)."""
    u = market["BTC"]
    flat = {}
    for e, s in u.smiles.items():
        t = (e - s.observed_at) / (365 * 86_400)
        flat[e] = dataclasses.replace(s, svi=SviParams(vol * vol * t, 0.0, 0.0, 0.0, 1e-3))
    return {"BTC": dataclasses.replace(u, smiles=flat)}
