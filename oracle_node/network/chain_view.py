"""What the network needs from the chain: the signer set, stored rounds, and report submission.

Blocking calls (web3 over HTTP); the node runs them in a worker thread with asyncio.to_thread.
Built from the `chain/` wrappers so this package never touches web3 itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.surface_oracle import VolSurfaceOracle
from oracle_node.chain.tx import TxJournal, TxOutcome, TxSender
from oracle_node.chain.view import ChainView
from oracle_node.network.verify import SignerView
from oracle_node.options.onchain import SurfaceReport, underlying_symbol
from oracle_node.options.onchain import to_abi as surface_abi
from oracle_node.reports.eip712 import RiskReport, Signature, signatures_to_abi, to_abi


class OracleChain(Protocol):
    def signer_view(self) -> SignerView: ...

    def stored_round(self, markets: Sequence[str]) -> int: ...

    def submit(
        self, report: RiskReport, signatures: Sequence[Signature], journal: TxJournal | None
    ) -> TxOutcome: ...


@dataclass(frozen=True, slots=True)
class UnderlyingState:
    """What the VolSurfaceOracle holds for one underlying, as the refusal pre-check needs it.

    `state` is the raw state word (contracts/libraries/SurfaceState.sol), `limits` the DAO bounds in
    bp (atm_vol_floor, atm_vol_ceiling, atm_vol_max_change, price_move/vol_up/vol_down floor and
    ceiling, min_interval, spot_max_change, as SurfaceBounds names them), `smiles` the stored smile
    word of each expiry the report names (0: not listed)."""

    state: int
    limits: Mapping[str, int]
    smiles: Mapping[int, int]


class PendingBlockWeb3:
    """A Web3 whose eth_call / eth_estimateGas run against the pending block.

    The block that will include a report has a timestamp of about now, but the latest block can be
    older than the report's observedAt (always on an idle automining dev chain, up to one block time on
    a live one), so simulating at "latest" fails with RiskOracleFutureReport although the transaction
    itself would pass. Hand this to the TxSender that submits reports; everything else is delegated.
    """

    def __init__(self, w3: Any) -> None:
        self._w3 = w3
        self.eth = _PendingBlockEth(w3.eth)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._w3, name)


class _PendingBlockEth:
    def __init__(self, eth: Any) -> None:
        self._eth = eth

    def call(self, transaction: Any, block_identifier: Any = "latest") -> Any:
        return self._eth.call(transaction, "pending")

    def estimate_gas(self, transaction: Any, block_identifier: Any = "latest") -> Any:
        return self._eth.estimate_gas(transaction, "pending")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._eth, name)


class ContractChain:
    """OracleChain over the node's ChainView, the RiskOracle wrapper and its TxSender (built on a
    PendingBlockWeb3). `signer_view()` refreshes the ChainView: the network calls it once per round."""

    def __init__(self, oracle: RiskOracle, sender: TxSender, view: ChainView) -> None:
        self.oracle, self.sender, self.view = oracle, sender, view

    def signer_view(self) -> SignerView:
        snap = self.view.refresh()
        unusable = frozenset(m for m in snap.markets if not snap.usable(m))
        return SignerView(snap.signers, snap.threshold, snap.epoch, unusable)

    def stored_round(self, markets: Sequence[str]) -> int:
        """The highest round stored for any of `markets` (0 when none was ever published)."""
        return max((self.oracle.get_market_state(m).round for m in markets), default=0)

    def submit(
        self, report: RiskReport, signatures: Sequence[Signature], journal: TxJournal | None
    ) -> TxOutcome:
        """Simulate, send and await inclusion (SubmissionError naming the decoded revert otherwise)."""
        call = self.oracle.encode("submitReport", to_abi(report), signatures_to_abi(signatures))
        return self.sender.send(call, errors_abi=self.oracle.artifact.abi, journal=journal)


class ContractSurfaceChain:
    """SurfaceChain (network.surface_round) over the VolSurfaceOracle wrapper and the operator's
    TxSender: the same sender as the risk reports, so both share one nonce sequence."""

    ROUND_SHIFT = 144  # the state word's round, bits 144..207 (contracts/libraries/SurfaceState.sol)

    def __init__(self, oracle: VolSurfaceOracle, sender: TxSender) -> None:
        self.oracle, self.sender = oracle, sender

    def stored_round(self, underlyings: Sequence[bytes]) -> int:
        """The highest round stored for any of `underlyings` (0 when none was ever published)."""
        words = (self.oracle.get_state_word(u) for u in underlyings)
        return max(((w >> self.ROUND_SHIFT) & ((1 << 64) - 1) for w in words), default=0)

    def underlying_states(self, report: SurfaceReport) -> tuple[dict[bytes, UnderlyingState], int]:
        """State word, DAO bounds and the stored smile of each reported expiry, per underlying."""
        out = {}
        words = report.surfaces()
        for u in report.underlyings:
            expiries = [report.observed_at + w.tau for w in words[underlying_symbol(u)]]
            smiles = {e: self.oracle.get_smile_word(u, e) for e in expiries}
            limits = dataclasses.asdict(self.oracle.get_bounds(u))
            out[u] = UnderlyingState(self.oracle.get_state_word(u), limits, smiles)
        return out, int(self.oracle.w3.eth.get_block("latest")["timestamp"])

    def submit(
        self, report: SurfaceReport, signatures: Sequence[Signature], journal: TxJournal | None
    ) -> TxOutcome:
        call = self.oracle.encode("submitSurfaceReport", surface_abi(report), signatures_to_abi(signatures))
        return self.sender.send(call, errors_abi=self.oracle.artifact.abi, journal=journal)
