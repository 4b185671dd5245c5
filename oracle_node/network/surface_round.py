"""Surface rounds: the leader proposes the surfaces it fitted, followers co-sign what matches theirs.

A per-field median of SVI parameters is not a smile anyone fitted, and the median of several
arbitrage-free parameter sets need not be arbitrage-free. So a surface round is proposal-and-check,
where a risk round is a median of signed observations:
1. every node builds its own SurfaceReport for the round's slot: fitted from its own option chain,
   shocks from its own model, observedAt = the slot time, the network's deadline, the chain's epoch;
2. the round's leader (the same rotation as risk rounds) signs its own report (at most one surface
   digest per round and signer, kept in the store under purpose "surface") and asks the others;
3. a follower checks the leader's turn and the header, then compares the proposal with its own
   report: the same underlyings and expiries, implied vol within `vol` at every k of K_GRID, forward
   and spot within a relative band, shocks within `shock_bp`; then it signs once;
4. the leader submits k signatures to the VolSurfaceOracle through the operator's TxSender.
A leader that already signed a surface report for the round (as follower or earlier leader)
re-proposes exactly that one, as for risk reports.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from oracle_node.chain.tx import TxJournal, TxOutcome
from oracle_node.errors import DataError, OracleNodeError, SubmissionError
from oracle_node.logs import get_logger
from oracle_node.network.chain_view import UnderlyingState
from oracle_node.network.client import PeerClient
from oracle_node.network.errors import CosignRefused, NothingDue, PeerMessageError
from oracle_node.network.leader import LeadOutcome
from oracle_node.network.schedule import RoundClock
from oracle_node.network.settings import NetworkSettings, PeerConfig
from oracle_node.network.signing import OperatorSigner, parse_hex, recover65, sign65
from oracle_node.network.verify import SignerView, check_turn, report_deadline
from oracle_node.options import onchain
from oracle_node.options.onchain import Shocks, SmileWord, SurfaceReport
from oracle_node.options.surface import Surface
from oracle_node.options.svi import total_variance
from oracle_node.reports.eip712 import Signature, compact_from_bytes
from oracle_node.store import EquivocationError, NodeStore, ReportStatus

log = get_logger(__name__)
SURFACE = "surface"  # the store's signature purpose for surface reports
K_GRID = tuple(x / 10 for x in range(-10, 11))  # log-moneyness points the follower compares
PATH = "/v1/surface/cosign"


@dataclass(frozen=True, slots=True)
class SurfaceObservation:
    """What a node's provider hands the round: its fitted surfaces and shocks for one slot."""

    surfaces: tuple[Surface, ...]
    shocks: Mapping[str, Shocks]
    model_hash: bytes
    inputs_hash: bytes


SurfaceProvider = Callable[[int, int], Awaitable[SurfaceObservation]]  # (round, slot time); NothingDue


@dataclass(frozen=True, slots=True)
class SurfaceTolerance:
    """How far a leader's surfaces may lie from a follower's own and still get its signature."""

    vol: float = 0.01  # absolute implied vol (1 vol point) at every k of K_GRID
    forward_rel: float = 0.005
    spot_rel: float = 0.005
    shock_bp: int = 500


class SurfaceChain(Protocol):
    def stored_round(self, underlyings: Sequence[bytes]) -> int: ...

    def underlying_states(self, report: SurfaceReport) -> tuple[dict[bytes, UnderlyingState], int]:
        """Each underlying's state for `report`, and the latest block's timestamp."""
        ...

    def submit(
        self, report: SurfaceReport, signatures: Sequence[Signature], journal: TxJournal | None
    ) -> TxOutcome: ...


# ------------------------------------------------------------------------------------------------
# Wire
# ------------------------------------------------------------------------------------------------


def report_to_json(r: SurfaceReport) -> dict[str, Any]:
    return {
        "epoch": r.epoch,
        "round": str(r.round),
        "observedAt": str(r.observed_at),
        "deadline": str(r.deadline),
        "modelHash": "0x" + r.model_hash.hex(),
        "inputsHash": "0x" + r.inputs_hash.hex(),
        "underlyings": ["0x" + u.hex() for u in r.underlyings],
        "underlyingWords": [str(w) for w in r.underlying_words],
        "smiles": [str(w) for w in r.smiles],
    }


