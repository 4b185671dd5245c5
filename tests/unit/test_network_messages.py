"""Observation typed data, wire parsing and peer-message authentication."""

from __future__ import annotations

import pytest
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle_node.network.auth import NONCE, SIGNATURE, TIMESTAMP, PeerAuthenticator
from oracle_node.network.errors import PeerAuthError, PeerMessageError
from oracle_node.network.observation import observation_digest, parse_observation
from oracle_node.network.schedule import RoundClock, leader_index, my_attempts
from oracle_node.reports.eip712 import TYPED_DATA_TYPES
from oracle_node.types import market_id_bytes32
from tests.unit.test_network_fixtures import DOMAIN, SIGNERS, observe


@settings(max_examples=40)
@given(
    st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32),
    st.lists(st.integers(0, 2**128 - 1), min_size=1, max_size=4),
)  # fmt: skip
def test_observation_digest__random_bodies__equals_eth_account_typed_data(
    round_: int, at: int, h: bytes, words: list[int]
) -> None:
    markets = tuple(f"M{i}-USD" for i in range(len(words)))
    typed = {
        "types": {
            "EIP712Domain": TYPED_DATA_TYPES["EIP712Domain"],
            "RiskObservation": [
                {"name": "round", "type": "uint64"},
                {"name": "observedAt", "type": "uint64"},
                {"name": "modelHash", "type": "bytes32"},
                {"name": "inputsHash", "type": "bytes32"},
                {"name": "marketIds", "type": "bytes32[]"},
                {"name": "params", "type": "uint128[]"},
            ],
        },
        "primaryType": "RiskObservation",
        "domain": {
            "name": "MLRA Risk Oracle",
            "version": "1",
            "chainId": DOMAIN.chain_id,
            "verifyingContract": DOMAIN.oracle,
        },
        "message": {
            "round": round_,
            "observedAt": at,
            "modelHash": h,
            "inputsHash": h[::-1],
            "marketIds": [market_id_bytes32(m) for m in markets],
            "params": words,
        },
    }
    signable = encode_typed_data(full_message=typed)
    expected = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert observation_digest(DOMAIN, round_, at, h, h[::-1], markets, tuple(words)) == expected


def test_parse_observation__round_trip__same_observation() -> None:
    obs = observe(2, markets=("BTC-USD", "ETH-USD"))
    assert parse_observation(obs.to_json(), DOMAIN) == obs


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda j: j.update(params=[str(int(j["params"][0]) + 1)]),
            "signature",
        ),  # body changed after signing
        (lambda j: j.update(signer=SIGNERS[3].address), "signature"),  # claims another signer
        (lambda j: j.update(signature="0x" + "00" * 65), "signature"),
        (lambda j: j.update(markets=["ETH-USD", "BTC-USD"], params=j["params"] * 2), "markets"),
        (lambda j: j.update(round="7"), "round"),
        (lambda j: j.update(params=[str(2**128)]), "params[0]"),
        (lambda j: j.pop("modelHash"), "modelHash"),
    ],
)
def test_parse_observation__tampered__refused_naming_the_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    body = observe(1).to_json()
    mutate(body)
    with pytest.raises(PeerMessageError) as err:
        parse_observation(body, DOMAIN)
    assert err.value.field == field


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def pair(now: float = 1000.0) -> tuple[PeerAuthenticator, PeerAuthenticator, Clock]:
    clock = Clock(now)
    alice = PeerAuthenticator(DOMAIN, SIGNERS[0], [SIGNERS[1].address], 30, clock)
    bob = PeerAuthenticator(DOMAIN, SIGNERS[1], [SIGNERS[0].address], 30, clock)
    return alice, bob, clock


def test_auth__signed_request__verified_to_its_sender() -> None:
    alice, bob, _ = pair()
    headers = alice.sign_request("POST", "/v1/cosign", b'{"a":1}')
    assert bob.verify_request("POST", "/v1/cosign", b'{"a":1}', headers) == SIGNERS[0].address


