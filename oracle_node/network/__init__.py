"""The oracle network: k-of-n co-signed reports across independent nodes over authenticated HTTP.

Rounds
    Rounds are time slots: slot_time(r) = genesis + r * period (both configured, the same on every
    node). Every node observes round r at slot_time(r) with its own inputs through the pipeline's
    `ObservationProvider(round, slot_time) -> LocalObservation`. A node starts at
    store.next_round(at_least = max(current slot + 1, highest on-chain stored round + 1)), so it never
    reuses a round it signed anything for, and every round it builds exceeds the chain's.

Observations
    Each node signs its observation as EIP-712 typed data `RiskObservation(uint64 round,uint64
    observedAt,bytes32 modelHash,bytes32 inputsHash,bytes32[] marketIds,uint128[] params)` under the
    reports' domain (chainId + oracle address; markets sorted, params packed as on-chain). The digest is
    committed in the store (purpose "observation") before the signature is made, and the signature is
    stored before it leaves the process; it is served at `GET /v1/observations/{round}`.

Leader
    Attempt a of round r starts at slot_time(r) + a * leader_timeout and is led by on-chain signer
    index (r + a) mod n; a node leads its attempts (below max_attempts) unless the chain already
    stores round r. The leader takes its own observation plus those fetched from the peers in
    parallel (each request with a timeout, the whole collection within collect_timeout), keeps those
    by signers of the on-chain set, with its model hash and observedAt within slot_time +- max_skew,
    and builds the report:
      - markets present in >= k included observations, sorted by symbol;
      - each field the LOWER MEDIAN sorted(values)[(m-1)//2] (exact integers: every follower
        recomputes it bit for bit; it keeps MM <= IM, VaR <= ES and LT + MM <= 100 % when every
        observation does);
      - observedAt = the oldest included observedAt; deadline = ceil(slot_time) + deadline_s;
      - inputsHash = keccak256 of the sorted, concatenated digests of the included observations.
    It persists the report and its own signature (store), then `POST /v1/cosign` to the others with
    the report and the included signed observations, submits through the TxSender as soon as it holds
    k signatures and waits for inclusion. A leader whose key already signed a report for the round
    re-proposes exactly that report (so followers re-send the same bytes and nobody is asked to sign a
    second digest); otherwise, if nothing lands, the next attempt's leader takes over.

Followers
    co-sign only after checking (oracle_node.network.verify): the sender leads this attempt, which has
    started; the epoch is the chain's; the deadline is the network's and has not passed; >= k included
    observations, each correctly signed for this round by a distinct authorised signer and on time;
    the report equals their own recomputation of the median exactly; and every field of every market
    lies within the tolerance band around the follower's own observation:
      |report - own| <= max(absolute_bp[field], own * relative_bp / 10000)
    (defaults relative 15 %; absolute floors vol 100, VaR 20, ES 25, IM 50, MM 40, LT 200, score 1000,
    confidence 2000 bp; a market the follower did not observe is refused). The report body and the
    signature intent are persisted before the signature is returned; a different digest for a round
    already signed is refused with HTTP 409 (EquivocationError), across restarts.

Peer messages
    Every request and every answer is signed (EIP-191) by the sender's operator key over the chain id,
    oracle, method and path (or status and the request's nonce), a millisecond timestamp, a random
    nonce and keccak256(body). Unknown signers get 403; bad signatures, timestamps more than
    auth_max_age_s away and replayed nonces get 401. Peers are configured as (signer address, URL).
    A peer's garbage (bad JSON, bad signatures, wrong round, timeouts, error statuses) is logged with
    its reason and ignored; it never stops the leader.
"""

from oracle_node.network.chain_view import ContractChain, OracleChain
from oracle_node.network.leader import LeadOutcome
from oracle_node.network.node import NetworkNode
from oracle_node.network.observation import Domain, LocalObservation, SignedObservation
from oracle_node.network.observer import ObservationProvider
from oracle_node.network.settings import NetworkSettings, PeerConfig, ToleranceSettings
from oracle_node.network.signing import LocalKeySigner

__all__ = [
    "ContractChain",
    "Domain",
    "LeadOutcome",
    "LocalKeySigner",
    "LocalObservation",
    "NetworkNode",
    "NetworkSettings",
    "ObservationProvider",
    "OracleChain",
    "PeerConfig",
    "SignedObservation",
    "ToleranceSettings",
]
