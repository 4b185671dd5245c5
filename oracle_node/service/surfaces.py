"""This node's surface observations for the network's surface rounds (network.surface_round).

`LiveChains` fetches Deribit's option chains (sources.deribit) every `every_rounds` rounds and fits
them; `ChainReplay` replays recorded chains.

A `ChainReplay` replays recorded option chains (Deribit snapshot CSVs) in date order, one chain per
`rounds_per_chain` rounds, as the risk replay maps data hours to round slots. Each chain is fitted
once (options.build.fit_chain: SVI per expiry, no-arbitrage enforced). A replay compresses weeks of
data into seconds of slots, so it cannot keep both each expiry's date and each smile's time to
expiry; it keeps the expiry's identity: every expiry moves by one shift for the whole replay,
expiry' = expiry + (slot of the replay's first round - first chain's time), so the same listed
expiry is the same on-chain expiry in every chain. The first chain's smiles keep their time to
expiry exactly; a later chain's is overstated by the data time the replay skipped (its implied
vols and forwards are kept exactly: the on-chain smile is rescaled to its time to expiry). A
chain's rounds are due until its surfaces land (the stored surface round reaches the chain's first
round); then nothing is due.

Shocks per underlying:
- vol up / vol down: the served ML shock model (options.shocks, BTC DVOL features) for the day of
  the snapshot when its features exist, else Deribit's fixed +50 % / -25 % (the model's own fallback,
  logged); both clipped into the DAO's bounds;
- price move: z_99.5 x the 30-day ATM implied vol x sqrt(margin days / 365) from the fitted surface
  itself (market-implied, so it moves with the smile), floored and capped by the DAO's bounds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from oracle_node.errors import ModelError
from oracle_node.logs import get_logger
from oracle_node.network.errors import NothingDue
from oracle_node.network.surface_round import SurfaceObservation
from oracle_node.options.build import ChainFit, fit_chain
from oracle_node.options.chain import read_chain
from oracle_node.options.live import chain_from_live
from oracle_node.options.live import inputs_hash as live_inputs_hash
from oracle_node.options.onchain import Shocks
from oracle_node.options.shocks import (
    FIXED_DOWN,
    FIXED_UP,
    SHOCK_DIR,
    ShockBounds,
    ShockModel,
    bundled_inputs,
    clip,
)
from oracle_node.options.surface import Surface
from oracle_node.sources.deribit import DeribitOptionsSource
from oracle_node.sources.deribit import OptionChain as LiveChain

log = get_logger(__name__)
Z_995 = 2.5758293035489004
MARGIN_DAYS = 2.0  # the risk model's margin period


@dataclass(frozen=True, slots=True)
class ShockLimits:
    """The DAO's shock bounds for one underlying, in bp (as the VolSurfaceOracle stores them)."""

    price_move_floor: int = 500
    price_move_ceiling: int = 5000
    vol_up_floor: int = 1000
    vol_up_ceiling: int = 20000
    vol_down_floor: int = 500
    vol_down_ceiling: int = 9000


def surface_model_hash(directory: Path = SHOCK_DIR) -> bytes:
    """The surface reports' modelHash: sha256 of the shock model's manifest (which pins its file)."""
    return hashlib.sha256((directory / "manifest.json").read_bytes()).digest()


class ShockSizer:
    """Shock sizes per underlying and day (see the module docstring)."""

    def __init__(
        self, model: ShockModel | None = None, limits: Mapping[str, ShockLimits] | None = None
    ) -> None:
        self.model = model or ShockModel.load()
        self.limits = dict(limits or {})
        self._inputs = bundled_inputs()

    def shocks(self, surface: Surface, when: datetime) -> Shocks:
        lim = self.limits.get(surface.underlying, ShockLimits())
        bounds = ShockBounds(lim.vol_up_floor / 1e4, lim.vol_up_ceiling / 1e4,
                             lim.vol_down_floor / 1e4, min(lim.vol_down_ceiling / 1e4, 0.99))  # fmt: skip
        up, down = self._vol_shock(when, bounds)
        atm = float(surface.implied_vol(surface.forward(30 / 365), 30 / 365))
        move = Z_995 * atm * math.sqrt(MARGIN_DAYS / 365)
        move = min(max(move, lim.price_move_floor / 1e4), lim.price_move_ceiling / 1e4)
        return Shocks.from_fractions(move, up, down)

    def _vol_shock(self, when: datetime, bounds: ShockBounds) -> tuple[float, float]:
        """The model's shocks from the history known on `when`'s day (through the day before), or
        the fixed fallback clipped into the bounds when that history has no DVOL for the day before."""
        day = math.floor(when.timestamp() / 86_400)
        known = self._inputs.until(day - 1)
        reason = "no DVOL for the day before"
        if known.dvol_day.size and int(known.dvol_day[-1]) == day - 1:
            try:
                shock = self.model.predict(known, bounds)
            except ModelError as exc:
                reason = str(exc)
            else:
                if shock.fallback is not None:
                    log.info("surface_shock_fallback", day=str(when.date()), reason=shock.fallback)
                return shock.vol_up, shock.vol_down
        log.info("surface_shock_fallback", day=str(when.date()), reason=reason)
        up, down, _ = clip(FIXED_UP, FIXED_DOWN, bounds)
        return up, down


