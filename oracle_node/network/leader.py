"""One attempt of leading a round: gather observations, propose the median, collect k signatures, submit.

A leader whose key already co-signed a report for the round (as a follower of an earlier attempt, or
as an earlier leader) re-proposes exactly that report: followers that signed it hand back the same
bytes, and nobody is asked to sign a second digest for the round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from oracle_node.errors import OracleNodeError, SubmissionError
from oracle_node.logs import get_logger
from oracle_node.network.chain_view import OracleChain
from oracle_node.network.client import PeerClient
from oracle_node.network.errors import AggregationError, NetworkError, ObservationUnavailable, PeerRefused
from oracle_node.network.median import aggregate
from oracle_node.network.observation import Domain, SignedObservation
from oracle_node.network.observer import ObservationBook
from oracle_node.network.settings import NetworkSettings, PeerConfig
from oracle_node.network.signing import OperatorSigner, recover65, sign65
from oracle_node.network.verify import SignerView, observation_on_time, report_deadline
from oracle_node.network.wire import CosignRequest, parse_cosign_request
from oracle_node.reports.eip712 import RiskReport, Signature, compact_from_bytes, report_digest
from oracle_node.store import EquivocationError, NodeStore, ReportStatus

log = get_logger(__name__)
RETRY_S = 0.1


@dataclass(frozen=True, slots=True)
class LeadOutcome:
    round: int
    attempt: int
    status: str  # included | landed_elsewhere | nothing_due | no_observations | no_quorum | failed
    detail: str = ""
    tx_hash: str | None = None
    block: int | None = None
    gas_used: int | None = None
    kind: str = "risk"  # risk | surface (network.surface_round)


@dataclass
class Leader:
    settings: NetworkSettings
    book: ObservationBook
    client: PeerClient
    chain: OracleChain
    store: NodeStore
    signer: OperatorSigner
    domain: Domain
    peers: Sequence[PeerConfig]

    async def lead(self, round_: int, attempt: int, view: SignerView) -> LeadOutcome:
        proposal = self._stored_proposal(round_, attempt) or await self._fresh_proposal(round_, attempt, view)
        if isinstance(proposal, LeadOutcome):
            return proposal
        digest = report_digest(proposal.report, self.domain.chain_id, self.domain.oracle)
        try:
            own = self._sign(proposal, digest, view)
        except EquivocationError as exc:
            return LeadOutcome(round_, attempt, "failed", f"own key signed {exc.existing} for this round")
        signatures = await self._collect(proposal, digest, view, own)
        if len(signatures) < view.threshold:
            detail = f"{len(signatures)} signatures of {view.threshold}"
            log.warning("lead_no_quorum", round=round_, attempt=attempt, signatures=len(signatures))
            return LeadOutcome(round_, attempt, "no_quorum", detail)
        return await self._submit(proposal.report, digest, signatures[: view.threshold], attempt)

    def _stored_proposal(self, round_: int, attempt: int) -> CosignRequest | None:
        record = self.store.signature(round_, self.signer.address)
        report = self.store.report(record.digest) if record is not None else None
        if report is None:
            return None
        stored = parse_cosign_request({**report.body, "attempt": attempt}, self.domain)
        log.info("lead_reproposes_signed_report", round=round_, attempt=attempt, digest=report.digest)
        return CosignRequest(round_, attempt, stored.report, stored.observations)

    async def _fresh_proposal(
        self, round_: int, attempt: int, view: SignerView
    ) -> CosignRequest | LeadOutcome:
        try:
            own = await self.book.get(round_, self.settings.observe_timeout_s)
        except ObservationUnavailable as exc:
            status = "nothing_due" if exc.nothing_due else "no_observations"
            return LeadOutcome(round_, attempt, status, str(exc))
        except NetworkError as exc:
            return LeadOutcome(round_, attempt, "no_observations", str(exc))
        fetched = await self._gather(round_, view)
        included = [own, *(o for o in fetched if self._usable(o, own, view))]
        deadline = report_deadline(self.book.clock, round_, self.settings.deadline_s)
        try:
            report = aggregate(
                included, round_=round_, threshold=view.threshold, epoch=view.epoch, deadline=deadline,
                exclude=view.unusable,
            )  # fmt: skip
        except AggregationError as exc:
            log.warning("lead_cannot_aggregate", round=round_, reason=exc.reason, detail=exc.detail)
            return LeadOutcome(round_, attempt, "no_quorum", str(exc))
        return CosignRequest(round_, attempt, report, tuple(sorted(included, key=lambda o: o.signer.lower())))

    def _usable(self, obs: SignedObservation, own: SignedObservation, view: SignerView) -> bool:
        why = None
        if view.index_of(obs.signer) is None:
            why = "signer not in the on-chain set"
        elif obs.model_hash != own.model_hash:
            why = f"model hash 0x{obs.model_hash.hex()} differs from ours"
        elif not observation_on_time(obs, self.book.clock, self.settings.max_skew_s):
            why = f"observedAt {obs.observed_at} off the slot"
        if why:
            log.warning("observation_excluded", round=obs.round, signer=obs.signer, reason=why)
        return why is None

    async def _gather(self, round_: int, view: SignerView) -> list[SignedObservation]:
        peers = [p for p in self.peers if view.index_of(p.address) is not None]
        tasks = [asyncio.create_task(self._fetch(p, round_)) for p in peers]
        if not tasks:
            return []
        done, pending = await asyncio.wait(tasks, timeout=self.settings.collect_timeout_s)
        for task in pending:
            task.cancel()
        return [r for t in done if (r := t.result()) is not None]

    async def _fetch(self, peer: PeerConfig, round_: int) -> SignedObservation | None:
        while True:
            try:
                return await self.client.fetch_observation(peer, round_)
            except PeerRefused as exc:
                if exc.status != 404:
                    log.warning(
                        "observation_fetch_refused", peer=peer.address, round=round_, status=exc.status
                    )
                    return None
            except OracleNodeError as exc:
                log.warning("observation_fetch_failed", peer=peer.address, round=round_, error=str(exc))
                return None
            await asyncio.sleep(RETRY_S)

    def _sign(self, proposal: CosignRequest, digest: bytes, view: SignerView) -> Signature:
        """Persist the proposal and our signature (store first, then sign) and return it compact."""
        index = view.index_of(self.signer.address)
        if index is None:
            raise NetworkError(f"{self.signer.address} is not in the signer set of epoch {view.epoch}")
        self.store.save_report(proposal.round, digest, proposal.record())
        raw = self.store.sign_once(
            proposal.round, digest, self.signer.address, lambda d: sign65(self.signer, d)
        )
        return compact_from_bytes(index, raw)

    async def _collect(
        self, proposal: CosignRequest, digest: bytes, view: SignerView, own: Signature
    ) -> list[Signature]:
        signatures = {own.signer: own}
        peers = [p for p in self.peers if view.index_of(p.address) is not None]
        tasks = {asyncio.create_task(self._cosign(p, proposal, digest, view)) for p in peers}
        try:
            async with asyncio.timeout(self.settings.request_timeout_s + 0.5):
                for next_done in asyncio.as_completed(tasks):
                    sig = await next_done
                    if sig is not None:
                        signatures[sig.signer] = sig
                    if len(signatures) >= view.threshold:
                        break
        except TimeoutError:
            log.warning("cosign_collect_timeout", round=proposal.round, signatures=len(signatures))
        finally:
            for task in tasks:
                task.cancel()
        return [signatures[i] for i in sorted(signatures)]

    async def _cosign(
        self, peer: PeerConfig, proposal: CosignRequest, digest: bytes, view: SignerView
    ) -> Signature | None:
        try:
            got_digest, raw = await self.client.request_cosign(peer, proposal)
            if got_digest != digest:
                raise NetworkError(f"peer signed digest 0x{got_digest.hex()}, proposed 0x{digest.hex()}")
            recovered = recover65(digest, raw, f"{peer.address} cosign")
            if recovered != peer.address:
                raise NetworkError(f"signature recovers to {recovered}")
            index = view.index_of(peer.address)
            assert index is not None
            signature = compact_from_bytes(index, raw)
        except OracleNodeError as exc:
            log.warning("cosign_not_obtained", peer=peer.address, round=proposal.round, error=str(exc))
            return None
        self.store.record_signature(proposal.round, digest, peer.address, raw)
        return signature

    async def _submit(
        self, report: RiskReport, digest: bytes, signatures: list[Signature], attempt: int
    ) -> LeadOutcome:
        self.store.set_report_status(digest, ReportStatus.SUBMITTED)
        journal = self.store.journal(report.round, digest)
        try:
            outcome = await asyncio.to_thread(self.chain.submit, report, signatures, journal)
        except SubmissionError as exc:
            landed = await asyncio.to_thread(self.chain.stored_round, report.markets)
            status = "landed_elsewhere" if landed >= report.round else "failed"
            self.store.set_report_status(digest, ReportStatus.FAILED, str(exc))
            log.warning(
                "report_not_submitted", round=report.round, attempt=attempt, status=status, error=str(exc)
            )
            return LeadOutcome(report.round, attempt, status, str(exc))
        self.store.set_report_status(digest, ReportStatus.INCLUDED)
        self.store.observe_chain_round(report.round)
        log.info(
            "report_included",
            round=report.round,
            attempt=attempt,
            tx_hash=outcome.tx_hash,
            block=outcome.block_number,
        )
        return LeadOutcome(
            report.round, attempt, "included", tx_hash=outcome.tx_hash, block=outcome.block_number,
            gas_used=outcome.gas_used,
        )  # fmt: skip
