"""The transaction pipeline: simulate, estimate, price, sign, send, await, replace when stuck.

`TxSender.send(tx)` takes a prepared transaction (to, data, value) and
1. simulates it with `eth_call` (a revert raises SubmissionError naming the decoded custom error);
2. estimates gas and adds a buffer, capped (an estimate above the cap is refused);
3. prices it EIP-1559 from the next block's base fee and `eth_maxPriorityFeePerGas`, clamped to the policy
   (a base fee above the max-fee cap is refused rather than left to sit in the mempool);
4. takes the next nonce from a local counter (read from the `pending` count once, re-read after a
   nonce error), signs, records the signed bytes in the journal, and broadcasts;
5. polls for the receipt; a transaction pending longer than `stuck_after_s` is replaced with the same
   nonce and fees bumped by at least `replacement_bump_pct`; status 0 raises SubmissionError.
Transient RPC errors are retried with exponential backoff, then become a SubmissionError. With no
account it only simulates. Outcomes are counted by status in `counts` (and passed to `on_status`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, Field, model_validator
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from oracle_node.chain.rpc import call_with_retries, checksum, revert_error, rpc_error_text
from oracle_node.errors import SubmissionError
from oracle_node.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")
GWEI = 10**9
# Counter keys; the service maps them onto its Prometheus transactions counter.
_AFTER_SEND = ("included", "reverted", "dropped", "timeout", "replaced")
TX_STATUSES = (*_AFTER_SEND, "dry_run", "simulation_failed", "refused", "rpc_error")
_NONCE_WORDS = ("nonce too low", "nonce too high", "replacement transaction underpriced")


class TxPolicy(BaseModel):
    """Limits of the pipeline (config `chain.tx`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    gas_buffer_pct: float = Field(default=20.0, ge=0, le=200, description="added to the gas estimate")
    gas_cap: int = Field(default=3_000_000, ge=21_000, description="largest gas limit ever sent")
    max_fee_per_gas_gwei: float = Field(default=200.0, gt=0, description="cap on maxFeePerGas")
    max_priority_fee_gwei: float = Field(default=2.0, ge=0, description="cap on maxPriorityFeePerGas")
    base_fee_multiplier: float = Field(default=2.0, ge=1, le=10, description="maxFee = base fee x this + tip")
    receipt_timeout_s: float = Field(default=180.0, gt=0)
    poll_interval_s: float = Field(default=1.0, gt=0)
    retries: int = Field(default=3, ge=0, le=20, description="retries of a failed RPC call")
    backoff_base_s: float = Field(default=0.5, ge=0, description="first retry delay; doubles each retry")
    backoff_max_s: float = Field(default=30.0, ge=0)
    stuck_after_s: float = Field(default=60.0, gt=0, description="replace a transaction pending this long")
    replacement_bump_pct: float = Field(
        default=12.5, ge=12.5, le=500, description="fee bump of a replacement"
    )
    max_replacements: int = Field(default=3, ge=0, le=20)

    @model_validator(mode="after")
    def _tip_below_cap(self) -> TxPolicy:
        if self.max_priority_fee_gwei > self.max_fee_per_gas_gwei:
            raise ValueError("max_priority_fee_gwei must not exceed max_fee_per_gas_gwei")
        return self

    @property
    def max_fee_wei(self) -> int:
        return int(self.max_fee_per_gas_gwei * GWEI)

    @property
    def max_tip_wei(self) -> int:
        return int(self.max_priority_fee_gwei * GWEI)


@dataclass(frozen=True, slots=True)
class PreparedTx:
    """What to send: the caller (a contract wrapper) encodes; the sender does everything else."""

    to: str
    data: bytes = b""
    value: int = 0

    @classmethod
    def of(cls, tx: PreparedTx | Mapping[str, Any] | Any) -> PreparedTx:
        """Accept a PreparedTx, a mapping with to/data/value, or an object with target/data/value."""
        if isinstance(tx, PreparedTx):
            return tx
        get = tx.get if isinstance(tx, Mapping) else lambda k, d=None: getattr(tx, k, d)
        data = get("data", b"") or b""
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
        return cls(checksum(get("to") or get("target")), raw, int(get("value", 0) or 0))


@dataclass(frozen=True, slots=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True, slots=True)
class TxOutcome:
    status: Literal["included", "dry_run"]
    gas_estimate: int
    note: str = ""
    tx_hash: str | None = None
    nonce: int | None = None
    gas_limit: int | None = None
    fees: Fees | None = None
    block_number: int | None = None
    gas_used: int | None = None
    effective_gas_price: int | None = None
    replacements: int = 0
    return_data: bytes = b""


class TxJournal(Protocol):
    """Durable record of what was sent (the store's SubmissionJournal implements it)."""

    def tx_signed(
        self, *, tx_hash: str, nonce: int, max_fee_per_gas: int, max_priority_fee_per_gas: int, gas_limit: int,
        raw_tx: bytes,
    ) -> None: ...  # fmt: skip

    def tx_settled(
        self, *, tx_hash: str, status: str, block: int | None = None, error: str | None = None
    ) -> None: ...


class _NoJournal:
    def tx_signed(self, **_: Any) -> None:
        pass

    def tx_settled(self, **_: Any) -> None:
        pass


@dataclass(frozen=True, slots=True)
class _Sent:
    tx_hash: str
    nonce: int
    gas_limit: int
    fees: Fees
    at: float


class TxSender:
    def __init__(
        self,
        w3: Web3,
        account: LocalAccount | None,
        policy: TxPolicy | None = None,
        *,
        from_address: str | None = None,
        on_status: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.w3, self.account, self.policy = w3, account, policy or TxPolicy()
        sender = account.address if account is not None else from_address
        self.from_address = checksum(sender) if sender else None
        self.on_status, self._sleep, self._clock = on_status, sleep, clock
        self.counts: Counter[str] = Counter(dict.fromkeys(TX_STATUSES, 0))
        self._nonce: int | None = None
        self._chain_id: int | None = None
        # One account, several submitters (risk and surface reports, rounds that overlap): nonce
        # assignment and broadcast happen under this lock, waiting for inclusion does not.
        self._nonce_lock = threading.Lock()

    @property
    def dry_run(self) -> bool:
        return self.account is None

    def send(
        self,
        tx: PreparedTx | Mapping[str, Any] | Any,
        *,
        errors_abi: Sequence[Mapping[str, Any]] = (),
        journal: TxJournal | None = None,
    ) -> TxOutcome:
        """Simulate, then (unless dry-run) send and wait for inclusion; SubmissionError otherwise."""
        call = self._call_params(PreparedTx.of(tx))
        return_data = self._simulate(call, errors_abi)
        estimate = self._estimate(call, errors_abi)
        if self.account is None:
            self._count("dry_run")
            log.info("tx_dry_run", to=call["to"], gas_estimate=estimate)
            return TxOutcome(
                "dry_run", estimate, "dry-run: no signing key, simulated only", return_data=return_data
            )
        gas_limit, record = self._gas_limit(estimate), journal or _NoJournal()
        first = self._send_new(call, gas_limit, self._fees(), record)
        return self._await([first], call, record, estimate)

    def _call_params(self, tx: PreparedTx) -> dict[str, Any]:
        call: dict[str, Any] = {"to": tx.to, "data": "0x" + tx.data.hex(), "value": tx.value}
        if self.from_address:
            call["from"] = self.from_address
        return call

    def _simulate(self, call: dict[str, Any], errors_abi: Sequence[Mapping[str, Any]]) -> bytes:
        try:
            return bytes(self._rpc("eth_call", lambda: self.w3.eth.call(call, "latest")))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise self._reverted("simulation reverted", exc, errors_abi) from None

    def _estimate(self, call: dict[str, Any], errors_abi: Sequence[Mapping[str, Any]]) -> int:
        try:
            return int(self._rpc("eth_estimateGas", lambda: self.w3.eth.estimate_gas(call, "latest")))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise self._reverted("gas estimation reverted", exc, errors_abi) from None

    def _reverted(
        self, reason: str, exc: ContractLogicError, errors_abi: Sequence[Mapping[str, Any]]
    ) -> SubmissionError:
        self._count("simulation_failed")
        return revert_error(reason, exc, errors_abi)

    def _gas_limit(self, estimate: int) -> int:
        cap = self.policy.gas_cap
        if estimate > cap:
            self._count("refused")
            raise SubmissionError("gas estimate above cap", None, f"estimate {estimate} > gas_cap {cap}")
        return min(math.ceil(estimate * (1 + self.policy.gas_buffer_pct / 100)), cap)

    def _fees(self) -> Fees:
        history = self._rpc("eth_feeHistory", lambda: self.w3.eth.fee_history(1, "latest"))
        base = max(int(b) for b in history["baseFeePerGas"])  # the latest block's and the next block's
        suggested = int(self._rpc("eth_maxPriorityFeePerGas", lambda: self.w3.eth.max_priority_fee))
        cap = self.policy.max_fee_wei
        if base >= cap:
            self._count("refused")
            detail = f"base fee {base} wei >= max_fee_per_gas cap {cap} wei"
            raise SubmissionError("base fee at or above max fee cap", None, detail)
        tip = min(suggested, self.policy.max_tip_wei)
        max_fee = min(math.ceil(base * self.policy.base_fee_multiplier) + tip, cap)
        return Fees(max_fee, min(tip, max_fee - base))

    def _bumped(self, old: Fees) -> Fees | None:
        """Fees for a replacement: both fields up by at least the bump, within the caps; None if capped."""
        factor = 1 + self.policy.replacement_bump_pct / 100
        fresh = self._fees()
        tip = max(math.ceil(old.max_priority_fee_per_gas * factor), fresh.max_priority_fee_per_gas)
        max_fee = max(math.ceil(old.max_fee_per_gas * factor), fresh.max_fee_per_gas)
        if tip > self.policy.max_tip_wei or max_fee > self.policy.max_fee_wei:
            return None
        return Fees(max_fee, tip)

    def _send_new(self, call: dict[str, Any], gas_limit: int, fees: Fees, journal: TxJournal) -> _Sent:
        """Sign with the next nonce and broadcast; on a nonce error re-read the pending count once."""
        with self._nonce_lock:
            return self._send_new_locked(call, gas_limit, fees, journal)

    def _send_new_locked(self, call: dict[str, Any], gas_limit: int, fees: Fees, journal: TxJournal) -> _Sent:
        for attempt in (0, 1):
            nonce = self._next_nonce()
            try:
                sent = self._sign_and_broadcast(call, gas_limit, fees, nonce, journal)
            except Web3RPCError as exc:
                if attempt == 1 or not any(w in rpc_error_text(exc).lower() for w in _NONCE_WORDS):
                    raise SubmissionError("transaction rejected by node", None, rpc_error_text(exc)) from None
                log.warning("tx_nonce_resync", nonce=nonce, error=rpc_error_text(exc))
                self._nonce = None
                continue
            self._nonce = nonce + 1
            return sent
        raise AssertionError("unreachable")

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = self._nonce_at("pending")
        return self._nonce

    def _nonce_at(self, block: str) -> int:
        assert self.from_address is not None
        address = self.from_address
        return int(self._rpc("eth_getTransactionCount", lambda: self.w3.eth.get_transaction_count(address, block)))  # type: ignore[arg-type]  # fmt: skip

    def _sign_and_broadcast(
        self, call: dict[str, Any], gas_limit: int, fees: Fees, nonce: int, journal: TxJournal
    ) -> _Sent:
        assert self.account is not None
        if self._chain_id is None:
            self._chain_id = int(self._rpc("eth_chainId", lambda: self.w3.eth.chain_id))
        body = {
            "type": 2, "chainId": self._chain_id, "nonce": nonce, "to": call["to"], "data": call["data"],
            "value": call["value"], "gas": gas_limit, "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }  # fmt: skip
        signed = self.account.sign_transaction(body)
        tx_hash = "0x" + bytes(signed.hash).hex()
        journal.tx_signed(
            tx_hash=tx_hash, nonce=nonce, max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas, gas_limit=gas_limit,
            raw_tx=bytes(signed.raw_transaction),
        )  # fmt: skip
        try:
            self._rpc(
                "eth_sendRawTransaction", lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction)
            )
        except Web3RPCError as exc:
            if "already known" not in rpc_error_text(exc).lower():  # a retried send that had got through
                journal.tx_settled(tx_hash=tx_hash, status="failed", error=rpc_error_text(exc))
                raise
        log.info("tx_sent", tx_hash=tx_hash, nonce=nonce, gas=gas_limit, max_fee=fees.max_fee_per_gas)
        return _Sent(tx_hash, nonce, gas_limit, fees, self._clock())

    def _await(self, sent: list[_Sent], call: dict[str, Any], journal: TxJournal, estimate: int) -> TxOutcome:
        deadline = self._clock() + self.policy.receipt_timeout_s
        replaceable = self.policy.max_replacements > 0
        while True:
            found = self._find_receipt(sent)
            if found is None and self._nonce_at("latest") > sent[0].nonce:
                found = self._find_receipt(sent)  # mined between the two reads?
                if found is None:
                    self._dropped(sent, journal)
            if found is not None:
                return self._settle(found[0], found[1], sent, journal, estimate)
            now = self._clock()
            if now >= deadline:
                self._count("timeout")
                hashes = ", ".join(s.tx_hash for s in sent)
                raise SubmissionError(
                    "no receipt before timeout", None, f"nonce {sent[0].nonce}, tx {hashes}"
                )
            if replaceable and now - sent[-1].at >= self.policy.stuck_after_s:
                replacement = self._replace(sent[-1], call, journal)
                if replacement is not None:
                    sent.append(replacement)
                replaceable = replacement is not None and len(sent) <= self.policy.max_replacements
            self._sleep(self.policy.poll_interval_s)

    def _find_receipt(self, sent: list[_Sent]) -> tuple[Any, _Sent] | None:
        for attempt in reversed(sent):
            receipt = self._receipt(attempt.tx_hash)
            if receipt is not None:
                return receipt, attempt
        return None

    def _dropped(self, sent: list[_Sent], journal: TxJournal) -> None:
        """Another transaction took our nonce (sent elsewhere with the same key): ours will never land."""
        self._count("dropped")
        self._nonce = None
        for attempt in sent:
            journal.tx_settled(tx_hash=attempt.tx_hash, status="dropped", error="nonce used by another tx")
        hashes = ", ".join(s.tx_hash for s in sent)
        raise SubmissionError(
            "nonce used by another transaction", None, f"nonce {sent[0].nonce}, tx {hashes}"
        )

    def resume(self, tx_hash: str, raw_tx: bytes, *, journal: TxJournal | None = None) -> TxOutcome:
        """After a restart: await a recorded transaction (store.pending_submissions()), re-broadcasting its
        exact bytes in case the node lost it, and replacing it if it is stuck, as send() would."""
        if self.account is None:
            raise SubmissionError("cannot resume a transaction in dry-run", None, tx_hash)
        tx = TypedTransaction.from_bytes(HexBytes(raw_tx)).as_dict()
        call = self._call_params(PreparedTx(checksum(tx["to"]), bytes(tx["data"]), int(tx["value"])))
        fees = Fees(int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"]))
        try:
            self._rpc("eth_sendRawTransaction", lambda: self.w3.eth.send_raw_transaction(raw_tx))
        except Web3RPCError as exc:  # "already known" or "nonce too low" (mined): the receipt tells
            log.info("tx_resume_rebroadcast_refused", tx_hash=tx_hash, error=rpc_error_text(exc))
        self._nonce = None
        sent = _Sent(tx_hash.lower(), int(tx["nonce"]), int(tx["gas"]), fees, self._clock())
        return self._await([sent], call, journal or _NoJournal(), int(tx["gas"]))

    def _replace(self, stuck: _Sent, call: dict[str, Any], journal: TxJournal) -> _Sent | None:
        fees = self._bumped(stuck.fees)
        if fees is None:
            log.warning("tx_replacement_capped", tx_hash=stuck.tx_hash, nonce=stuck.nonce)
            return None
        try:
            replacement = self._sign_and_broadcast(call, stuck.gas_limit, fees, stuck.nonce, journal)
        except Web3RPCError as exc:  # e.g. the original was mined meanwhile: keep polling
            log.warning("tx_replacement_rejected", tx_hash=stuck.tx_hash, error=rpc_error_text(exc))
            return None
        self._count("replaced")
        log.warning("tx_replaced", old=stuck.tx_hash, new=replacement.tx_hash, max_fee=fees.max_fee_per_gas)
        return replacement

    def _receipt(self, tx_hash: str) -> Any:
        def fetch() -> Any:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return None

        return self._rpc("eth_getTransactionReceipt", fetch)

    def _settle(
        self, receipt: Any, winner: _Sent, sent: list[_Sent], journal: TxJournal, estimate: int
    ) -> TxOutcome:
        block, gas_used = int(receipt["blockNumber"]), int(receipt["gasUsed"])
        for other in sent:
            if other.tx_hash != winner.tx_hash:
                journal.tx_settled(tx_hash=other.tx_hash, status="replaced")
        if int(receipt["status"]) != 1:
            self._count("reverted")
            journal.tx_settled(tx_hash=winner.tx_hash, status="reverted", block=block)
            detail = f"tx {winner.tx_hash} in block {block}, gas used {gas_used} of {winner.gas_limit}"
            raise SubmissionError("transaction reverted on chain", None, detail)
        self._count("included")
        journal.tx_settled(tx_hash=winner.tx_hash, status="included", block=block)
        log.info("tx_included", tx_hash=winner.tx_hash, block=block, gas_used=gas_used)
        return TxOutcome(
            "included", estimate, tx_hash=winner.tx_hash, nonce=winner.nonce, gas_limit=winner.gas_limit,
            fees=winner.fees, block_number=block, gas_used=gas_used,
            effective_gas_price=int(receipt.get("effectiveGasPrice") or 0), replacements=len(sent) - 1,
        )  # fmt: skip

    def _rpc(self, method: str, fn: Callable[[], T]) -> T:
        p = self.policy
        return call_with_retries(
            method, fn, retries=p.retries, backoff=(p.backoff_base_s, p.backoff_max_s), sleep=self._sleep,
            on_give_up=lambda: self._count("rpc_error"),
        )  # fmt: skip

    def _count(self, status: str) -> None:
        self.counts[status] += 1
        if self.on_status is not None:
            self.on_status(status)