@dataclass
class ChainReplay:
    """Recorded chains replayed one per `rounds_per_chain` rounds from `start_round` (see module doc)."""

    chains: Sequence[Path]
    start_round: int | None  # None: the first round asked about (a single operator); a network sets it
    rounds_per_chain: int
    sizer: ShockSizer
    stored_round: Callable[[], int]  # the chain's highest stored surface round over our underlyings
    period_s: float  # the network's round period (to place the replay's first slot)
    model_hash: bytes = field(default_factory=surface_model_hash)
    rebase: bool = True  # False: the rounds run in data time (the chain's clock is the snapshots')
    _fits: dict[int, tuple[ChainFit, bytes]] = field(default_factory=dict)
    _first_observed: datetime = field(init=False)

    def __post_init__(self) -> None:
        if not self.chains or self.rounds_per_chain < 1:
            raise ValueError("ChainReplay needs at least one chain and rounds_per_chain >= 1")
        observed = {p: read_chain(p).observed_at for p in self.chains}  # each file read once
        self.chains = sorted(self.chains, key=observed.__getitem__)
        self._first_observed = observed[self.chains[0]]

    def index_of(self, round_: int) -> int | None:
        if self.start_round is None:
            self.start_round = round_
        offset = round_ - self.start_round
        if offset < 0 or offset >= len(self.chains) * self.rounds_per_chain:
            return None
        return offset // self.rounds_per_chain

    async def __call__(self, round_: int, slot_time: int) -> SurfaceObservation:
        return await asyncio.to_thread(self.observe, round_, slot_time)

    def observe(self, round_: int, slot_time: int) -> SurfaceObservation:
        i = self.index_of(round_)
        if i is None:
            raise NothingDue(f"round {round_}: no recorded chain for it")
        assert self.start_round is not None  # set by index_of
        first = self.start_round + i * self.rounds_per_chain
        if self.stored_round() >= first:
            raise NothingDue(f"round {round_}: chain {i} already landed")
        fit, inputs_hash = self._fit(i)
        first_slot = datetime.fromtimestamp(slot_time - (round_ - self.start_round) * self.period_s, UTC)
        shift = first_slot - self._first_observed if self.rebase else timedelta(0)
        slot = datetime.fromtimestamp(slot_time, UTC)
        surfaces = tuple(s for u in fit.underlyings if (s := _shifted(u.surface, shift, slot)) is not None)
        if not surfaces:
            raise NothingDue(f"round {round_}: chain {i} has no expiry after the slot")
        shocks = {s.underlying: self.sizer.shocks(s, fit.observed_at) for s in surfaces}
        return SurfaceObservation(surfaces, shocks, self.model_hash, inputs_hash)

    def _fit(self, i: int) -> tuple[ChainFit, bytes]:
        if i not in self._fits:
            path = Path(self.chains[i])
            self._fits[i] = (fit_chain(read_chain(path)), hashlib.sha256(path.read_bytes()).digest())
        return self._fits[i]


def _shifted(surface: Surface, shift: timedelta, slot: datetime) -> Surface | None:
    """The surface with every expiry moved by `shift`, slices expired at `slot` dropped (None if none
    is left). Each slice keeps its fitted t: onchain.smile_word rescales a and b by (on-chain time to
    expiry / t), so implied vols are kept."""
    slices = []
    for s in surface.slices:
        expiry = s.expiry + shift
        if expiry > slot:
            slices.append(dataclasses.replace(s, expiry=expiry))
    return dataclasses.replace(surface, slices=tuple(slices)) if slices else None


@dataclass
class LiveChains:
    """Live Deribit chains, fetched and fitted every `every_rounds` rounds (other rounds: nothing due).

    Each currency's book summary and index come from its DeribitOptionsSource; a fetch or fit failure
    is the round's failure (a later attempt of the round tries again, the node logs it).
    """

    sources: Sequence[DeribitOptionsSource]
    every_rounds: int
    sizer: ShockSizer
    model_hash: bytes = field(default_factory=surface_model_hash)

    async def __call__(self, round_: int, slot_time: int) -> SurfaceObservation:
        if round_ % self.every_rounds:
            raise NothingDue(f"round {round_}: surfaces every {self.every_rounds} rounds")
        try:
            chains = await asyncio.gather(*(s.fetch_chain(slot_time) for s in self.sources))
        finally:  # one HTTP session per fetch: nothing is left open on the node's loop between rounds
            for source in self.sources:
                await source.close()
        return await asyncio.to_thread(self._fit, chains, slot_time)

    def _fit(self, chains: Sequence[LiveChain], slot_time: int) -> SurfaceObservation:
        fit = fit_chain(chain_from_live(chains, slot_time))
        surfaces = tuple(u.surface for u in fit.underlyings)
        when = datetime.fromtimestamp(slot_time, UTC)
        shocks = {s.underlying: self.sizer.shocks(s, when) for s in surfaces}
        return SurfaceObservation(surfaces, shocks, self.model_hash, live_inputs_hash(chains))
