"""This node's own observations: one per round, from the pipeline's provider, signed at most once.

The provider is called at most once at a time per round (concurrent readers share one task). The
observation's digest is committed in the store (purpose "observation") before the signature is made,
and the signature is stored before anyone sees it; after a restart the same observation gets the same
bytes back, a different one (a non-deterministic provider) is refused with EquivocationError and the
node abstains from that round.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from oracle_node.errors import OracleNodeError
from oracle_node.logs import get_logger
from oracle_node.network.errors import NothingDue, ObservationUnavailable
from oracle_node.network.observation import (
    Domain,
    LocalObservation,
    SignedObservation,
    prepare_observation,
    with_signature,
)
from oracle_node.network.schedule import RoundClock
from oracle_node.network.settings import NetworkSettings
from oracle_node.network.signing import OperatorSigner, sign65
from oracle_node.store import BoundInputs, EquivocationError, NodeStore

log = get_logger(__name__)
ObservationProvider = Callable[[int, int], Awaitable[LocalObservation]]
OBSERVATION = "observation"
KEEP_ROUNDS = 64


class ObservationBook:
    def __init__(
        self,
        provider: ObservationProvider,
        domain: Domain,
        signer: OperatorSigner,
        store: NodeStore,
        clock: RoundClock,
        settings: NetworkSettings,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.provider, self.domain, self.signer, self.store = provider, domain, signer, store
        self.clock, self.settings, self.now = clock, settings, now
        self.first_round = 0
        self._tasks: dict[int, asyncio.Task[SignedObservation]] = {}

    def ensure(self, round_: int) -> asyncio.Task[SignedObservation]:
        task = self._tasks.get(round_)
        if task is None or (task.done() and _retryable(task)):
            task = asyncio.create_task(self._observe(round_), name=f"observe-{round_}")
            self._tasks[round_] = task
            for old in [r for r in self._tasks if r < round_ - KEEP_ROUNDS]:
                self._tasks.pop(old).cancel()
        return task

    async def get(self, round_: int, timeout_s: float) -> SignedObservation:
        """This node's observation of `round_`, observing now if needed; ObservationUnavailable otherwise."""
        now, slot = self.now(), self.clock.slot_time(round_)
        if slot > now + self.settings.max_skew_s:
            raise ObservationUnavailable(round_, f"slot starts at {slot:.0f}, now {now:.0f}")
        if round_ < self.first_round:
            raise ObservationUnavailable(round_, f"before this node's first round {self.first_round}")
        if round_ not in self._tasks and now - slot > self.settings.deadline_s:
            raise ObservationUnavailable(round_, "round is past its deadline")
        try:
            return await asyncio.wait_for(asyncio.shield(self.ensure(round_)), timeout_s)
        except TimeoutError:
            raise ObservationUnavailable(round_, f"still observing after {timeout_s}s") from None

    async def _observe(self, round_: int) -> SignedObservation:
        slot = math.floor(self.clock.slot_time(round_))
        try:
            local = await asyncio.wait_for(self.provider(round_, slot), self.settings.observe_timeout_s)
        except TimeoutError:
            raise ObservationUnavailable(round_, "provider timed out") from None
        except NothingDue as exc:
            log.info("observation_nothing_due", round=round_)
            raise ObservationUnavailable(round_, str(exc), nothing_due=True) from None
        except OracleNodeError as exc:
            log.warning("observation_failed", round=round_, error=str(exc))
            raise ObservationUnavailable(round_, f"provider failed: {exc}") from None
        if local.round != round_:
            raise ObservationUnavailable(round_, f"provider answered round {local.round}")
        return self._sign(prepare_observation(local, self.domain, self.signer.address), local.bound)

    def _sign(self, prepared: SignedObservation, bound: BoundInputs | None = None) -> SignedObservation:
        try:
            signature = self.store.sign_once(
                prepared.round,
                prepared.digest,
                self.signer.address,
                lambda d: sign65(self.signer, d),
                OBSERVATION,
                bound,
            )
        except EquivocationError as exc:
            log.error("observation_equivocation_refused", round=prepared.round, existing=exc.existing)
            raise ObservationUnavailable(prepared.round, "already signed a different observation") from None
        log.info("observation_signed", round=prepared.round, digest="0x" + prepared.digest.hex())
        return with_signature(prepared, signature)

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()


def _retryable(task: asyncio.Task[SignedObservation]) -> bool:
    """A failed observation may be tried again within its round; "nothing due" is final for the round."""
    if task.cancelled():
        return True
    exc = task.exception()
    return exc is not None and not (isinstance(exc, ObservationUnavailable) and exc.nothing_due)
