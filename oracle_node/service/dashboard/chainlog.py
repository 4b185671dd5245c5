"""The oracle's recent accepted rounds, read from its RiskReportAccepted events (the chain is the record).

Incremental: each read asks only for the blocks after the last one read (the first read looks back
LOOKBACK_BLOCKS), then one batched request for the new events' transactions, receipts and blocks
(leader = the transaction's sender, gas used, block time). The newest KEEP events are kept.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from web3.exceptions import Web3Exception

from oracle_node.chain.contracts import RiskOracle
from oracle_node.errors import SubmissionError
from oracle_node.logs import scrub_text
from oracle_node.service.dashboard.state import AcceptedRound

LOOKBACK_BLOCKS = 5_000
MAX_SPAN = 1_000  # blocks per eth_getLogs request (providers cap the range)
KEEP = 32


class AcceptedRounds:
    """The newest accepted rounds of one RiskOracle; `read()` brings them up to the latest block."""

    def __init__(self, oracle: RiskOracle, keep: int = KEEP) -> None:
        self.oracle = oracle
        self._events: deque[AcceptedRound] = deque(maxlen=keep)
        self._seen: deque[int] = deque(maxlen=1024)  # accepted round numbers (for misses)
        self._next_block: int | None = None
        self._lock = threading.Lock()

    def read(self) -> tuple[list[AcceptedRound], list[int]]:
        """(the newest accepted rounds, every accepted round number seen) after reading new blocks;
        SubmissionError when the RPC fails (the previous events stay)."""
        with self._lock:
            try:
                self._catch_up()
            except (OSError, Web3Exception, ValueError) as exc:
                raise SubmissionError("RiskReportAccepted read failed", detail=scrub_text(str(exc))) from None
            return list(self._events), list(self._seen)

    def _catch_up(self) -> None:
        w3 = self.oracle.w3
        latest = int(w3.eth.block_number)
        start = max(0, latest - LOOKBACK_BLOCKS) if self._next_block is None else self._next_block
        event = self.oracle.contract.events.RiskReportAccepted
        while start <= latest:
            end = min(latest, start + MAX_SPAN - 1)
            logs = event.get_logs(from_block=start, to_block=end)
            if logs:
                self._add(list(logs))
            start = self._next_block = end + 1  # a failure later resumes here: no event is added twice

    def _add(self, logs: list[Any]) -> None:
        w3 = self.oracle.w3
        newest = logs[-self._events.maxlen :] if self._events.maxlen else logs
        for log in logs:
            self._seen.append(int(log["args"]["round"]))
        with w3.batch_requests() as batch:
            for log in newest:
                batch.add(w3.eth.get_transaction(log["transactionHash"]))
                batch.add(w3.eth.get_transaction_receipt(log["transactionHash"]))
                batch.add(w3.eth.get_block(log["blockNumber"]))
            out = batch.execute()
        for i, log in enumerate(newest):
            tx, receipt, block = out[3 * i : 3 * i + 3]
            args = log["args"]
            self._events.append(
                AcceptedRound(
                    round=int(args["round"]), epoch=int(args["epoch"]), signer_bitmap=int(args["signerBitmap"]),
                    block=int(log["blockNumber"]), block_time=int(block["timestamp"]),
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(), leader=str(tx["from"]),
                    gas_used=int(receipt["gasUsed"]),
                )
            )  # fmt: skip
