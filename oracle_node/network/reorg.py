"""Reorg watcher: a report this node submitted and saw included, which the chain no longer holds.

A reorg (on anvil: evm_snapshot / evm_revert) can drop the block that included a report: the node's
store says "included" while the market words on-chain are back at an older round. Every `interval_s`
the watcher looks at this node's included reports whose deadline has not passed; for one whose round
is above what the chain now stores, it logs `report_reorged_out` and re-broadcasts the exact signed
transaction from the store's journal (TxSender.resume: same bytes, same nonce, which the reorg freed;
the sender's nonce is re-read afterwards), then logs `report_resubmitted` with the new block. The bytes
are simulated against the pending block first: while the chain would refuse them (e.g. its clock is
behind the report's observedAt) the watcher logs `report_resubmit_deferred` with the decoded error and
tries again next interval, so the nonce is never burnt on a reverting transaction. A report
whose round the chain has already passed (a later round landed first) is superseded, not resubmitted:
the contract only accepts increasing rounds, and the newer report is fresher.

watcher = ReorgWatcher(store, chain)          # chain: the node's ContractChain (its TxSender)
task = asyncio.create_task(watcher.run())     # cancel it when the node stops
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError

from oracle_node.chain.rpc import revert_error
from oracle_node.errors import OracleNodeError, SubmissionError
from oracle_node.logs import get_logger
from oracle_node.network.chain_view import ContractChain
from oracle_node.store import NodeStore, ReportRecord, ReportStatus, SubmissionRecord

log = get_logger(__name__)


@dataclass
class ReorgWatcher:
    store: NodeStore
    chain: ContractChain
    interval_s: float = 0.25
    now: Callable[[], float] = time.time
    resubmitted: list[tuple[int, int]] = field(default_factory=list)  # (round, new block)

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.check)
            except OracleNodeError as exc:
                log.warning("reorg_check_failed", error=str(exc))
            await asyncio.sleep(self.interval_s)

    def check(self) -> list[int]:
        """Resubmit every live included report the chain lost, oldest first; returns their rounds."""
        done = []
        for record, stored in self._dropped():
            tx = self._included_tx(record.digest)
            if tx is None:
                continue
            log.warning("report_reorged_out", round=record.round, stored_round=stored, tx_hash=tx.tx_hash)
            if (refused := self._simulate(tx)) is not None:
                log.warning("report_resubmit_deferred", round=record.round, error=str(refused))
                continue
            outcome = self.chain.sender.resume(tx.tx_hash, tx.raw_tx)  # the journal already says included
            self.resubmitted.append((record.round, outcome.block_number or 0))
            log.info("report_resubmitted", round=record.round, tx_hash=tx.tx_hash, block=outcome.block_number)
            done.append(record.round)
        return done

    def _dropped(self) -> list[tuple[ReportRecord, int]]:
        """Live included reports above the chain's stored round. A reorg drops a suffix of history, so
        the scan goes newest first and stops at the first report the chain still holds."""
        live = [
            r for r in self.store.reports_with_status(ReportStatus.INCLUDED)
            if int(r.body.get("report", {}).get("deadline", 0)) > self.now()
            and r.body.get("report", {}).get("markets")
        ]  # fmt: skip
        dropped: list[tuple[ReportRecord, int]] = []
        for record in sorted(live, key=lambda r: r.round, reverse=True):
            stored = self.chain.stored_round(record.body["report"]["markets"])
            if stored >= record.round:
                break
            dropped.append((record, stored))
        return dropped[::-1]

    def _included_tx(self, digest: str) -> SubmissionRecord | None:
        return next((s for s in self.store.submissions_for(digest) if s.status == "included"), None)

    def _simulate(self, tx: SubmissionRecord) -> SubmissionError | None:
        """None when the recorded transaction would succeed in the pending block, else the decoded error."""
        body = TypedTransaction.from_bytes(HexBytes(tx.raw_tx)).as_dict()
        call = {
            "from": self.chain.sender.from_address,
            "to": body["to"],
            "data": "0x" + bytes(body["data"]).hex(),
        }
        try:
            self.chain.sender.w3.eth.call(call, "pending")  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return revert_error("resubmission simulation reverted", exc, self.chain.oracle.artifact.abi)
        return None
