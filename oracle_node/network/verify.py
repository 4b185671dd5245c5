"""What a follower checks before it co-signs (each failure is a CosignRefused with a stable reason).

1. round: request and report name the same round; the report's epoch is the chain's;
2. leader: the sender is the signer leading `attempt` of the round, the attempt has started
   (minus `max_skew_s`) and is below `max_attempts`;
3. time: the report's deadline is the network's (ceil(slot time) + deadline_s) and has not passed;
4. observations: at least k, each for this round, by distinct signers of the on-chain set, with
   observedAt within slot time +- max_skew_s (signatures were verified when the request was parsed);
5. median: the follower recomputes the report from the included observations (same model hash,
   lower median per field) and it must equal the proposal exactly;
6. tolerance: every market of the report is in the follower's own observation for the round and
   every field lies within the tolerance band around its own value (a leader that includes only
   byzantine observations gets no honest co-signature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from oracle_node.network.errors import AggregationError, CosignRefused
from oracle_node.network.median import aggregate
from oracle_node.network.observation import SignedObservation
from oracle_node.network.schedule import RoundClock, leader_index
from oracle_node.network.settings import NetworkSettings
from oracle_node.network.wire import CosignRequest
from oracle_node.reports.eip712 import RiskReport


@dataclass(frozen=True, slots=True)
class SignerView:
    """The on-chain signer set as the network uses it (addresses checksummed, index = position)."""

    signers: tuple[str, ...]
    threshold: int
    epoch: int
    # Markets a report must not name now (paused, or not listed): left out of every median.
    unusable: frozenset[str] = frozenset()

    def index_of(self, address: str) -> int | None:
        lowered = [s.lower() for s in self.signers]
        return lowered.index(address.lower()) if address.lower() in lowered else None


def report_deadline(clock: RoundClock, round_: int, deadline_s: int) -> int:
    return math.ceil(clock.slot_time(round_)) + deadline_s


def check_turn(
    round_: int,
    report_round: int,
    attempt: int,
    sender: str,
    signers: SignerView,
    now: float,
    clock: RoundClock,
    settings: NetworkSettings,
) -> None:
    """The request's round is the report's, `sender` leads `attempt` of it, and the attempt has begun
    (CosignRefused otherwise): what every co-signing, of any report kind, checks first."""
    if report_round != round_:
        raise CosignRefused("round_mismatch", f"request round {round_}, report round {report_round}")
    leader = leader_index(round_, attempt, len(signers.signers))
    if attempt >= settings.max_attempts or signers.index_of(sender) != leader:
        detail = f"sender {sender} is not the leader (index {leader}) of round {round_} attempt {attempt}"
        raise CosignRefused("not_leader", detail, status=403)
    if now < clock.attempt_start(round_, attempt) - settings.max_skew_s:
        raise CosignRefused("too_early", f"attempt {attempt} of round {round_} has not started")


def observation_on_time(obs: SignedObservation, clock: RoundClock, max_skew_s: float) -> bool:
    return abs(obs.observed_at - clock.slot_time(obs.round)) <= max_skew_s + 1  # +1: whole seconds


@dataclass(frozen=True)
class CosignVerifier:
    settings: NetworkSettings
    clock: RoundClock

    def check(
        self, req: CosignRequest, sender: str, signers: SignerView, own: SignedObservation, now: float
    ) -> RiskReport:
        """The report to co-sign, or CosignRefused naming the first failed check."""
        self._check_header(req, sender, signers, now)
        self._check_observations(req, signers)
        self._check_median(req, signers)
        self._check_tolerance(req.report, own)
        return req.report

    def _check_header(self, req: CosignRequest, sender: str, signers: SignerView, now: float) -> None:
        report = req.report
        if report.epoch != signers.epoch:
            raise CosignRefused("wrong_epoch", f"report epoch {report.epoch}, chain epoch {signers.epoch}")
        check_turn(req.round, report.round, req.attempt, sender, signers, now, self.clock, self.settings)
        if report.deadline != (expected := report_deadline(self.clock, req.round, self.settings.deadline_s)):
            raise CosignRefused("bad_deadline", f"deadline {report.deadline}, network deadline {expected}")
        if now >= report.deadline:
            raise CosignRefused("expired", f"deadline {report.deadline} has passed (now {now:.0f})")

    def _check_observations(self, req: CosignRequest, signers: SignerView) -> None:
        seen: set[str] = set()
        for i, obs in enumerate(req.observations):
            where = f"observations[{i}] by {obs.signer}"
            if obs.round != req.round:
                raise CosignRefused("observation_wrong_round", f"{where} is for round {obs.round}")
            if signers.index_of(obs.signer) is None:
                raise CosignRefused("observation_unknown_signer", f"{where}: not in the signer set")
            if obs.signer.lower() in seen:
                raise CosignRefused("observation_duplicate_signer", f"{where}: signer included twice")
            seen.add(obs.signer.lower())
            if not observation_on_time(obs, self.clock, self.settings.max_skew_s):
                raise CosignRefused("observation_time", f"{where}: observedAt {obs.observed_at} off slot")
        if len(req.observations) < signers.threshold:
            n = len(req.observations)
            raise CosignRefused("too_few_observations", f"{n} observations, threshold {signers.threshold}")

    def _check_median(self, req: CosignRequest, signers: SignerView) -> None:
        try:
            expected = aggregate(
                req.observations, round_=req.round, threshold=signers.threshold, epoch=signers.epoch,
                deadline=req.report.deadline, exclude=signers.unusable,
            )  # fmt: skip
        except AggregationError as exc:
            raise CosignRefused(f"aggregation_{exc.reason}", exc.detail) from None
        if expected != req.report:
            raise CosignRefused("not_median", _difference(expected, req.report))

    def _check_tolerance(self, report: RiskReport, own: SignedObservation) -> None:
        mine = own.risk_params()
        for market, params in report.risk_params().items():
            if market not in mine:
                raise CosignRefused(
                    "market_not_observed", f"{market}: no own observation for round {own.round}"
                )
            if bad := self.settings.tolerance.violations(params, mine[market]):
                raise CosignRefused("out_of_tolerance", f"{market}: " + "; ".join(bad))


def _difference(expected: RiskReport, got: RiskReport) -> str:
    fields = ("observed_at", "model_hash", "inputs_hash", "markets", "params")
    diffs = [f"{f} expected {getattr(expected, f)!r} got {getattr(got, f)!r}" for f in fields
             if getattr(expected, f) != getattr(got, f)]  # fmt: skip
    return "; ".join(diffs)[:400] or "reports differ"