def _uint(value: object, where: str, field: str, bits: int = 256) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise PeerMessageError(where, field, value, "must be a non-negative integer (or its decimal string)")
    out = int(value)
    if out >= 1 << bits:
        raise PeerMessageError(where, field, value, f"does not fit in {bits} bits")
    return out


def _list(obj: Mapping[str, Any], field: str, where: str) -> list[Any]:
    value = obj.get(field)
    if not isinstance(value, list) or len(value) > 64:
        raise PeerMessageError(where, field, value, "must be a list of at most 64 items")
    return value


def parse_report(obj: object, where: str = "surface report") -> SurfaceReport:
    if not isinstance(obj, dict):
        raise PeerMessageError(where, "(body)", obj, "must be a JSON object")
    try:
        return SurfaceReport(
            epoch=_uint(obj.get("epoch"), where, "epoch", 32),
            round=_uint(obj.get("round"), where, "round", 64),
            observed_at=_uint(obj.get("observedAt"), where, "observedAt", 64),
            deadline=_uint(obj.get("deadline"), where, "deadline", 64),
            model_hash=parse_hex(obj.get("modelHash"), where, "modelHash", 32),
            inputs_hash=parse_hex(obj.get("inputsHash"), where, "inputsHash", 32),
            underlyings=tuple(
                parse_hex(u, where, "underlyings", 32) for u in _list(obj, "underlyings", where)
            ),
            underlying_words=tuple(
                _uint(w, where, "underlyingWords") for w in _list(obj, "underlyingWords", where)
            ),
            smiles=tuple(_uint(w, where, "smiles") for w in _list(obj, "smiles", where)),
        )
    except DataError as exc:
        raise PeerMessageError(where, exc.field or "(report)", exc.value, exc.why) from None


@dataclass(frozen=True, slots=True)
class SurfaceCosignRequest:
    round: int
    attempt: int
    report: SurfaceReport

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round, "attempt": self.attempt, "report": report_to_json(self.report)}

    def record(self) -> dict[str, Any]:
        """What the store keeps: the report, tagged, without the attempt (re-proposed as is)."""
        return {"kind": SURFACE, "round": self.round, "report": report_to_json(self.report)}


def parse_cosign_request(obj: Mapping[str, Any]) -> SurfaceCosignRequest:
    where = "surface cosign"
    return SurfaceCosignRequest(
        _uint(obj.get("round"), where, "round", 64),
        _uint(obj.get("attempt"), where, "attempt", 8),
        parse_report(obj.get("report"), f"{where}.report"),
    )


# ------------------------------------------------------------------------------------------------
# The follower's comparison
# ------------------------------------------------------------------------------------------------


def _vol(word: SmileWord, k: float) -> float:
    t = word.tau / onchain.om.YEAR
    w = float(
        total_variance(word.a * 1e-9, word.b * 1e-9, word.rho * 1e-9, word.m * 1e-9, word.sigma * 1e-9, k)
    )
    return math.sqrt(max(w, 0.0) / t)


def differences(proposed: SurfaceReport, own: SurfaceReport, tol: SurfaceTolerance) -> list[str]:
    """Why a follower whose own report is `own` must not sign `proposed` (empty: it may)."""
    out = [
        f"{name} {getattr(proposed, name)} != own {getattr(own, name)}"
        for name in ("epoch", "round", "observed_at", "deadline", "model_hash")
        if getattr(proposed, name) != getattr(own, name)
    ]
    if out:
        return out
    theirs, mine = proposed.surfaces(), own.surfaces()
    if set(theirs) != set(mine):
        return [f"underlyings {sorted(theirs)} != own {sorted(mine)}"]
    spots = {onchain.underlying_symbol(u): onchain.unpack_underlying_word(w) for u, w in
             zip(proposed.underlyings, proposed.underlying_words, strict=True)}  # fmt: skip
    own_spots = {onchain.underlying_symbol(u): onchain.unpack_underlying_word(w) for u, w in
                 zip(own.underlyings, own.underlying_words, strict=True)}  # fmt: skip
    for und in sorted(theirs):
        out += _underlying_differences(und, spots[und], own_spots[und], theirs[und], mine[und], tol)
    return out


