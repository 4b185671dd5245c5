"""The report of a round: the per-field lower median of the included signed observations.

For m observations of a market, each field's value is sorted(values)[(m - 1) // 2]: an exact integer
that every node recomputes bit for bit (no averaging, no rounding). The lower median keeps the
contract's consistency rules whenever every observation does: order statistics preserve pointwise
order, so MM_i <= IM_i for all i gives median(MM) <= median(IM) (likewise VaR <= ES), and
LT_i + MM_i <= 10000 gives lowmed(LT) <= 10000 - highmed(MM) <= 10000 - lowmed(MM).
With at most f byzantine observations among m >= 2f + 1, every published field lies between two
honest values.

- markets: those present in at least `threshold` included observations, sorted by symbol;
- observedAt: the oldest included observedAt (the report is as stale as its oldest input);
- inputsHash: keccak256 of the included observations' digests, sorted and concatenated;
- modelHash: the one model hash every included observation carries.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils import keccak

from oracle_node.network.errors import AggregationError
from oracle_node.network.observation import SignedObservation
from oracle_node.reports.eip712 import RiskReport
from oracle_node.types import RiskParamsBps


def lower_median(values: Sequence[int]) -> int:
    if not values:
        raise ValueError("lower median of no values")
    return sorted(values)[(len(values) - 1) // 2]


def median_params(sets: Sequence[RiskParamsBps]) -> RiskParamsBps:
    columns = zip(*(p.as_tuple() for p in sets), strict=True)
    return RiskParamsBps(*(lower_median(list(col)) for col in columns))


def inputs_hash(observations: Sequence[SignedObservation]) -> bytes:
    return keccak(b"".join(sorted(o.digest for o in observations)))


def _check_inputs(observations: Sequence[SignedObservation], round_: int, threshold: int) -> None:
    if len(observations) < threshold:
        raise AggregationError(round_, "too_few", f"{len(observations)} observations, threshold {threshold}")
    if rounds := sorted({o.round for o in observations} - {round_}):
        raise AggregationError(round_, "wrong_round", f"observations for rounds {rounds}")
    signers = [o.signer.lower() for o in observations]
    if len(set(signers)) != len(signers):
        raise AggregationError(round_, "duplicate_signer", f"signers {signers}")
    if len({o.model_hash for o in observations}) != 1:
        hashes = sorted("0x" + h.hex() for h in {o.model_hash for o in observations})
        raise AggregationError(round_, "mixed_models", f"model hashes {hashes}")


def aggregate(
    observations: Sequence[SignedObservation],
    *,
    round_: int,
    threshold: int,
    epoch: int,
    deadline: int,
    exclude: frozenset[str] = frozenset(),
) -> RiskReport:
    """The report for `round_` from verified observations (AggregationError when they cannot form one).

    Markets in `exclude` (paused or unlisted on the chain now) are left out, whoever observed them.
    """
    _check_inputs(observations, round_, threshold)
    per_market: dict[str, list[RiskParamsBps]] = {}
    for obs in observations:
        for market, params in obs.risk_params().items():
            if market not in exclude:
                per_market.setdefault(market, []).append(params)
    updates = {m: median_params(per_market[m]) for m in sorted(per_market) if len(per_market[m]) >= threshold}
    if not updates:
        counts = {m: len(v) for m, v in sorted(per_market.items())}
        raise AggregationError(round_, "no_market_quorum", f"observations per market {counts}")
    return RiskReport.build(
        epoch=epoch,
        round=round_,
        observed_at=min(o.observed_at for o in observations),
        deadline=deadline,
        model_hash=observations[0].model_hash,
        inputs_hash=inputs_hash(observations),
        updates=updates,
    )
