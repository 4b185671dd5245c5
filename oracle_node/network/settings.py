"""Configuration of the peer network (the `network:` section of a node's config); the same values for
genesis, period, timeouts, deadline and tolerance must be used by every node of a network."""

from __future__ import annotations

from eth_utils import is_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oracle_node.types import RISK_FIELDS, RiskParamsBps

_STRICT = ConfigDict(frozen=True, extra="forbid")

# Absolute floor of each field's tolerance band, bp: a relative band alone is meaningless for small
# values (a 50 bp VaR). Score and confidence are summaries that legitimately differ more between nodes.
DEFAULT_ABSOLUTE_BP: dict[str, int] = {
    "volatility": 100,
    "var99": 20,
    "es99": 25,
    "initial_margin": 50,
    "maintenance_margin": 40,
    "liquidation_threshold": 200,
    "risk_score": 1000,
    "confidence": 2000,
}


class ToleranceSettings(BaseModel):
    """A follower co-signs only if, for every field, |report - own| <= max(absolute_bp, own * relative_bp / 1e4)."""

    model_config = _STRICT
    relative_bp: int = Field(default=1500, ge=0, le=10_000)
    absolute_bp: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_ABSOLUTE_BP))

    @field_validator("absolute_bp")
    @classmethod
    def _known_fields(cls, value: dict[str, int]) -> dict[str, int]:
        if unknown := sorted(set(value) - set(RISK_FIELDS)):
            raise ValueError(f"unknown fields {unknown}; fields are {list(RISK_FIELDS)}")
        return {**DEFAULT_ABSOLUTE_BP, **value}

    def band(self, field: str, own: int) -> int:
        return max(self.absolute_bp[field], own * self.relative_bp // 10_000)

    def violations(self, report: RiskParamsBps, own: RiskParamsBps) -> list[str]:
        """'field report=X own=Y band=Z' for every field outside its band (empty: within tolerance)."""
        out = []
        for field, rep, mine in zip(RISK_FIELDS, report.as_tuple(), own.as_tuple(), strict=True):
            if abs(rep - mine) > (band := self.band(field, mine)):
                out.append(f"{field} report={rep} own={mine} band={band}")
        return out


class PeerConfig(BaseModel):
    model_config = _STRICT
    address: str
    url: str

    @field_validator("address")
    @classmethod
    def _checksum(cls, value: str) -> str:
        if not is_address(value):
            raise ValueError(f"{value!r} is not an address")
        return to_checksum_address(value)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must be an http(s) URL")
        return value.rstrip("/")


class NetworkSettings(BaseModel):
    model_config = _STRICT
    genesis: float = Field(ge=0, description="unix time of round 0's slot")
    period_s: float = Field(default=10.0, gt=0, description="seconds between round slots")
    leader_timeout_s: float = Field(default=4.0, gt=0, description="an attempt's leader gets this long")
    max_attempts: int = Field(default=3, ge=1, le=31, description="leaders tried per round")
    deadline_s: int = Field(default=120, gt=0, description="report deadline = ceil(slot time) + this")
    collect_timeout_s: float = Field(default=1.0, gt=0, description="leader's wait for peer observations")
    request_timeout_s: float = Field(default=2.0, gt=0, description="one HTTP request to a peer")
    observe_timeout_s: float = Field(default=5.0, gt=0, description="the observation provider's budget")
    max_skew_s: float = Field(default=5.0, ge=0, description="observedAt within slot time +- this")
    auth_max_age_s: float = Field(default=30.0, gt=0, description="older peer messages are refused")
    tolerance: ToleranceSettings = Field(default_factory=ToleranceSettings)
    peers: tuple[PeerConfig, ...] = ()
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=0, ge=0, le=65535)

    @model_validator(mode="after")
    def _consistent(self) -> NetworkSettings:
        addresses = [p.address for p in self.peers]
        if len(set(addresses)) != len(addresses):
            raise ValueError("peers: each signer address may appear once")
        if self.deadline_s <= self.max_attempts * self.leader_timeout_s:
            raise ValueError(
                f"deadline_s {self.deadline_s} must exceed max_attempts x leader_timeout_s "
                f"({self.max_attempts * self.leader_timeout_s}) so the last leader can still submit"
            )
        return self