def _underlying_differences(
    und: str,
    head: tuple[int, Shocks, int],
    own_head: tuple[int, Shocks, int],
    smiles: list[SmileWord],
    own_smiles: list[SmileWord],
    tol: SurfaceTolerance,
) -> list[str]:
    out = []
    if abs(head[0] / own_head[0] - 1) > tol.spot_rel:
        out.append(f"{und}: spot {head[0] / 1e8:.2f} vs own {own_head[0] / 1e8:.2f}")
    for name in onchain.SHOCK_FIELDS:
        a, b = getattr(head[1], name), getattr(own_head[1], name)
        if abs(a - b) > tol.shock_bp:
            out.append(f"{und}: {name} {a} bp vs own {b} bp (band {tol.shock_bp})")
    taus, own_taus = [s.tau for s in smiles], [s.tau for s in own_smiles]
    if taus != own_taus:
        return [*out, f"{und}: expiries (tau) {taus} != own {own_taus}"]
    for s, o in zip(smiles, own_smiles, strict=True):
        if abs(s.forward / o.forward - 1) > tol.forward_rel:
            out.append(f"{und} tau {s.tau}: forward {s.forward / 1e8:.2f} vs own {o.forward / 1e8:.2f}")
        worst = max(K_GRID, key=lambda k: abs(_vol(s, k) - _vol(o, k)))
        gap = abs(_vol(s, worst) - _vol(o, worst))
        if gap > tol.vol:
            out.append(f"{und} tau {s.tau}: vol at k={worst:+.1f} differs by {gap * 100:.2f} vol pts")
    return out


# ------------------------------------------------------------------------------------------------
# What the chain would refuse: leave that underlying out rather than lose the whole report
# ------------------------------------------------------------------------------------------------

_LISTED, _PAUSED, _ORACLE_PAUSED = 1 << 234, 1 << 235, 1 << 236


def _field(word: int, shift: int, bits: int) -> int:
    return (word >> shift) & ((1 << bits) - 1)


BP = 10_000


def _within(new: int, old: int, change_bp: int) -> bool:
    """The contract's change rule: new 1e4 <= old (1e4 + c) and, when c < 1e4, new 1e4 >= old (1e4 - c)."""
    return new * BP <= old * (BP + change_bp) and (change_bp >= BP or new * BP >= old * (BP - change_bp))


def refusal(report: SurfaceReport, index: int, held: UnderlyingState, block_time: int) -> str | None:
    """Why the VolSurfaceOracle would revert on underlying `index` of `report` (None: it would not).

    Mirrors the contract's per-underlying checks that depend on what it stores: listed, paused,
    minimum interval (observedAt and block time), spot move, shock floors and ceilings, and each
    smile's ATM vol floor, ceiling and change against the stored smile."""
    s, lim = held.state, held.limits
    if not s & _LISTED:
        return "not listed on the surface oracle"
    if s & (_PAUSED | _ORACLE_PAUSED):
        return "paused"
    spot, shocks, _ = onchain.unpack_underlying_word(report.underlying_words[index])
    for name, value in zip(
        onchain.SHOCK_FIELDS, (shocks.price_move, shocks.vol_up, shocks.vol_down), strict=True
    ):
        lo, hi = lim[f"{name}_floor"], lim[f"{name}_ceiling"]
        if not lo <= value <= hi:
            return f"{name} {value} bp outside [{lo}, {hi}]"
    if _field(s, 144, 64):  # published before: interval and spot move
        observed, lag = _field(s, 112, 32), _field(s, 208, 21)
        if (
            report.observed_at < observed + lim["min_interval"]
            or block_time + 1 < observed + lag + lim["min_interval"]
        ):
            return f"less than min_interval {lim['min_interval']} s since the last update"
        if not _within(spot, _field(s, 0, 64), lim["spot_max_change"]):
            return f"spot {spot / 1e8:,.2f} moves more than {lim['spot_max_change']} bp from {_field(s, 0, 64) / 1e8:,.2f}"
    for word in _smiles_of(report, index):
        smile = SmileWord.unpack(word)
        atm, expiry = word >> onchain.ATM_SHIFT & 0xFFFF, report.observed_at + smile.tau
        if not lim["atm_vol_floor"] <= atm <= lim["atm_vol_ceiling"]:
            return f"expiry {expiry}: ATM vol {atm} bp outside [{lim['atm_vol_floor']}, {lim['atm_vol_ceiling']}]"
        old = held.smiles.get(expiry, 0)
        if old and not _within(atm, old >> onchain.ATM_SHIFT & 0xFFFF, lim["atm_vol_max_change"]):
            return f"expiry {expiry}: ATM vol {atm} bp moves more than {lim['atm_vol_max_change']} bp of the stored"
    return None


