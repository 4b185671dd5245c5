"""Shared builders for the network unit tests (no sockets): keys, observations, a signer view."""

from __future__ import annotations

from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.network import Domain, LocalKeySigner, LocalObservation, NetworkSettings
from oracle_node.network.observation import SignedObservation, sign_observation
from oracle_node.network.schedule import RoundClock
from oracle_node.network.verify import SignerView
from oracle_node.types import RiskParamsBps

DOMAIN = Domain(31337, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")
MODEL = b"m" * 32
SIGNERS = [LocalKeySigner(k) for k in ANVIL_KEYS[:5]]
VIEW = SignerView(tuple(s.address for s in SIGNERS), 3, 1)
GENESIS = 1_700_000_000
SETTINGS = NetworkSettings(genesis=GENESIS, period_s=10, leader_timeout_s=4, deadline_s=60, max_skew_s=2)
CLOCK = RoundClock(GENESIS, 10, 4)
BASE = RiskParamsBps(6000, 450, 520, 1200, 800, 8500, 3000, 9000)


def params(scale: float = 1.0, lt: int = 8500) -> RiskParamsBps:
    v = BASE.as_tuple()
    return RiskParamsBps(*(round(x * scale) for x in v[:5]), lt, v[6], v[7])


def observe(
    signer: int, round_: int = 7, scale: float = 1.0, markets: tuple[str, ...] = ("BTC-USD",), **kw: object
) -> SignedObservation:
    local = LocalObservation(
        round=round_,
        observed_at=int(kw.get("observed_at", CLOCK.slot_time(round_))),
        model_hash=kw.get("model_hash", MODEL),  # type: ignore[arg-type]
        inputs_hash=bytes([signer]) * 32,
        params={m: params(scale) for m in markets},
    )
    return sign_observation(local, DOMAIN, SIGNERS[signer])