def test_auth__unknown_signer__403() -> None:
    _, bob, clock = pair()
    stranger = PeerAuthenticator(DOMAIN, SIGNERS[4], [SIGNERS[1].address], 30, clock)
    with pytest.raises(PeerAuthError) as err:
        bob.verify_request(
            "GET", "/v1/observations/1", b"", stranger.sign_request("GET", "/v1/observations/1", b"")
        )
    assert (err.value.status, err.value.reason) == (403, "unknown_peer")


@pytest.mark.parametrize("skew", [-31.0, 31.0])
def test_auth__stale_or_future_timestamp__401(skew: float) -> None:
    alice, bob, clock = pair()
    headers = alice.sign_request("GET", "/v1/observations/1", b"")
    clock.t += skew
    with pytest.raises(PeerAuthError) as err:
        bob.verify_request("GET", "/v1/observations/1", b"", headers)
    assert (err.value.status, err.value.reason) == (401, "stale")


def test_auth__replayed_nonce__401() -> None:
    alice, bob, _ = pair()
    headers = alice.sign_request("GET", "/v1/observations/1", b"")
    bob.verify_request("GET", "/v1/observations/1", b"", headers)
    with pytest.raises(PeerAuthError) as err:
        bob.verify_request("GET", "/v1/observations/1", b"", headers)
    assert (err.value.status, err.value.reason) == (401, "replayed")


@pytest.mark.parametrize(
    ("method", "path", "body", "edit"),
    [
        ("GET", "/v1/observations/2", b"", None),  # another path
        ("POST", "/v1/cosign", b"{}x", None),  # another body
        ("GET", "/v1/observations/1", b"", (TIMESTAMP, "1000001")),  # timestamp not the signed one
        ("GET", "/v1/observations/1", b"", (NONCE, "0x" + "11" * 16)),
        ("GET", "/v1/observations/1", b"", (SIGNATURE, "0x1234")),
    ],
)
def test_auth__anything_changed_after_signing__401(
    method: str, path: str, body: bytes, edit: tuple[str, str] | None
) -> None:
    alice, bob, _ = pair()
    headers = alice.sign_request("GET", "/v1/observations/1", b"")
    if edit:
        headers[edit[0]] = edit[1]
    with pytest.raises(PeerAuthError) as err:
        bob.verify_request(method, path, body, headers)
    assert err.value.status == 401 and err.value.reason in ("bad_signature", "malformed_auth")


def test_auth__response_for_another_request__refused() -> None:
    alice, bob, _ = pair()
    request = alice.sign_request("GET", "/v1/observations/1", b"")
    answer = bob.sign_response(200, b"{}", request[NONCE])
    alice.verify_response(200, b"{}", answer, request[NONCE], SIGNERS[1].address)
    other = alice.sign_request("GET", "/v1/observations/1", b"")
    with pytest.raises(PeerAuthError):
        alice.verify_response(
            200, b"{}", bob.sign_response(200, b"{}", request[NONCE]), other[NONCE], SIGNERS[1].address
        )


def test_leader_index__rounds_and_attempts__rotate_over_the_set() -> None:
    assert [leader_index(r, 0, 5) for r in range(7)] == [0, 1, 2, 3, 4, 0, 1]
    assert [leader_index(12, a, 5) for a in range(4)] == [2, 3, 4, 0]
    assert my_attempts(12, 4, 5, 3) == [2] and my_attempts(12, 1, 5, 3) == []


def test_round_clock__slots_and_attempts__arithmetic() -> None:
    clock = RoundClock(1000, 10, 4)
    assert clock.slot_time(3) == 1030 and clock.round_at(1039.9) == 3 and clock.round_at(5) == 0
    assert clock.attempt_start(3, 2) == 1038 and clock.attempt_at(3, 1037.9) == 1
