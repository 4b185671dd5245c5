"""Live state of an Aave V2-style lending pool, read with raw JSON-RPC `eth_call` (issue 13, live inputs).

No web3 here (only `oracle_node/chain` imports it): calls are encoded and decoded with eth_abi and sent
in JSON-RPC batches (`sources/jsonrpc.py`). Every read is pinned to one block (head - confirmations),
so reserves and accounts are one consistent state; a full (non-archive) node serves it as long as the
block is within its state window (Geth: the last 128 blocks).

What one `snapshot()` reads (R reserves, U borrowers, C watched collateral reserves; docs/cascade.md):

- `eth_blockNumber`; once: `LendingPool.getAddressesProvider()` -> `getPriceOracle()` (unless the
  oracle is configured);
- `LendingPool.getReservesList()`, then per reserve `getReserveData(asset)` (configuration bitmap:
  liquidation threshold bits 16-31, decimals bits 48-55; aToken and debt-token addresses);
- per reserve `totalSupply()` of its aToken (supplied), stable and variable debt tokens (borrowed),
  `PriceOracle.getAssetPrice(asset)` (base units per whole token: wei on Aave V2 mainnet) and, once per
  asset, the underlying's `symbol()` (string, or bytes32 for tokens such as MKR);
- per borrower `getUserAccountData(user)` (collateral, debt, weighted LT, healthFactor), and for the C
  watched collaterals `getUserConfiguration(user)` and the collateral's `aToken.balanceOf(user)`;
- borrowers: the configured list plus, when discovery is on, every `onBehalfOf` of the pool's `Borrow`
  logs in the last `lookback_blocks` (scanned once, then incrementally; `eth_getLogs` in chunks of at
  most `max_range` blocks), the most recently seen `max_borrowers` kept.

USD: the base currency is converted with the oracle's price of `usd_reference` (a $1 stablecoin
reserve, USDC by default: USD per base unit = 1 / its price), as the research data valued WETH
(1e18 / USDT's price); with `usd_reference=None` the base currency is USD itself (`base_unit` per USD).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from oracle_node.errors import ConfigError, SourceError
from oracle_node.sources.base import as_list, as_mapping, field_of
from oracle_node.sources.jsonrpc import JsonRpc, RpcCall, hex_int

BORROW_EVENT = "Borrow(address,address,address,uint256,uint256,uint256,uint16)"
BORROW_TOPIC = "0x" + keccak(text=BORROW_EVENT).hex()
RESERVE_DATA = (
    "(uint256,uint128,uint128,uint128,uint128,uint128,uint40,address,address,address,address,uint8)"
)
ACCOUNT_DATA = "(uint256,uint256,uint256,uint256,uint256,uint256)"
WAD = 10**18


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def calldata(signature: str, *args: Any) -> str:
    """The call's data: 4-byte selector then the ABI-encoded arguments of `signature`."""
    types = signature[signature.index("(") + 1 : -1]
    encoded = abi_encode([t for t in types.split(",") if t], list(args)) if args else b""
    return selector(signature) + encoded.hex()


@dataclass(frozen=True, slots=True)
class ReserveState:
    """One reserve at the snapshot's block; token amounts raw (divide by 10**decimals)."""

    asset: str
    symbol: str
    reserve_id: int
    decimals: int
    liquidation_threshold_bp: int
    atoken: str
    supplied: int
    stable_debt: int
    variable_debt: int
    price: int  # base units per whole token

    def value(self, raw: int) -> float:
        """Base-currency value (base units) of `raw` token units."""
        return raw * self.price / 10**self.decimals


@dataclass(frozen=True, slots=True)
class AccountState:
    """One borrower: base-currency totals, weighted LT (bp), health factor (wad) and its raw balances of
    the watched collateral reserves it uses as collateral (others: absent)."""

    user: str
    collateral_base: int
    debt_base: int
    liquidation_threshold_bp: int
    health_factor: int
    collateral_raw: dict[str, int] = field(default_factory=dict)  # asset -> raw aToken balance


@dataclass(frozen=True)
class PoolSnapshot:
    pool: str
    block: int
    read_at: float
    base_unit: int
    usd_per_base: float  # USD per base unit
    reserves: tuple[ReserveState, ...]
    accounts: tuple[AccountState, ...]
    requests: int  # HTTP requests this read took

    def reserve(self, symbol: str) -> ReserveState | None:
        return next((r for r in self.reserves if r.symbol.upper() == symbol.upper()), None)

    def usd(self, base: float) -> float:
        return base * self.usd_per_base


def decode(source: str, call: RpcCall, types: Sequence[str], result: object) -> tuple[Any, ...]:
    """An eth_call result, or SourceError('malformed') naming the call and the value."""
    if not isinstance(result, str) or not result.startswith("0x"):
        raise SourceError(source, "malformed", f"{call.where()}: result {result!r} is not hex data")
    try:
        return tuple(abi_decode(list(types), bytes.fromhex(result[2:])))
    except (DecodingError, ValueError) as exc:
        raise SourceError(source, "malformed", f"{call.where()}: result {result[:42]!r}: {exc}") from None


