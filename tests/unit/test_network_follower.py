"""Follower verification (every check failing on its own) and no equivocation across restarts."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from oracle_node.network import LocalObservation, NetworkNode
from oracle_node.network.errors import AggregationError, CosignRefused
from oracle_node.network.median import aggregate
from oracle_node.network.verify import CosignVerifier, SignerView, report_deadline
from oracle_node.network.wire import CosignRequest, parse_cosign_request
from oracle_node.reports.eip712 import report_digest
from oracle_node.store import EquivocationError, NodeStore
from tests.unit.test_network_fixtures import CLOCK, DOMAIN, SETTINGS, SIGNERS, VIEW, observe, params

ROUND = 7
NOW = CLOCK.slot_time(ROUND) + 1
VERIFIER = CosignVerifier(SETTINGS, CLOCK)
DEADLINE = report_deadline(CLOCK, ROUND, SETTINGS.deadline_s)


def request(obs: list | None = None, attempt: int = 0, **report_changes: object) -> CosignRequest:  # type: ignore[type-arg]
    """A proposal over `obs`; its report is the honest median of observations 0..2 when `obs` cannot form one."""
    included = tuple(obs if obs is not None else [observe(i, scale=1 + i / 100) for i in range(4)])
    try:
        report = aggregate(included, round_=ROUND, threshold=3, epoch=1, deadline=DEADLINE)
    except AggregationError:
        report = aggregate(
            [observe(i) for i in range(3)], round_=ROUND, threshold=3, epoch=1, deadline=DEADLINE
        )
    return CosignRequest(ROUND, attempt, dataclasses.replace(report, **report_changes), included)


def truncated(req: CosignRequest, keep: int) -> CosignRequest:
    return dataclasses.replace(req, observations=req.observations[:keep])


LEADER = SIGNERS[ROUND % 5].address  # leader of attempt 0: index 7 mod 5 = 2
OWN = observe(4, scale=1.0)


def test_verify__honest_proposal__returns_the_report() -> None:
    req = request()
    assert VERIFIER.check(req, LEADER, VIEW, OWN, NOW) == req.report


@pytest.mark.parametrize(
    ("make", "sender", "view", "now", "reason"),
    [
        (lambda: request(round=8), LEADER, VIEW, NOW, "round_mismatch"),
        (lambda: request(epoch=2), LEADER, VIEW, NOW, "wrong_epoch"),
        (request, SIGNERS[3].address, VIEW, NOW, "not_leader"),
        (lambda: request(attempt=3), SIGNERS[0].address, VIEW, NOW + 20, "not_leader"),  # beyond max_attempts
        (lambda: request(attempt=1), SIGNERS[3].address, VIEW, NOW, "too_early"),
        (lambda: request(deadline=DEADLINE + 1), LEADER, VIEW, NOW, "bad_deadline"),
        (request, LEADER, VIEW, DEADLINE, "expired"),
        (
            lambda: request([observe(0), observe(1), observe(2, round_=8)]),
            LEADER,
            VIEW,
            NOW,
            "observation_wrong_round",
        ),
        (
            lambda: request([observe(0), observe(1), observe(2)]),
            LEADER,
            dataclasses.replace(VIEW, signers=VIEW.signers[:2] + VIEW.signers[3:]),
            NOW,
            "not_leader",
        ),
        (
            lambda: request([observe(0), observe(1), observe(4)]),
            SIGNERS[3].address,
            SignerView(VIEW.signers[:4], 3, 1),
            NOW,
            "observation_unknown_signer",
        ),
        (
            lambda: request([observe(0), observe(1), observe(1, scale=1.1)]),
            LEADER,
            VIEW,
            NOW,
            "observation_duplicate_signer",
        ),
        (
            lambda: request(
                [observe(0), observe(1), observe(2, observed_at=int(CLOCK.slot_time(ROUND)) - 10)]
            ),
            LEADER,
            VIEW,
            NOW,
            "observation_time",
        ),
        (
            lambda: truncated(request([observe(0), observe(1), observe(2)]), 2),
            LEADER,
            VIEW,
            NOW,
            "too_few_observations",
        ),
        (lambda: request(params=(params(1.05).pack(),)), LEADER, VIEW, NOW, "not_median"),
        (lambda: request(inputs_hash=b"\x01" * 32), LEADER, VIEW, NOW, "not_median"),
        (
            lambda: request([observe(0), observe(1), observe(2, model_hash=b"z" * 32)]),
            LEADER,
            VIEW,
            NOW,
            "aggregation_mixed_models",
        ),
    ],
)
def test_verify__one_check_failing__refused_with_its_reason(
    make: Callable[[], CosignRequest], sender: str, view: SignerView, now: float, reason: str
) -> None:
    with pytest.raises(CosignRefused) as err:
        VERIFIER.check(make(), sender, view, OWN, now)
    assert err.value.reason == reason


def test_verify__leader_cherry_picks_byzantine_observations__out_of_tolerance() -> None:
    poisoned = [observe(i, scale=1.3) for i in (0, 1, 2)]  # k colluders, all +30 %
    with pytest.raises(CosignRefused) as err:
        VERIFIER.check(request(poisoned), LEADER, VIEW, OWN, NOW)
    assert (
        err.value.reason == "out_of_tolerance"
        and "volatility report=7800 own=6000 band=900" in err.value.detail
    )


def test_verify__market_the_follower_did_not_observe__refused() -> None:
    obs = [observe(i, markets=("BTC-USD", "ETH-USD")) for i in range(3)]
    with pytest.raises(CosignRefused) as err:
        VERIFIER.check(request(obs), LEADER, VIEW, OWN, NOW)
    assert err.value.reason == "market_not_observed"


class FakeChain:
    def signer_view(self) -> SignerView:
        return VIEW

    def stored_round(self, markets: object) -> int:
        return 0

    def submit(self, *args: object) -> object:
        raise AssertionError("followers do not submit")


def node(store: NodeStore) -> NetworkNode:
    async def provider(round_: int, slot: int) -> LocalObservation:
        return LocalObservation(round_, slot, b"m" * 32, b"\x04" * 32, {"BTC-USD": params(1.0)})

    made = NetworkNode(
        settings=SETTINGS,
        domain=DOMAIN,
        signer=SIGNERS[4],
        store=store,
        chain=FakeChain(),
        provider=provider,
        now=lambda: NOW,
    )
    made.view = VIEW
    return made


def test_cosign__same_report_twice_and_after_restart__same_bytes_other_digest_409(tmp_path: Path) -> None:
    first = request()
    second = request([observe(i, scale=1 + i / 100) for i in range(3)])
    assert first.report != second.report
    digest = report_digest(first.report, DOMAIN.chain_id, DOMAIN.oracle)

    async def scenario(path: Path) -> None:
        with NodeStore.open(path) as store:
            got_digest, sig = await node(store).cosign(first, LEADER)
            assert got_digest == digest and (await node(store).cosign(first, LEADER))[1] == sig
            assert (
                parse_cosign_request({**store.report(digest).body, "attempt": 0}, DOMAIN).report
                == first.report
            )
        with NodeStore.open(path) as store:  # restart: a new process over the same file
            with pytest.raises(EquivocationError) as err:
                await node(store).cosign(second, LEADER)
            assert err.value.existing == "0x" + digest.hex()
            assert (await node(store).cosign(first, LEADER))[1] == sig
            assert store.signature(ROUND, SIGNERS[4].address).digest == "0x" + digest.hex()

    asyncio.run(scenario(tmp_path / "node.sqlite"))


def test_cosign__refused_report__nothing_signed(tmp_path: Path) -> None:
    async def scenario() -> None:
        with NodeStore.open(tmp_path / "n.sqlite") as store:
            with pytest.raises(CosignRefused):
                await node(store).cosign(request(epoch=2), LEADER)
            assert store.signature(ROUND, SIGNERS[4].address) is None

    asyncio.run(scenario())
