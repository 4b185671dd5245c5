"""On-chain liquidation events of an Aave V2/V3 lending pool, read with raw JSON-RPC `eth_getLogs`.

No web3 here (house rule: only `oracle_node/chain` imports it): requests go through `JsonRpc`,
logs are decoded with eth_abi; the block times of a chunk's events come in one batched request. Both Aave V2 and V3 pools emit

    LiquidationCall(address indexed collateralAsset, address indexed debtAsset, address indexed user,
                    uint256 debtToCover, uint256 liquidatedCollateralAmount, address liquidator,
                    bool receiveAToken)

`AaveLiquidationSource.poll_events()` reads blocks (last_block, head - confirmations] in chunks of at
most `max_range` blocks, in order, and advances `last_block` only past chunks that were read in full,
so every block is read exactly once: a failure leaves `last_block` at the last complete chunk (the
events already read are handed out with the next successful poll) and the next poll resumes there.
Persist `last_block` (the store does) and pass it back as `start_block` after a restart. Logs marked
`removed` (a re-org) are ignored; `confirmations` keeps the reader behind the re-org horizon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from oracle_node.errors import ConfigError, SourceError
from oracle_node.sources.base import as_list, as_mapping, field_of
from oracle_node.sources.jsonrpc import JsonRpc, RpcCall, hex_int

LIQUIDATION_CALL = "LiquidationCall(address,address,address,uint256,uint256,address,bool)"
LIQUIDATION_TOPIC = "0x" + keccak(text=LIQUIDATION_CALL).hex()


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    """One LiquidationCall; amounts are raw token units (divide by the reserve's decimals)."""

    block_number: int
    tx_hash: str
    log_index: int
    pool: str
    collateral_asset: str
    debt_asset: str
    user: str
    debt_to_cover: int
    liquidated_collateral: int
    liquidator: str
    receive_atoken: bool
    ts: float | None = None


def _topic_address(source: str, topic: object, name: str) -> str:
    if not isinstance(topic, str) or len(topic) != 66:
        raise SourceError(source, "malformed", f"topic {name} = {topic!r} is not 32 bytes")
    return to_checksum_address("0x" + topic[-40:])


def decode_liquidation_log(source: str, log: Mapping[str, Any]) -> LiquidationEvent:
    """A raw `eth_getLogs` entry to a LiquidationEvent, or SourceError('malformed')."""
    topics = as_list(source, field_of(source, log, "topics", "log"), "log topics")
    if len(topics) != 4 or str(topics[0]).lower() != LIQUIDATION_TOPIC:
        raise SourceError(source, "malformed", f"not a LiquidationCall log: topics {topics!r}")
    data = str(field_of(source, log, "data", "log"))
    try:
        debt, collateral, liquidator, receive = abi_decode(
            ["uint256", "uint256", "address", "bool"], bytes.fromhex(data.removeprefix("0x"))
        )
    except (DecodingError, ValueError) as exc:
        raise SourceError(source, "malformed", f"LiquidationCall data {data[:20]}...: {exc}") from None
    return LiquidationEvent(
        block_number=hex_int(source, field_of(source, log, "blockNumber", "log"), "blockNumber"),
        tx_hash=str(field_of(source, log, "transactionHash", "log")),
        log_index=hex_int(source, field_of(source, log, "logIndex", "log"), "logIndex"),
        pool=to_checksum_address(str(field_of(source, log, "address", "log"))),
        collateral_asset=_topic_address(source, topics[1], "collateralAsset"),
        debt_asset=_topic_address(source, topics[2], "debtAsset"),
        user=_topic_address(source, topics[3], "user"),
        debt_to_cover=int(debt),
        liquidated_collateral=int(collateral),
        liquidator=to_checksum_address(liquidator),
        receive_atoken=bool(receive),
    )


class AaveLiquidationSource:
    """Incremental reader of one pool's LiquidationCall events."""

    def __init__(
        self,
        rpc_url: str,
        pool: str,
        start_block: int,
        *,
        name: str = "aave_liquidations",
        confirmations: int = 2,
        max_range: int = 2_000,
        timeout: float = 10.0,
        with_timestamps: bool = True,
    ) -> None:
        if max_range < 1 or confirmations < 0 or start_block < 0:
            raise ConfigError(f"{name}: max_range >= 1, confirmations >= 0, start_block >= 0 required")
        self.name, self.pool = name, to_checksum_address(pool)
        self.last_block = start_block  # the last block fully read; reading resumes at last_block + 1
        self.confirmations, self.max_range, self.with_timestamps = confirmations, max_range, with_timestamps
        self.rpc = JsonRpc(name, rpc_url, timeout)
        self._pending: list[LiquidationEvent] = []

    async def head(self) -> int:
        return hex_int(self.name, await self.rpc.call("eth_blockNumber", []), "eth_blockNumber")

    async def poll_events(self) -> list[LiquidationEvent]:
        """New events since the last poll, in (block, logIndex) order; each event exactly once."""
        safe_head = await self.head() - self.confirmations
        while self.last_block < safe_head:
            lo, hi = self.last_block + 1, min(self.last_block + self.max_range, safe_head)
            self._pending.extend(await self._read_range(lo, hi))
            self.last_block = hi
        out, self._pending = self._pending, []
        return out

    async def _read_range(self, lo: int, hi: int) -> list[LiquidationEvent]:
        query = {
            "address": self.pool,
            "topics": [LIQUIDATION_TOPIC],
            "fromBlock": hex(lo),
            "toBlock": hex(hi),
        }
        logs = as_list(self.name, await self.rpc.call("eth_getLogs", [query]), "eth_getLogs result")
        live = [as_mapping(self.name, x, "log") for x in logs]
        events = [decode_liquidation_log(self.name, x) for x in live if not x.get("removed")]
        events.sort(key=lambda e: (e.block_number, e.log_index))
        if self.with_timestamps and events:
            stamps = await self._block_times(sorted({e.block_number for e in events}))
            events = [_stamped(e, stamps[e.block_number]) for e in events]
        return events

    async def _block_times(self, blocks: list[int]) -> dict[int, float]:
        """Timestamps of `blocks`, one batched request (JsonRpc splits very long batches)."""
        calls = [RpcCall("eth_getBlockByNumber", (hex(b), False), f"block {b}") for b in blocks]
        out = {}
        for block, result in zip(blocks, await self.rpc.batch(calls), strict=True):
            header = as_mapping(self.name, result, f"block {block}")
            stamp = field_of(self.name, header, "timestamp", f"block {block}")
            out[block] = float(hex_int(self.name, stamp, f"block {block} timestamp"))
        return out

    async def close(self) -> None:
        await self.rpc.close()


def _stamped(event: LiquidationEvent, ts: float) -> LiquidationEvent:
    return replace(event, ts=ts)
