"""Turn a round's publishable outcomes into a signed report on-chain, exactly once.

Order of durable steps (each recorded in the store before the next, so a crash at any point resumes
without publishing a round twice or losing a signed one):
  1. bound-check every market against the on-chain profile (refuse what the chain would reject);
  2. pick the round: above every on-chain round of the markets and above anything this node signed;
  3. save the report body, then sign its EIP-712 digest through `store.sign_once` (the signature is
     persisted before it leaves the process; a second, different digest for the round is refused);
  4. submit through the transaction pipeline with the store's journal (raw signed tx recorded as
     pending before broadcast); on restart `recover()` re-broadcasts pending transactions and submits
     signed-but-unsent reports that are still before their deadline.
This path is the single-operator one (threshold 1). With k > 1 the network layer collects the
co-signatures and calls `submit_signed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.tx import TxSender
from oracle_node.errors import BoundsViolation, ConfigError, SubmissionError
from oracle_node.logs import get_logger
from oracle_node.reports.eip712 import RiskReport, Signature, compact_from_bytes, report_digest, to_abi
from oracle_node.reports.inputs import MarketInputs, inputs_hash
from oracle_node.reports.keystore import DryRunSigner, KeystoreSigner
from oracle_node.risk import OnchainBounds
from oracle_node.risk.project import project
from oracle_node.service.pipeline import MarketOutcome
from oracle_node.store import NodeStore, ReportStatus, SubmissionRecord
from oracle_node.types import RiskParamsBps

log = get_logger(__name__)


@dataclass(frozen=True)
class PublishResult:
    round: int | None
    markets: tuple[str, ...]
    status: str  # "included", "dry_run", "nothing", "refused", "failed"
    gas_used: int | None = None
    tx_hash: str | None = None
    note: str = ""
    params: dict[str, RiskParamsBps] | None = None  # what was signed per market (after the DAO bounds)


class ReportPublisher:
    def __init__(
        self,
        *,
        store: NodeStore,
        signer: KeystoreSigner | DryRunSigner,
        oracle: RiskOracle,
        sender: TxSender,
        chain_id: int,
        model_hash: bytes,
        report_ttl_s: int,
    ) -> None:
        self.store, self.signer, self.oracle, self.sender = store, signer, oracle, sender
        self.chain_id, self.model_hash, self.ttl = chain_id, model_hash, report_ttl_s
        self._bounds: dict[str, OnchainBounds] = {}

    def publish(self, outcomes: Sequence[MarketOutcome], now: int) -> PublishResult:
        # The contract refuses observedAt > block.timestamp, and simulation runs on the latest block:
        # date the report no later than that block so it is valid in the next one (costs <= 1 block).
        now = min(now, int(self.oracle.w3.eth.get_block("latest")["timestamp"]))
        chosen = self._fit_bounds([o for o in outcomes if o.would_publish], now)
        if not chosen:
            return PublishResult(None, (), "nothing")
        signers = self.oracle.get_signers()
        report = self._build(chosen, now, signers.epoch)
        digest = report_digest(report, self.chain_id, self.oracle.address)
        self.store.save_report(report.round, digest, _body(report))
        if self.signer.dry_run:
            return self._dry_run(report, digest)
        index = _signer_index(signers.signers, self.signer.address)
        raw = self.store.sign_once(report.round, digest, self.signer.address, self._sign)
        return self.submit_signed(report, digest, [compact_from_bytes(index, raw)])

    def submit_signed(self, report: RiskReport, digest: bytes, sigs: Sequence[Signature]) -> PublishResult:
        call = self.oracle.encode("submitReport", to_abi(report), [s.to_abi() for s in sigs])
        markets = tuple(report.markets)
        self.store.set_report_status(digest, ReportStatus.SUBMITTED)
        try:
            out = self.sender.send(
                call, errors_abi=self.oracle.artifact.abi, journal=self.store.journal(report.round, digest)
            )
        except SubmissionError as exc:
            self.store.set_report_status(digest, ReportStatus.FAILED, error=str(exc))
            log.warning("report_failed", round=report.round, markets=list(markets), error=str(exc))
            return PublishResult(report.round, markets, "failed", note=str(exc))
        self.store.set_report_status(digest, ReportStatus.INCLUDED)
        self.store.observe_chain_round(report.round)
        log.info(
            "report_included",
            round=report.round,
            markets=list(markets),
            gas_used=out.gas_used,
            tx=out.tx_hash,
        )
        return PublishResult(
            report.round, markets, "included", out.gas_used, out.tx_hash, params=report.risk_params()
        )

    def recover(self, now: int) -> list[PublishResult]:
        """After a restart: finish what a crash interrupted, never re-sign, never publish a round twice."""
        if self.signer.dry_run:
            return []
        results = [self._resume(sub) for sub in self.store.pending_submissions()]
        for rec in self.store.reports_with_status(ReportStatus.SIGNED):
            report = _from_body(rec.body)
            if report.deadline <= now:
                self.store.set_report_status(
                    rec.digest, ReportStatus.FAILED, error="deadline passed before submission"
                )
                log.warning("report_expired_unsent", round=report.round, digest=rec.digest)
                continue
            signers = self.oracle.get_signers().signers
            sigs = [
                compact_from_bytes(_signer_index(signers, s.signer), s.signature)
                for s in self.store.signatures(report.round, rec.digest)
                if s.signature is not None
            ]
            results.append(self.submit_signed(report, bytes.fromhex(rec.digest[2:]), sigs))
        return results

    def _resume(self, sub: SubmissionRecord) -> PublishResult:
        markets = tuple((r.body.get("markets") or []) if (r := self.store.report(sub.digest)) else [])
        try:
            out = self.sender.resume(
                sub.tx_hash, sub.raw_tx, journal=self.store.journal(sub.round, sub.digest)
            )
        except SubmissionError as exc:
            self.store.set_report_status(sub.digest, ReportStatus.FAILED, error=str(exc))
            return PublishResult(sub.round, markets, "failed", note=str(exc))
        self.store.set_report_status(sub.digest, ReportStatus.INCLUDED)
        self.store.observe_chain_round(sub.round)
        log.info("report_recovered", round=sub.round, tx=out.tx_hash)
        return PublishResult(sub.round, markets, "included", out.gas_used, out.tx_hash)

    def _sign(self, digest: bytes) -> bytes:
        v, r, s = self.signer.sign_digest(digest)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])

    def _dry_run(self, report: RiskReport, digest: bytes) -> PublishResult:
        log.info(
            "report_dry_run", round=report.round, markets=list(report.markets), digest="0x" + digest.hex()
        )
        return PublishResult(report.round, tuple(report.markets), "dry_run", note="no keystore: not signed")

    def _build(
        self, chosen: dict[str, tuple[MarketOutcome, RiskParamsBps]], now: int, epoch: int
    ) -> RiskReport:
        onchain = max(self.oracle.get_market_word(m) >> 160 & (2**64 - 1) for m in chosen)
        round_ = self.store.next_round(at_least=onchain + 1)
        inputs = [
            MarketInputs(
                o.market,
                o.guard.require_price(),
                tuple(_accepted_quotes(o)),
            )
            for o, _ in chosen.values()
        ]
        updates = {m: params for m, (_, params) in chosen.items()}
        return RiskReport.build(
            epoch=epoch,
            round=round_,
            observed_at=now,
            deadline=now + self.ttl,
            model_hash=self.model_hash,
            inputs_hash=inputs_hash(inputs),
            updates=updates,
        )

    def _fit_bounds(
        self, outcomes: Sequence[MarketOutcome], now: int
    ) -> dict[str, tuple[MarketOutcome, RiskParamsBps]]:
        """Per market, the params to sign: the wanted set moved as far as the DAO's bounds allow."""
        keep: dict[str, tuple[MarketOutcome, RiskParamsBps]] = {}
        for o in outcomes:
            assert o.risk is not None
            state = self.oracle.get_market_state(o.market)
            previous = state.params
            bounds = self._bounds_of(o.market)
            if state.paused:
                log.warning("market_paused", market=o.market, oracle_paused=state.oracle_paused)
                continue
            earliest_observed, earliest_block = state.earliest_update(bounds.min_interval)
            if now < max(earliest_observed, earliest_block):
                log.info("update_too_soon", market=o.market, earliest=max(earliest_observed, earliest_block))
                continue
            try:
                fitted = project(o.market, o.risk.params, previous, bounds)
            except BoundsViolation as exc:
                log.warning(
                    "bounds_refused", market=o.market, field=exc.field, value=str(exc.value), why=exc.why
                )
                continue
            if fitted.bounded:
                log.warning("bounded_by_dao", market=o.market, held_back=list(fitted.held_back))
            keep[o.market] = (o, fitted.params)
        return keep

    def _bounds_of(self, market: str) -> OnchainBounds:
        if market not in self._bounds:
            self._bounds[market] = self.oracle.get_market_bounds(market)
        return self._bounds[market]