def _smiles_of(report: SurfaceReport, index: int) -> list[int]:
    start = sum(onchain.unpack_underlying_word(w)[2] for w in report.underlying_words[:index])
    return list(
        report.smiles[start : start + onchain.unpack_underlying_word(report.underlying_words[index])[2]]
    )


def clip_shocks(report: SurfaceReport, limits: Mapping[bytes, Mapping[str, int]]) -> SurfaceReport:
    """The report with every underlying's shocks inside the DAO's floors and ceilings as the chain
    holds them now (the model's shock is the node's; the DAO bounds it)."""
    words = []
    for u, word in zip(report.underlyings, report.underlying_words, strict=True):
        spot, shocks, n = onchain.unpack_underlying_word(word)
        lim = limits[u]
        clipped = Shocks(*(min(max(getattr(shocks, f), lim[f"{f}_floor"]), lim[f"{f}_ceiling"])
                           for f in onchain.SHOCK_FIELDS))  # fmt: skip
        if clipped != shocks:
            log.info("surface_shock_clipped", underlying=onchain.underlying_symbol(u),
                     model=str(shocks), published=str(clipped))  # fmt: skip
        words.append(onchain.pack_underlying_word(spot, clipped, n))
    return dataclasses.replace(report, underlying_words=tuple(words))


def without(report: SurfaceReport, drop: set[int]) -> SurfaceReport | None:
    """The report without the underlyings at `drop` (None when nothing is left)."""
    keep = [i for i in range(len(report.underlyings)) if i not in drop]
    if not keep:
        return None
    return dataclasses.replace(
        report,
        underlyings=tuple(report.underlyings[i] for i in keep),
        underlying_words=tuple(report.underlying_words[i] for i in keep),
        smiles=tuple(w for i in keep for w in _smiles_of(report, i)),
    )


# ------------------------------------------------------------------------------------------------
# One node's part in surface rounds
# ------------------------------------------------------------------------------------------------