def decode_symbol(source: str, call: RpcCall, result: object) -> str:
    """ERC-20 symbol(): a string, or a bytes32 for old tokens (MKR)."""
    try:
        (text,) = decode(source, call, ["string"], result)
        return str(text)
    except SourceError:
        (raw,) = decode(source, call, ["bytes32"], result)
        return bytes(raw).rstrip(b"\0").decode("ascii", "replace")


def reserve_config(configuration: int) -> tuple[int, int]:
    """(liquidation threshold bp, decimals) from an Aave V2 reserve configuration bitmap."""
    return (configuration >> 16) & 0xFFFF, (configuration >> 48) & 0xFF


class AavePoolReader:
    """Snapshots of one pool: reserves, and accounts of the configured and discovered borrowers."""

    def __init__(
        self,
        rpc_url: str,
        pool: str,
        *,
        name: str = "aave_pool",
        price_oracle: str | None = None,
        base_unit: int = WAD,
        usd_reference: str | None = "USDC",
        borrowers: Sequence[str] = (),
        discover: bool = True,
        lookback_blocks: int = 50_000,
        max_borrowers: int = 500,
        max_range: int = 2_000,
        confirmations: int = 2,
        batch_size: int = 100,
        timeout: float = 10.0,
    ) -> None:
        if (
            min(max_range, batch_size, base_unit) < 1
            or min(confirmations, lookback_blocks, max_borrowers) < 0
        ):
            raise ConfigError(f"{name}: max_range, batch_size, base_unit >= 1 and the counts >= 0 required")
        self.name, self.pool = name, to_checksum_address(pool)
        self.rpc = JsonRpc(name, rpc_url, timeout, batch_size)
        self.oracle = to_checksum_address(price_oracle) if price_oracle else None
        self.base_unit, self.usd_reference = base_unit, usd_reference
        self.configured = tuple(to_checksum_address(b) for b in borrowers)
        self.discover, self.lookback_blocks, self.max_borrowers = discover, lookback_blocks, max_borrowers
        self.max_range, self.confirmations = max_range, confirmations
        self.scanned_to: int | None = None  # last block scanned for Borrow logs
        self.discovered: dict[str, int] = {}  # borrower -> last block seen borrowing
        self._symbols: dict[str, str] = {}

    async def snapshot(self, collaterals: Sequence[str], now: float) -> PoolSnapshot:
        """The pool at head - confirmations; `collaterals` (symbols) get per-borrower balances."""
        first = self.rpc.requests
        head = hex_int(self.name, await self.rpc.call("eth_blockNumber", []), "eth_blockNumber")
        block = head - self.confirmations
        tag = hex(block)
        oracle = self.oracle or await self._price_oracle(tag)
        reserves = await self._reserves(tag, oracle)
        if self.discover:
            await self._scan_borrowers(block)
        watched = [r for s in collaterals if (r := _by_symbol(reserves, s)) is not None]
        accounts = await self._accounts(self.borrowers(), watched, tag)
        return PoolSnapshot(self.pool, block, now, self.base_unit, self._usd_per_base(reserves), tuple(reserves),
                            tuple(accounts), self.rpc.requests - first)  # fmt: skip

    def borrowers(self) -> list[str]:
        recent = sorted(self.discovered, key=lambda u: (-self.discovered[u], u))[: self.max_borrowers]
        return list(dict.fromkeys([*self.configured, *recent]))

    def _eth_call(self, to: str, signature: str, *args: Any, tag: str, label: str) -> RpcCall:
        return RpcCall("eth_call", ({"to": to, "data": calldata(signature, *args)}, tag), label)

    async def _one(self, call: RpcCall, types: list[str]) -> tuple[Any, ...]:
        return decode(self.name, call, types, await self.rpc.call(call.method, call.params, call.label))

    async def _price_oracle(self, tag: str) -> str:
        call = self._eth_call(self.pool, "getAddressesProvider()", tag=tag, label="getAddressesProvider()")
        (provider,) = await self._one(call, ["address"])
        (oracle,) = await self._one(
            self._eth_call(provider, "getPriceOracle()", tag=tag, label="getPriceOracle()"), ["address"]
        )
        self.oracle = to_checksum_address(oracle)
        return self.oracle

    async def _reserves(self, tag: str, oracle: str) -> list[ReserveState]:
        """getReservesList, then getReserveData per reserve, then one batch of totals, prices, symbols."""
        (listed,) = await self._one(
            self._eth_call(self.pool, "getReservesList()", tag=tag, label="getReservesList()"), ["address[]"]
        )
        assets = [to_checksum_address(a) for a in listed]
        data_calls = [self._eth_call(self.pool, "getReserveData(address)", a, tag=tag, label=f"getReserveData({a})")
                      for a in assets]  # fmt: skip
        answers = await self.rpc.batch(data_calls)
        datas = [decode(self.name, c, [RESERVE_DATA], r)[0] for c, r in zip(data_calls, answers, strict=True)]
        calls: list[RpcCall] = []
        for a, d in zip(assets, datas, strict=True):
            tokens = ((d[7], "aToken"), (d[8], "stableDebtToken"), (d[9], "variableDebtToken"))
            calls += [
                self._eth_call(t, "totalSupply()", tag=tag, label=f"totalSupply() of {a}'s {k}")
                for t, k in tokens
            ]
            calls.append(
                self._eth_call(oracle, "getAssetPrice(address)", a, tag=tag, label=f"getAssetPrice({a})")
            )
        unnamed = [a for a in assets if a not in self._symbols]
        calls += [self._eth_call(a, "symbol()", tag=tag, label=f"symbol() of {a}") for a in unnamed]
        results, n = await self.rpc.batch(calls), 4 * len(assets)
        ints = [decode(self.name, c, ["uint256"], r)[0] for c, r in zip(calls[:n], results[:n], strict=True)]
        for a, c, r in zip(unnamed, calls[n:], results[n:], strict=True):
            self._symbols[a] = decode_symbol(self.name, c, r)
        return [  # reserve_config gives (LT, decimals); ReserveState takes decimals first
            ReserveState(a, self._symbols[a], int(d[11]), *reversed(reserve_config(d[0])), to_checksum_address(d[7]),
                         *ints[4 * i : 4 * i + 4])
            for i, (a, d) in enumerate(zip(assets, datas, strict=True))
        ]  # fmt: skip

    async def _accounts(self, users: list[str], watched: list[ReserveState], tag: str) -> list[AccountState]:
        per_user = 1 + (1 + len(watched) if watched else 0)
        calls: list[RpcCall] = []
        for u in users:
            calls.append(
                self._eth_call(
                    self.pool, "getUserAccountData(address)", u, tag=tag, label=f"getUserAccountData({u})"
                )
            )
            if watched:
                calls.append(self._eth_call(self.pool, "getUserConfiguration(address)", u, tag=tag,
                                            label=f"getUserConfiguration({u})"))  # fmt: skip
                calls += [self._eth_call(r.atoken, "balanceOf(address)", u, tag=tag, label=f"balanceOf({u}) of {r.symbol}'s aToken")
                          for r in watched]  # fmt: skip
        results = await self.rpc.batch(calls)
        out = []
        for k, u in enumerate(users):
            c, r = calls[k * per_user : (k + 1) * per_user], results[k * per_user : (k + 1) * per_user]
            coll, debt, _, lt, _, hf = decode(self.name, c[0], [ACCOUNT_DATA], r[0])[0]
            held: dict[str, int] = {}
            if watched:
                ((bitmap,),) = decode(self.name, c[1], ["(uint256)"], r[1])
                for res, call, raw in zip(watched, c[2:], r[2:], strict=True):
                    if bitmap >> (2 * res.reserve_id + 1) & 1:  # bit 2i + 1: reserve i used as collateral
                        held[res.asset] = decode(self.name, call, ["uint256"], raw)[0]
            out.append(AccountState(u, coll, debt, lt, hf, held))
        return out

    async def _scan_borrowers(self, block: int) -> None:
        """Borrow logs in (scanned_to, block]; a failed chunk leaves scanned_to at the last full one."""
        if self.scanned_to is None:
            self.scanned_to = max(block - self.lookback_blocks, -1)
        while self.scanned_to < block:
            lo, hi = self.scanned_to + 1, min(self.scanned_to + self.max_range, block)
            query = {"address": self.pool, "topics": [BORROW_TOPIC], "fromBlock": hex(lo), "toBlock": hex(hi)}
            logs = as_list(
                self.name, await self.rpc.call("eth_getLogs", [query], "Borrow logs"), "eth_getLogs result"
            )
            for raw in logs:
                entry = as_mapping(self.name, raw, "log")
                if entry.get("removed"):
                    continue
                topics = as_list(
                    self.name, field_of(self.name, entry, "topics", "Borrow log"), "Borrow log topics"
                )
                if len(topics) != 4 or not isinstance(topics[2], str) or len(topics[2]) != 66:
                    raise SourceError(
                        self.name, "malformed", f"Borrow log topics {topics!r}: onBehalfOf is not topic 2"
                    )
                user = to_checksum_address("0x" + topics[2][-40:])
                seen = hex_int(
                    self.name, field_of(self.name, entry, "blockNumber", "Borrow log"), "blockNumber"
                )
                self.discovered[user] = max(seen, self.discovered.get(user, 0))
            self.scanned_to = hi

    def _usd_per_base(self, reserves: list[ReserveState]) -> float:
        if self.usd_reference is None:
            return 1.0 / self.base_unit
        ref = _by_symbol(reserves, self.usd_reference)
        if ref is None or ref.price <= 0:
            got = "not listed" if ref is None else f"price {ref.price}"
            raise SourceError(
                self.name, "malformed", f"usd_reference {self.usd_reference}: {got} in pool {self.pool}"
            )
        return 1.0 / ref.price

    async def close(self) -> None:
        await self.rpc.close()


def _by_symbol(reserves: Sequence[ReserveState], symbol: str) -> ReserveState | None:
    return next((r for r in reserves if r.symbol.upper() == symbol.upper()), None)
