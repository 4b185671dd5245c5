"""JSON bodies of the peer protocol: reports, co-sign requests and answers (strict parsing).

uint64/uint128 values travel as decimal strings or JSON integers below 2**53 as noted, hashes and
signatures as 0x-hex; every parse failure is a PeerMessageError naming the field and the value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from oracle_node.errors import DataError
from oracle_node.network.errors import PeerMessageError
from oracle_node.network.observation import Domain, SignedObservation, parse_observation
from oracle_node.network.signing import parse_hex
from oracle_node.reports.eip712 import RiskReport


def dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def loads(raw: bytes, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PeerMessageError(where, "(body)", raw[:80], f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise PeerMessageError(where, "(body)", obj, "must be a JSON object")
    return obj


def report_to_json(report: RiskReport) -> dict[str, Any]:
    return {
        "epoch": report.epoch,
        "round": str(report.round),
        "observedAt": str(report.observed_at),
        "deadline": str(report.deadline),
        "modelHash": "0x" + report.model_hash.hex(),
        "inputsHash": "0x" + report.inputs_hash.hex(),
        "markets": list(report.markets),
        "params": [str(p) for p in report.params],
    }


def _int(obj: dict[str, Any], field: str, where: str) -> int:
    value = obj.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise PeerMessageError(where, field, value, "must be a non-negative integer (or its decimal string)")
    return int(value)


def parse_report(obj: object, where: str = "report") -> RiskReport:
    if not isinstance(obj, dict):
        raise PeerMessageError(where, "(body)", obj, "must be a JSON object")
    markets, params = obj.get("markets"), obj.get("params")
    if not isinstance(markets, list) or not isinstance(params, list):
        raise PeerMessageError(where, "markets/params", (markets, params), "must be lists")
    try:
        return RiskReport(
            epoch=_int(obj, "epoch", where),
            round=_int(obj, "round", where),
            observed_at=_int(obj, "observedAt", where),
            deadline=_int(obj, "deadline", where),
            model_hash=parse_hex(obj.get("modelHash"), where, "modelHash", 32),
            inputs_hash=parse_hex(obj.get("inputsHash"), where, "inputsHash", 32),
            markets=tuple(markets),
            params=tuple(_int({"p": p}, "p", f"{where}.params") for p in params),
        )
    except DataError as exc:
        raise PeerMessageError(where, exc.field or "(report)", exc.value, exc.why) from None


@dataclass(frozen=True, slots=True)
class CosignRequest:
    """The leader of `attempt` asks a follower to co-sign `report`, built from `observations`."""

    round: int
    attempt: int
    report: RiskReport
    observations: tuple[SignedObservation, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "attempt": self.attempt,
            "report": report_to_json(self.report),
            "observations": [o.to_json() for o in self.observations],
        }

    def record(self) -> dict[str, Any]:
        """What the store keeps for a signed report: the request without the attempt, so a later
        attempt's leader can re-propose exactly this report."""
        body = self.to_json()
        del body["attempt"]
        return body


def parse_cosign_request(obj: dict[str, Any], domain: Domain) -> CosignRequest:
    """Parse a co-sign request; every observation's signature is verified while parsing."""
    where = "cosign"
    round_, attempt = _int(obj, "round", where), _int(obj, "attempt", where)
    report = parse_report(obj.get("report"), f"{where}.report")
    raw_obs = obj.get("observations")
    if not isinstance(raw_obs, list) or not raw_obs:
        raise PeerMessageError(where, "observations", raw_obs, "must be a non-empty list")
    observations = tuple(
        parse_observation(o, domain, f"{where}.observations[{i}]") for i, o in enumerate(raw_obs)
    )
    return CosignRequest(round_, attempt, report, observations)


def cosign_answer(digest: bytes, signature: bytes) -> dict[str, Any]:
    return {"digest": "0x" + digest.hex(), "signature": "0x" + signature.hex()}


def parse_cosign_answer(obj: dict[str, Any], where: str) -> tuple[bytes, bytes]:
    return parse_hex(obj.get("digest"), where, "digest", 32), parse_hex(
        obj.get("signature"), where, "signature", 65
    )