class SurfaceRounds:
    """Builds this node's surface report per round, leads its attempts, and co-signs peers' proposals.

    `domain_oracle` is the VolSurfaceOracle's address (its EIP-712 domain); `chain_id` the chain's.
    """

    def __init__(
        self,
        *,
        settings: NetworkSettings,
        clock: RoundClock,
        provider: SurfaceProvider,
        chain: SurfaceChain,
        store: NodeStore,
        signer: OperatorSigner,
        chain_id: int,
        domain_oracle: str,
        tolerance: SurfaceTolerance | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.clock, self.provider, self.chain = settings, clock, provider, chain
        self.store, self.signer, self.chain_id, self.oracle = store, signer, chain_id, domain_oracle
        self.tolerance, self.now = tolerance or SurfaceTolerance(), now
        self._own: dict[int, asyncio.Task[SurfaceObservation | None]] = {}

    def digest(self, report: SurfaceReport) -> bytes:
        return onchain.report_digest(report, self.chain_id, self.oracle)

    # -- own report -------------------------------------------------------------------------------

    def prepare(self, round_: int) -> asyncio.Task[SurfaceObservation | None]:
        """Start (once) fitting this node's surfaces for the round; a failed fit is tried again."""
        task = self._own.get(round_)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.create_task(self._observe(round_), name=f"surface-{round_}")
            self._own[round_] = task
            for old in [r for r in self._own if r < round_ - 64]:
                self._own.pop(old).cancel()
        return task

    async def own_report(self, round_: int, view: SignerView) -> SurfaceReport | None:
        """This node's report for the round (None: nothing due); the provider runs once per round."""
        task = self.prepare(round_)
        obs = await asyncio.wait_for(asyncio.shield(task), self.settings.observe_timeout_s)
        if obs is None:
            return None
        report = onchain.build_report(
            obs.surfaces, obs.shocks, epoch=view.epoch, round=round_,
            observed_at=math.floor(self.clock.slot_time(round_)),
            deadline=report_deadline(self.clock, round_, self.settings.deadline_s),
            model_hash=obs.model_hash, inputs_hash=obs.inputs_hash,
        )  # fmt: skip
        return await self._publishable(report)

    async def _publishable(self, report: SurfaceReport) -> SurfaceReport | None:
        """The report without the underlyings the chain would refuse now (logged; None if none is left).

        One underlying out of bounds (a spot or ATM move beyond the DAO's per-update limit, a pause)
        would otherwise revert the whole report and leave every underlying stale."""
        states, block_time = await asyncio.to_thread(self.chain.underlying_states, report)
        report = clip_shocks(report, {u: states[u].limits for u in report.underlyings})
        drop = set()
        for i, u in enumerate(report.underlyings):
            if (why := refusal(report, i, states[u], block_time)) is not None:
                drop.add(i)
                log.warning("surface_underlying_left_out", round=report.round,
                            underlying=onchain.underlying_symbol(u), reason=why)  # fmt: skip
        return without(report, drop) if drop else report

    async def _observe(self, round_: int) -> SurfaceObservation | None:
        try:
            return await self.provider(round_, math.floor(self.clock.slot_time(round_)))
        except NothingDue:
            return None

    async def landed(self, round_: int, report: SurfaceReport) -> bool:
        return await asyncio.to_thread(self.chain.stored_round, report.underlyings) >= round_

    # -- leading ----------------------------------------------------------------------------------

    async def lead(
        self, round_: int, attempt: int, view: SignerView, client: PeerClient, peers: Sequence[PeerConfig]
    ) -> LeadOutcome:
        try:
            report = self._stored(round_) or await self.own_report(round_, view)
        except (OracleNodeError, TimeoutError) as exc:
            log.warning("surface_not_built", round=round_, error=str(exc) or type(exc).__name__)
            return LeadOutcome(round_, attempt, "no_observations", str(exc), kind=SURFACE)
        if report is None:
            return LeadOutcome(round_, attempt, "nothing_due", kind=SURFACE)
        if await self.landed(round_, report):
            return LeadOutcome(round_, attempt, "landed_elsewhere", kind=SURFACE)
        request = SurfaceCosignRequest(round_, attempt, report)
        digest = self.digest(report)
        index = view.index_of(self.signer.address)
        if index is None:
            return LeadOutcome(round_, attempt, "failed", "not in the signer set", kind=SURFACE)
        try:
            self.store.save_report(round_, digest, request.record())
            own = self.store.sign_once(
                round_, digest, self.signer.address, lambda d: sign65(self.signer, d), SURFACE
            )
        except EquivocationError as exc:
            return LeadOutcome(round_, attempt, "failed", f"own key signed {exc.existing}", kind=SURFACE)
        signatures = {index: compact_from_bytes(index, own)}
        signatures.update(await self._collect(request, digest, view, client, peers))
        if len(signatures) < view.threshold:
            log.warning("surface_no_quorum", round=round_, attempt=attempt, signatures=len(signatures))
            detail = f"{len(signatures)} signatures of {view.threshold}"
            return LeadOutcome(round_, attempt, "no_quorum", detail, kind=SURFACE)
        chosen = [signatures[i] for i in sorted(signatures)][: view.threshold]
        return await self._submit(report, digest, chosen, attempt)

    def _stored(self, round_: int) -> SurfaceReport | None:
        record = self.store.signature(round_, self.signer.address, SURFACE)
        stored = self.store.report(record.digest) if record is not None else None
        if stored is None:
            return None
        log.info("surface_reproposes_signed_report", round=round_, digest=stored.digest)
        return parse_report(stored.body["report"], "stored surface report")

    async def _collect(
        self,
        request: SurfaceCosignRequest,
        digest: bytes,
        view: SignerView,
        client: PeerClient,
        peers: Sequence[PeerConfig],
    ) -> dict[int, Signature]:
        wanted = [p for p in peers if view.index_of(p.address) is not None]
        tasks = {asyncio.create_task(self._cosign(p, request, digest, view, client)) for p in wanted}
        got: dict[int, Signature] = {}
        try:
            async with asyncio.timeout(self.settings.request_timeout_s + 0.5):
                for next_done in asyncio.as_completed(tasks):
                    if (sig := await next_done) is not None:
                        got[sig.signer] = sig
                    if len(got) + 1 >= view.threshold:
                        break
        except TimeoutError:
            log.warning("surface_collect_timeout", round=request.round, signatures=len(got) + 1)
        finally:
            for task in tasks:
                task.cancel()
        return got

    async def _cosign(
        self,
        peer: PeerConfig,
        request: SurfaceCosignRequest,
        digest: bytes,
        view: SignerView,
        client: PeerClient,
    ) -> Signature | None:
        try:
            status, body = await client.call(peer, "POST", PATH, request.to_json())
            if status != 200:
                raise CosignRefused(str(body.get("error", status)), str(body.get("detail", "")), status)
            got = parse_hex(body.get("digest"), peer.address, "digest", 32)
            raw = parse_hex(body.get("signature"), peer.address, "signature", 65)
            if got != digest:
                raise CosignRefused("digest", f"peer signed 0x{got.hex()}, proposed 0x{digest.hex()}")
            if recover65(digest, raw, f"{peer.address} surface cosign") != peer.address:
                raise CosignRefused("signature", "does not recover to the peer")
        except OracleNodeError as exc:
            log.warning("surface_cosign_not_obtained", peer=peer.address, round=request.round, error=str(exc))
            return None
        index = view.index_of(peer.address)
        assert index is not None
        self.store.record_signature(request.round, digest, peer.address, raw, SURFACE)
        return compact_from_bytes(index, raw)

    async def _submit(
        self, report: SurfaceReport, digest: bytes, signatures: list[Signature], attempt: int
    ) -> LeadOutcome:
        self.store.set_report_status(digest, ReportStatus.SUBMITTED)
        journal = self.store.journal(report.round, digest)
        try:
            outcome = await asyncio.to_thread(self.chain.submit, report, signatures, journal)
        except SubmissionError as exc:
            landed = await self.landed(report.round, report)
            status = "landed_elsewhere" if landed else "failed"
            self.store.set_report_status(digest, ReportStatus.FAILED, str(exc))
            log.warning(
                "surface_not_submitted", round=report.round, attempt=attempt, status=status, error=str(exc)
            )
            return LeadOutcome(report.round, attempt, status, str(exc), kind=SURFACE)
        self.store.set_report_status(digest, ReportStatus.INCLUDED)
        log.info("surface_included", round=report.round, attempt=attempt, tx_hash=outcome.tx_hash,
                 underlyings=len(report.underlyings), smiles=len(report.smiles))  # fmt: skip
        return LeadOutcome(
            report.round, attempt, "included", tx_hash=outcome.tx_hash, block=outcome.block_number,
            gas_used=outcome.gas_used, kind=SURFACE,
        )  # fmt: skip

    # -- following --------------------------------------------------------------------------------

    async def cosign(
        self, request: SurfaceCosignRequest, sender: str, view: SignerView
    ) -> tuple[bytes, bytes]:
        """Check a leader's proposal against this node's own report; sign it once, or CosignRefused."""
        report = request.report
        check_turn(
            request.round, report.round, request.attempt, sender, view, self.now(), self.clock, self.settings
        )
        if report.epoch != view.epoch:
            raise CosignRefused("wrong_epoch", f"report epoch {report.epoch}, chain epoch {view.epoch}")
        digest = self.digest(report)
        existing = self.store.signature(request.round, self.signer.address, SURFACE)
        if existing is not None and existing.digest != "0x" + digest.hex():
            raise EquivocationError(
                SURFACE, request.round, self.signer.address, existing.digest, "0x" + digest.hex()
            )
        if existing is not None and existing.signature is not None:
            return digest, existing.signature
        try:
            own = await self.own_report(request.round, view)
        except (OracleNodeError, TimeoutError) as exc:
            raise CosignRefused("no_own_surface", str(exc) or type(exc).__name__, status=503) from None
        if own is None:
            raise CosignRefused("nothing_due", f"no own surface for round {request.round}", status=503)
        if bad := differences(report, own, self.tolerance):
            raise CosignRefused("out_of_tolerance", "; ".join(bad)[:400])
        self.store.save_report(request.round, digest, request.record())
        signature = self.store.sign_once(
            request.round, digest, self.signer.address, lambda d: sign65(self.signer, d), SURFACE
        )
        log.info("surface_cosigned", round=request.round, attempt=request.attempt, leader=sender)
        return digest, signature