def _accepted_quotes(o: MarketOutcome) -> list[tuple[str, float, float]]:
    quotes = []
    for name in sorted(o.guard.accepted):
        st = o.guard.state.source(name)
        if st is not None:
            quotes.append((name, st.last_ts, st.last_price))
    return quotes


def _signer_index(signers: Sequence[str], address: str | None) -> int:
    wanted = (address or "").lower()
    for i, s in enumerate(signers):
        if s.lower() == wanted:
            return i
    raise ConfigError(f"signer {address}: not in the on-chain signer set {list(signers)}")


def _from_body(body: dict[str, Any]) -> RiskReport:
    return RiskReport(
        epoch=int(body["epoch"]),
        round=int(body["round"]),
        observed_at=int(body["observed_at"]),
        deadline=int(body["deadline"]),
        model_hash=bytes.fromhex(body["model_hash"][2:]),
        inputs_hash=bytes.fromhex(body["inputs_hash"][2:]),
        markets=tuple(body["markets"]),
        params=tuple(int(p) for p in body["params"]),
    )


def _body(report: RiskReport) -> dict[str, Any]:
    return {
        "epoch": report.epoch,
        "round": report.round,
        "observed_at": report.observed_at,
        "deadline": report.deadline,
        "model_hash": "0x" + report.model_hash.hex(),
        "inputs_hash": "0x" + report.inputs_hash.hex(),
        "markets": list(report.markets),
        "params": [str(p) for p in report.params],
    }
