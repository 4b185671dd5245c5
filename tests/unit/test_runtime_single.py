"""The one runtime with a single operator (k = 1, no peers) against a fake chain (the OracleChain
Protocol): observe -> report -> sign -> send, the quiet round, and rounds that never overlap."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.chain.tx import TxJournal, TxOutcome
from oracle_node.network.errors import NothingDue
from oracle_node.network.node import NetworkNode
from oracle_node.network.observation import Domain, LocalObservation
from oracle_node.network.settings import NetworkSettings
from oracle_node.network.signing import LocalKeySigner
from oracle_node.network.verify import SignerView
from oracle_node.reports.eip712 import RiskReport, Signature, report_digest
from oracle_node.service.observer import PipelineObserver, ReplaySchedule, RoundOverlap
from oracle_node.store import NodeStore, ReportStatus
from oracle_node.types import RiskParamsBps

DOMAIN = Domain(31337, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")
SIGNER = LocalKeySigner(ANVIL_KEYS[1])
PARAMS = RiskParamsBps(5000, 500, 650, 1000, 500, 8000, 3000, 9000)
PERIOD = 0.2


@dataclass
class FakeChain:
    """The chain as the runtime sees it: one signer, k = 1; submissions are recorded."""

    stored: int = 0
    submitted: list[tuple[RiskReport, list[Signature]]] = field(default_factory=list)

    def signer_view(self) -> SignerView:
        return SignerView((SIGNER.address,), 1, 1)

    def stored_round(self, markets: Sequence[str]) -> int:
        return self.stored

    def submit(
        self, report: RiskReport, signatures: Sequence[Signature], journal: TxJournal | None
    ) -> TxOutcome:
        self.submitted.append((report, list(signatures)))
        self.stored = report.round
        return TxOutcome("included", 60_000, tx_hash="0x" + "ab" * 32, block_number=1, gas_used=60_000)


def _node(tmp_path: Path, chain: FakeChain, provider) -> NetworkNode:  # type: ignore[no-untyped-def]
    settings = NetworkSettings(
        genesis=time.time() - 10 * PERIOD, period_s=PERIOD, leader_timeout_s=PERIOD * 0.9,
        max_attempts=1, deadline_s=60, observe_timeout_s=1.0, max_skew_s=5.0,
    )  # fmt: skip
    return NetworkNode(
        settings=settings, domain=DOMAIN, signer=SIGNER, store=NodeStore.open(tmp_path / "s.sqlite"),
        chain=chain, provider=provider, markets=("BTC-USD",),
    )  # fmt: skip


def test_single_operator__one_round__own_signed_report_submitted(tmp_path: Path) -> None:
    chain = FakeChain(stored=4)

    async def provide(round_: int, slot: int) -> LocalObservation:
        return LocalObservation(round_, slot, b"\x11" * 32, b"\x22" * 32, {"BTC-USD": PARAMS})

    node = _node(tmp_path, chain, provide)

    async def one() -> int:
        await node.start(join_current=True)
        first = node.book.first_round
        await node.run_round(first)
        await node.stop()
        return first

    first = asyncio.run(one())
    assert first == 10, "joins the slot running now (chain round 4 is lower)"
    assert len(chain.submitted) == 1
    report, sigs = chain.submitted[0]
    assert (report.round, report.markets, report.risk_params()["BTC-USD"]) == (10, ("BTC-USD",), PARAMS)
    assert [s.signer for s in sigs] == [0]
    digest = report_digest(report, DOMAIN.chain_id, DOMAIN.oracle)
    assert [r.round for r in node.store.reports_with_status(ReportStatus.INCLUDED)] == [10]
    assert node.store.signature(10, SIGNER.address).digest == "0x" + digest.hex()


def test_single_operator__nothing_due__no_report_and_no_retry(tmp_path: Path) -> None:
    chain, calls = FakeChain(), []

    async def provide(round_: int, slot: int) -> LocalObservation:
        calls.append(round_)
        raise NothingDue("no market is due")

    node = _node(tmp_path, chain, provide)
    outcomes = []
    node.on_outcome = outcomes.append

    async def one() -> None:
        await node.start(join_current=True)
        await node.run_round(node.book.first_round)
        await node.stop()

    asyncio.run(one())
    assert chain.submitted == []
    assert [o.status for o in outcomes] == ["nothing_due"]
    assert len(calls) == 1


class _SlowPipeline:
    """A pipeline whose first step blocks until released: stands for a round that overruns."""

    def __init__(self) -> None:
        self.release, self.entered, self.steps = threading.Event(), threading.Event(), 0

    def step(self, now: float, ticks: list) -> list:  # type: ignore[type-arg]
        self.steps += 1
        if self.steps == 1:
            self.entered.set()
            self.release.wait(5)
        return []

    def settle(self, *args: object, **kwargs: object) -> None:
        pass


class _Bounds:
    view = type("V", (), {"latest": type("S", (), {"markets": {}})()})()

    def refresh(self) -> None:
        pass


def test_observer__round_starts_while_previous_computes__skipped_never_overlaps() -> None:
    pipeline = _SlowPipeline()
    observer = PipelineObserver(
        "n", pipeline, {}, ReplaySchedule(1, 0.0, 1e12, 3600.0), _Bounds(), b"\x00" * 32
    )  # type: ignore[arg-type]

    def round_one() -> None:
        with pytest.raises(NothingDue):
            observer.observe(1, 0)

    slow = threading.Thread(target=round_one, daemon=True)
    slow.start()
    assert pipeline.entered.wait(5)
    with pytest.raises(RoundOverlap):
        observer.observe(2, 0)  # round 1 still computes: round 2 is skipped, not queued
    assert pipeline.steps == 1, "the skipped round never ran the pipeline"
    pipeline.release.set()
    slow.join(5)
    with pytest.raises(NothingDue):
        observer.observe(3, 0)  # the next round runs once the slow one is done
    assert pipeline.steps == 2
