"""NetworkNode: one operator's seat in the oracle network (observe, serve, co-sign, lead, submit).

node = NetworkNode(settings=..., domain=Domain(chain_id, oracle), signer=..., store=..., chain=...,
                   provider=pipeline.observe)
await node.start()          # serve peers, read the chain's signer set and stored rounds
await node.run()            # one task per round slot until stop()
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

from oracle_node.errors import OracleNodeError
from oracle_node.logs import get_logger
from oracle_node.network.auth import PeerAuthenticator
from oracle_node.network.chain_view import OracleChain
from oracle_node.network.client import PeerClient
from oracle_node.network.errors import CosignRefused
from oracle_node.network.leader import Leader, LeadOutcome
from oracle_node.network.observation import Domain, SignedObservation
from oracle_node.network.observer import ObservationBook, ObservationProvider
from oracle_node.network.schedule import RoundClock, my_attempts
from oracle_node.network.server import PeerServer
from oracle_node.network.settings import NetworkSettings
from oracle_node.network.signing import OperatorSigner, sign65
from oracle_node.network.surface_round import SurfaceCosignRequest, SurfaceRounds
from oracle_node.network.verify import CosignVerifier, SignerView
from oracle_node.network.wire import CosignRequest
from oracle_node.reports.eip712 import report_digest
from oracle_node.store import EquivocationError, NodeStore

log = get_logger(__name__)
DONE = ("included", "landed_elsewhere", "nothing_due")  # outcomes after which a round needs no more attempts


class NetworkNode:
    def __init__(
        self,
        *,
        settings: NetworkSettings,
        domain: Domain,
        signer: OperatorSigner,
        store: NodeStore,
        chain: OracleChain,
        provider: ObservationProvider,
        now: Callable[[], float] = time.time,
        markets: tuple[str, ...] = (),
        on_outcome: Callable[[LeadOutcome], None] | None = None,
        surfaces: SurfaceRounds | None = None,
    ) -> None:
        self.settings, self.domain, self.signer, self.store, self.chain = (
            settings,
            domain,
            signer,
            store,
            chain,
        )
        self.now, self.on_outcome, self.surfaces = now, on_outcome, surfaces
        self.clock = RoundClock(settings.genesis, settings.period_s, settings.leader_timeout_s)
        peers = [p for p in settings.peers if p.address.lower() != signer.address.lower()]
        self.peers = peers
        self.auth = PeerAuthenticator(
            domain, signer, [p.address for p in peers], settings.auth_max_age_s, now
        )
        self.book = ObservationBook(provider, domain, signer, store, self.clock, settings, now)
        self.verifier = CosignVerifier(settings, self.clock)
        self.server = PeerServer(self, self.auth, settings.listen_host, settings.listen_port)
        self.view: SignerView | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._markets = tuple(markets)  # published markets, until our own observations name them

    async def start(self, *, join_current: bool = False) -> int:
        """Read the chain, pick the first round, serve peers; returns the bound port (0: no peers).

        The first round is the next slot (or, with `join_current`, the slot running now: a single
        operator has nobody to be late for) and always above every round the chain stores.
        """
        self.view = await asyncio.to_thread(self.chain.signer_view)
        chain_round = await asyncio.to_thread(self.chain.stored_round, self._markets) if self._markets else 0
        current = self.clock.round_at(self.now())
        at_least = max(current if join_current else current + 1, chain_round + 1)
        self.book.first_round = self.store.next_round(at_least=at_least)
        self._session = aiohttp.ClientSession()
        # A single operator (no peers, k = 1) serves nobody: no port is opened.
        port = await self.server.start() if self.peers else 0
        log.info(
            "network_node_started", signer=self.signer.address, first_round=self.book.first_round, port=port
        )
        return port

    async def stop(self) -> None:
        """Stop at once: cancel round work, stop serving (a crash looks the same to peers)."""
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None and self._runner is not asyncio.current_task():
            self._runner.cancel()
        self.book.cancel_all()
        await self.server.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self, last_round: int | None = None) -> None:
        """Start one task per round slot from the first round (until `last_round`, or forever)."""
        self._runner = asyncio.current_task()
        round_ = self.book.first_round
        while last_round is None or round_ <= last_round:
            await self._sleep_until(self.clock.slot_time(round_))
            self._spawn(self._round(round_))
            round_ += 1
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_round(self, round_: int) -> None:
        """One round, awaited (`once`, tests): its slot, then every attempt this node leads."""
        await self._sleep_until(self.clock.slot_time(round_))
        await self._round(round_)

    def _spawn(self, coro: object) -> None:
        task = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sleep_until(self, when: float) -> None:
        delay = when - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _round(self, round_: int) -> None:
        try:
            self.view = await asyncio.to_thread(self.chain.signer_view)
            self.book.ensure(round_)
            index = self.view.index_of(self.signer.address)
            if index is None:
                return
            if self.surfaces is not None:
                self.surfaces.prepare(round_)  # fit while the risk round runs, for peers and for us
            attempts = my_attempts(round_, index, len(self.view.signers), self.settings.max_attempts)
            risk_done = surface_done = False
            for attempt in attempts:
                await self._sleep_until(self.clock.attempt_start(round_, attempt))
                if not risk_done:
                    risk_done = await self._lead_risk(round_, attempt)
                if not surface_done:
                    surface_done = await self._lead_surface(round_, attempt)
                if risk_done and surface_done:
                    return
        except OracleNodeError as exc:
            log.error("round_failed", round=round_, error=str(exc))

    async def _lead_risk(self, round_: int, attempt: int) -> bool:
        """Lead one attempt of the round's risk report; True when nothing is left to do for it."""
        assert self.view is not None
        if await self._landed(round_):
            return True
        outcome = await self._leader().lead(round_, attempt, self.view)
        self._report(outcome)
        return outcome.status in DONE

    async def _lead_surface(self, round_: int, attempt: int) -> bool:
        """Lead one attempt of the round's surface report (when this node publishes surfaces)."""
        if self.surfaces is None:
            return True
        assert self.view is not None and self._session is not None
        client = PeerClient(self._session, self.auth, self.domain, self.settings.request_timeout_s)
        outcome = await self.surfaces.lead(round_, attempt, self.view, client, self.peers)
        self._report(outcome)
        return outcome.status in DONE

    def _report(self, outcome: LeadOutcome) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    async def _landed(self, round_: int) -> bool:
        task = self.book.ensure(round_)
        if task.done() and task.exception() is None:
            self._markets = task.result().markets
        if not self._markets:
            return False
        return await asyncio.to_thread(self.chain.stored_round, self._markets) >= round_

    def _leader(self) -> Leader:
        assert self._session is not None, "start() the node first"
        client = PeerClient(self._session, self.auth, self.domain, self.settings.request_timeout_s)
        return Leader(
            self.settings, self.book, client, self.chain, self.store, self.signer, self.domain, self.peers
        )

    # -- PeerService: what the server asks of us ---------------------------------------------------

    async def cosign_surface(self, request: SurfaceCosignRequest, sender: str) -> tuple[bytes, bytes]:
        if self.surfaces is None:
            raise CosignRefused("no_surfaces", "this node publishes no surfaces", status=404)
        if self.view is None:
            raise CosignRefused("not_ready", "signer set not read yet", status=503)
        return await self.surfaces.cosign(request, sender, self.view)

    async def serve_observation(self, round_: int) -> SignedObservation:
        return await self.book.get(round_, self.settings.request_timeout_s * 0.8)

    async def cosign(self, request: CosignRequest, sender: str) -> tuple[bytes, bytes]:
        """Verify and co-sign, persisting the report and the signature intent before answering."""
        digest = report_digest(request.report, self.domain.chain_id, self.domain.oracle)
        wanted, existing = "0x" + digest.hex(), self.store.signature(request.round, self.signer.address)
        if existing is not None and existing.digest != wanted:
            raise EquivocationError("report", request.round, self.signer.address, existing.digest, wanted)
        if existing is not None and existing.signature is not None:
            return digest, existing.signature  # the same report again: the same bytes
        view = self.view
        if view is None:
            raise CosignRefused("not_ready", "signer set not read yet", status=503)
        own = await self.book.get(request.round, self.settings.observe_timeout_s)
        report = self.verifier.check(request, sender, view, own, self.now())
        self.store.save_report(report.round, digest, request.record())
        signature = self.store.sign_once(
            report.round, digest, self.signer.address, lambda d: sign65(self.signer, d)
        )
        log.info(
            "report_cosigned",
            round=report.round,
            attempt=request.attempt,
            leader=sender,
            digest="0x" + digest.hex(),
        )
        return digest, signature
