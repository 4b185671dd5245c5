"""One wrapper class per contract, built from the compiled artifacts; calls map to typed results.

Reverts are decoded into the custom error's name and arguments from the ABI error entries of every
contract in the stack (an engine call can bubble an oracle error) and raised as `ContractReverted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Self

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception

from oracle_node.chain.artifacts import Artifact, DecodedError, ErrorDecoder, load_artifact
from oracle_node.errors import ConfigError, SubmissionError
from oracle_node.logs import scrub_text
from oracle_node.reports.eip712 import RiskReport, Signature, signatures_to_abi, to_abi
from oracle_node.types import (
    RISK_FIELDS,
    MarketState,
    OnchainBounds,
    RiskParamsBps,
    market_from_bytes32,
    market_id_bytes32,
)

Sender = str | LocalAccount  # an unlocked node account (anvil) or a local key
STACK = (
    "RiskOracle",
    "RiskParamAggregator",
    "OptionsMarginEngine",
    "RiskOracleTimelock",
    "TestUSD",
    "VolSurfaceOracle",
    "OptionsPortfolioMarginEngine",
)
GAS_BUFFER = 1.25
GAS_CAP = 30_000_000


class ContractReverted(SubmissionError):
    """The chain rejected a call; `error_name`/`error_args` hold the decoded custom error."""

    def __init__(self, contract: str, function: str, decoded: DecodedError | None, raw: str) -> None:
        self.contract, self.function, self.decoded, self.raw = contract, function, decoded, raw
        self.error_args: tuple[Any, ...] = decoded.args if decoded else ()
        detail = str(decoded) if decoded else f"undecoded revert data {raw or '(none)'}"
        super().__init__(f"{contract}.{function} reverted", decoded.name if decoded else None, detail)


@lru_cache(maxsize=8)
def stack_decoder(out_dir: Path | None = None) -> ErrorDecoder:
    abis = []
    for name in STACK:
        try:
            abis.append(load_artifact(name, out_dir).abi)
        except ConfigError:  # a contract not built yet only narrows what can be decoded
            continue
    return ErrorDecoder(abis)


@dataclass(frozen=True)
class TxResult:
    tx_hash: str
    block_number: int
    gas_used: int
    receipt: Any


@dataclass(frozen=True)
class ContractCall:
    """A call encoded for another contract to make (e.g. a timelock operation)."""

    target: str
    data: bytes
    value: int = 0


class ContractWrapper:
    """Base: a web3 contract from the artifact named ARTIFACT, with revert decoding on every call."""

    ARTIFACT: ClassVar[str]
    receipt_timeout_s: ClassVar[float] = 120.0

    def __init__(self, w3: Web3, address: str, out_dir: Path | None = None) -> None:
        self.w3, self.address, self.out_dir = w3, to_checksum_address(address), out_dir
        self.artifact: Artifact = load_artifact(self.ARTIFACT, out_dir)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.artifact.abi)
        self.decoder = stack_decoder(out_dir)

    @classmethod
    def deploy(cls, w3: Web3, sender: Sender, *args: Any, out_dir: Path | None = None) -> Self:
        artifact = load_artifact(cls.ARTIFACT, out_dir)
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        result = _send_tx(
            w3,
            factory.constructor(*args),
            sender,
            contract=cls.ARTIFACT,
            function="constructor",
            out_dir=out_dir,
        )
        return cls(w3, result.receipt["contractAddress"], out_dir)

    def _call(self, function: str, *args: Any, sender: str | None = None) -> Any:
        tx = {"from": to_checksum_address(sender)} if sender else {}
        try:
            return self.contract.functions[function](*args).call(tx)
        except ContractLogicError as exc:
            raise self._reverted(function, exc) from exc
        except Web3Exception as exc:
            raise SubmissionError(f"{self.ARTIFACT}.{function} call failed", detail=str(exc)) from exc

    def _send(self, function: str, *args: Any, sender: Sender, gas: int | None = None) -> TxResult:
        fn = self.contract.functions[function](*args)
        return _send_tx(
            self.w3, fn, sender, contract=self.ARTIFACT, function=function, out_dir=self.out_dir, gas=gas
        )

    def _reverted(self, function: str, exc: ContractLogicError) -> ContractReverted:
        return _reverted(self.decoder, self.ARTIFACT, function, exc)

    def encode(self, function: str, *args: Any) -> ContractCall:
        """Calldata for `function(*args)` on this contract, to be executed by someone else."""
        data = self.contract.encode_abi(function, args=list(args))
        return ContractCall(self.address, bytes.fromhex(data[2:]))


def _reverted(
    decoder: ErrorDecoder, contract: str, function: str, exc: ContractLogicError
) -> ContractReverted:
    data = exc.data if isinstance(exc.data, str | bytes) else None
    return ContractReverted(
        contract, function, decoder.decode(data), data.hex() if isinstance(data, bytes) else data or ""
    )


def _sender_address(sender: Sender) -> str:
    return sender.address if isinstance(sender, LocalAccount) else to_checksum_address(sender)


def _send_tx(
    w3: Web3,
    fn: Any,
    sender: Sender,
    *,
    contract: str,
    function: str,
    out_dir: Path | None,
    gas: int | None = None,
) -> TxResult:
    """eth_call first (decoded revert), gas estimate + buffer (capped), send, await the receipt."""
    frm = _sender_address(sender)
    try:
        if function != "constructor":
            fn.call({"from": frm})
        limit = gas or min(int(fn.estimate_gas({"from": frm}) * GAS_BUFFER), GAS_CAP)
        if isinstance(sender, LocalAccount):
            nonce = w3.eth.get_transaction_count(frm, "pending")
            tx = fn.build_transaction({"from": frm, "gas": limit, "nonce": nonce})
            tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        else:
            tx_hash = fn.transact({"from": frm, "gas": limit})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=ContractWrapper.receipt_timeout_s)
    except ContractLogicError as exc:
        raise _reverted(stack_decoder(out_dir), contract, function, exc) from exc
    except TimeExhausted as exc:
        raise SubmissionError(f"{contract}.{function} receipt timed out", detail=str(exc)) from exc
    except Web3Exception as exc:
        raise SubmissionError(f"{contract}.{function} transaction failed", detail=str(exc)) from exc
    if receipt["status"] != 1:
        raise ContractReverted(contract, function, None, f"status 0 in tx {tx_hash.hex()}")
    return TxResult("0x" + bytes(tx_hash).hex(), receipt["blockNumber"], receipt["gasUsed"], receipt)


# Typed values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnchainParams:
    market: str
    params: RiskParamsBps
    observed_at: int
    round: int

    @classmethod
    def from_abi(cls, market: str, raw: Sequence[int]) -> OnchainParams:
        return cls(market, RiskParamsBps(*raw[:8]), raw[8], raw[9])


@dataclass(frozen=True)
class SignerSet:
    signers: tuple[str, ...]
    threshold: int
    epoch: int


@dataclass(frozen=True)
class RoundData:
    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int


# Wrappers ----------------------------------------------------------------------------------------


class RiskOracle(ContractWrapper):
    ARTIFACT = "RiskOracle"
    DEFAULT_ADMIN_ROLE = b"\x00" * 32
    GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")

    def submit_report(
        self, report: RiskReport, signatures: Sequence[Signature], sender: Sender, gas: int | None = None
    ) -> TxResult:
        return self._send(
            "submitReport", to_abi(report), signatures_to_abi(signatures), sender=sender, gas=gas
        )

    def report_digest(self, report: RiskReport) -> bytes:
        return bytes(self._call("reportDigest", to_abi(report)))

    def get_risk_params(self, market: str) -> OnchainParams:
        return OnchainParams.from_abi(market, self._call("getRiskParams", market_id_bytes32(market)))

    def get_risk_params_no_older_than(self, market: str, max_age: int) -> OnchainParams:
        raw = self._call("getRiskParamsNoOlderThan", market_id_bytes32(market), max_age)
        return OnchainParams.from_abi(market, raw)

    def get_risk_params_batch(self, markets: Sequence[str]) -> list[OnchainParams]:
        raws = self._call("getRiskParamsBatch", [market_id_bytes32(m) for m in markets])
        return [OnchainParams.from_abi(m, r) for m, r in zip(markets, raws, strict=True)]

    def get_market_word(self, market: str) -> int:
        return int(self._call("getMarketWord", market_id_bytes32(market)))

    def get_market_state(self, market: str) -> MarketState:
        return MarketState.decode(self.get_market_word(market))

    def get_bounds(self, profile_id: int) -> OnchainBounds:
        return OnchainBounds.from_abi(self._call("getBounds", profile_id))

    def get_market_bounds(self, market: str) -> OnchainBounds:
        return OnchainBounds.from_abi(self._call("getMarketBounds", market_id_bytes32(market)))

    def get_signers(self) -> SignerSet:
        signers, threshold, epoch = self._call("getSigners")
        return SignerSet(tuple(to_checksum_address(s) for s in signers), threshold, epoch)

    def is_model_allowed(self, model_hash: bytes) -> bool:
        return bool(self._call("isModelAllowed", model_hash))

    def allowed_models(self) -> list[bytes]:
        return [bytes(h) for h in self._call("getAllowedModels")]

    def read_round_state(
        self, markets: Sequence[str]
    ) -> tuple[int, str, SignerSet, bool, dict[str, MarketState]]:
        """(latest block time, config snapshot address, signer set, paused, market states) in ONE
        batched JSON-RPC request (one HTTP round trip instead of 4 + N)."""
        fns = self.contract.functions
        try:
            with self.w3.batch_requests() as batch:
                batch.add(self.w3.eth.get_block("latest"))
                batch.add(fns.configSnapshot())
                batch.add(fns.getSigners())
                batch.add(fns.paused())
                for m in markets:
                    batch.add(fns.getMarketWord(market_id_bytes32(m)))
                out = batch.execute()
        except (OSError, Web3Exception, ValueError) as exc:
            raise SubmissionError("RiskOracle round-state read failed", detail=scrub_text(str(exc))) from None
        block, address, (signers, threshold, epoch), paused, *words = out
        states = {m: MarketState.decode(int(w)) for m, w in zip(markets, words, strict=True)}
        signer_set = SignerSet(tuple(to_checksum_address(x) for x in signers), threshold, epoch)
        return int(block["timestamp"]), to_checksum_address(address), signer_set, bool(paused), states

    def config_snapshot(self) -> str:
        """Address of the current config snapshot: it changes with every governance change."""
        return to_checksum_address(self._call("configSnapshot"))

    def max_report_age(self) -> int:
        return int(self._call("maxReportAge"))

    def paused(self) -> bool:
        return bool(self._call("paused"))

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self._call("hasRole", role, to_checksum_address(account)))

    # Governance calls, sent directly (admin/guardian) or encoded for the timelock with encode().
    def set_signers(self, signers: Sequence[str], threshold: int, sender: Sender) -> TxResult:
        return self._send("setSigners", [to_checksum_address(s) for s in signers], threshold, sender=sender)

    def set_bounds(self, profile_id: int, bounds: OnchainBounds, sender: Sender) -> TxResult:
        return self._send("setBounds", profile_id, bounds.to_abi(), sender=sender)

    def tighten_bounds(self, profile_id: int, bounds: OnchainBounds, sender: Sender) -> TxResult:
        return self._send("tightenBounds", profile_id, bounds.to_abi(), sender=sender)

    def pause(self, sender: Sender) -> TxResult:
        return self._send("pause", sender=sender)

    def pause_market(self, market: str, sender: Sender) -> TxResult:
        return self._send("pauseMarket", market_id_bytes32(market), sender=sender)


class RiskParamAggregator(ContractWrapper):
    ARTIFACT = "RiskParamAggregator"

    def latest_round_data(self) -> RoundData:
        return RoundData(*self._call("latestRoundData"))

    def decimals(self) -> int:
        return int(self._call("decimals"))

    def description(self) -> str:
        return str(self._call("description"))

    def target(self) -> tuple[str, str, str]:
        """(oracle address, market symbol, field name) this feed reads."""
        market = market_from_bytes32(bytes(self._call("marketId")))
        return to_checksum_address(self._call("oracle")), market, RISK_FIELDS[self._call("field")]


class OptionsMarginEngine(ContractWrapper):
    ARTIFACT = "OptionsMarginEngine"

    def list_market(self, market: str, max_age: int, sender: Sender) -> TxResult:
        return self._send("listMarket", market_id_bytes32(market), max_age, sender=sender)

    def deposit(self, amount: int, sender: Sender) -> TxResult:
        return self._send("deposit", amount, sender=sender)

    def set_position(self, market: str, notional: int, sender: Sender) -> TxResult:
        return self._send("setPosition", market_id_bytes32(market), notional, sender=sender)

    def collateral_of(self, account: str) -> int:
        return int(self._call("collateralOf", to_checksum_address(account)))

    def initial_requirement(self, account: str) -> int:
        return int(self._call("initialRequirement", to_checksum_address(account)))

    def maintenance_status(self, account: str) -> tuple[int, bool]:
        requirement, fallback = self._call("maintenanceStatus", to_checksum_address(account))
        return int(requirement), bool(fallback)

    def market_max_age(self, market: str) -> int:
        return int(self._call("marketMaxAge", market_id_bytes32(market)))

    def owner(self) -> str:
        return to_checksum_address(self._call("owner"))

    def collateral_token(self) -> str:
        return to_checksum_address(self._call("collateralToken"))

    def transfer_ownership(self, new_owner: str, sender: Sender) -> TxResult:
        return self._send("transferOwnership", to_checksum_address(new_owner), sender=sender)


class TestUSD(ContractWrapper):
    ARTIFACT = "TestUSD"
    __test__ = False  # not a pytest class

    def balance_of(self, account: str) -> int:
        return int(self._call("balanceOf", to_checksum_address(account)))

    def mint(self, to: str, amount: int, sender: Sender) -> TxResult:
        return self._send("mint", to_checksum_address(to), amount, sender=sender)

    def approve(self, spender: str, amount: int, sender: Sender) -> TxResult:
        return self._send("approve", to_checksum_address(spender), amount, sender=sender)


class TimelockController(ContractWrapper):
    """The DAO's OpenZeppelin TimelockController (contracts/governance/RiskOracleTimelock.sol)."""

    ARTIFACT = "RiskOracleTimelock"
    PROPOSER_ROLE = keccak(text="PROPOSER_ROLE")
    EXECUTOR_ROLE = keccak(text="EXECUTOR_ROLE")
    CANCELLER_ROLE = keccak(text="CANCELLER_ROLE")

    def min_delay(self) -> int:
        return int(self._call("getMinDelay"))

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self._call("hasRole", role, to_checksum_address(account)))

    def operation_id(self, call: ContractCall, salt: bytes, predecessor: bytes = b"\x00" * 32) -> bytes:
        return bytes(self._call("hashOperation", call.target, call.value, call.data, predecessor, salt))

    def schedule(self, call: ContractCall, salt: bytes, delay: int, sender: Sender) -> TxResult:
        args = (call.target, call.value, call.data, b"\x00" * 32, salt, delay)
        return self._send("schedule", *args, sender=sender)

    def execute(self, call: ContractCall, salt: bytes, sender: Sender) -> TxResult:
        return self._send("execute", call.target, call.value, call.data, b"\x00" * 32, salt, sender=sender)

    def is_operation_ready(self, operation_id: bytes) -> bool:
        return bool(self._call("isOperationReady", operation_id))

    def is_operation_done(self, operation_id: bytes) -> bool:
        return bool(self._call("isOperationDone", operation_id))


class OptionsPortfolioMarginEngine(ContractWrapper):
    """The options portfolio margin engine (contracts/consumers/OptionsPortfolioMarginEngine.sol)."""

    ARTIFACT = "OptionsPortfolioMarginEngine"

    def list_underlying(self, underlying: bytes, max_age: int, sender: Sender) -> TxResult:
        return self._send("listUnderlying", underlying, max_age, sender=sender)

    def margin_for(
        self, options: Sequence[tuple[bytes, int, int, bool, int]], linear: Sequence[tuple[bytes, int]]
    ) -> tuple[int, int]:
        """(initial, maintenance) in WAD USD of any book, on fresh data (reverts like the engine)."""
        initial, maintenance = self._call("marginFor", list(options), list(linear))
        return int(initial), int(maintenance)
