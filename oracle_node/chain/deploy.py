"""Deploy the MLRA Risk Oracle stack (timelock, oracle, adapters, collateral token, margin engine, and
the VolSurfaceOracle when the config has a `surface` section).

Importable (`deploy_stack(w3, deployer, config)`, used by the integration tests and the benchmark) and
run through ape by scripts/deploy.py: `ape run deploy --network ethereum:local:node` deploys
deploy/local.yaml with anvil's unlocked dev account and writes deployments/local.json.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import yaml
from eth_account import Account
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from web3 import Web3

from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.chain.contracts import (
    ContractWrapper,
    OptionsMarginEngine,
    RiskOracle,
    RiskParamAggregator,
    Sender,
    TestUSD,
    TimelockController,
)
from oracle_node.chain.surface_oracle import SurfaceBounds, VolSurfaceOracle
from oracle_node.errors import ConfigError
from oracle_node.models.manifest import load_manifest
from oracle_node.types import RISK_FIELDS, FieldBounds, OnchainBounds, market_id_bytes32

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "deploy" / "local.yaml"
DEFAULT_OUT = REPO_ROOT / "deployments" / "local.json"
_STRICT = ConfigDict(frozen=True, extra="forbid")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

W = TypeVar("W", bound=ContractWrapper)
AccountRef = int | str  # anvil dev account index, or a 0x address


def resolve_account(ref: AccountRef) -> str:
    """The checksum address of a dev account index or an explicit address."""
    if isinstance(ref, int):
        return Account.from_key(ANVIL_KEYS[ref]).address
    return Web3.to_checksum_address(ref)


def _check_ref(ref: AccountRef) -> AccountRef:
    if isinstance(ref, int) and not 0 <= ref < len(ANVIL_KEYS):
        raise ValueError(f"dev account index must be 0..{len(ANVIL_KEYS) - 1}")
    if isinstance(ref, str) and not Web3.is_address(ref):
        raise ValueError("not an address")
    return ref


class FieldBoundsConfig(BaseModel):
    model_config = _STRICT
    floor: int = Field(ge=0, le=0xFFFF)
    ceiling: int = Field(ge=0, le=0xFFFF)
    max_change: int = Field(ge=0, le=0xFFFF)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.floor > self.ceiling:
            raise ValueError(f"floor {self.floor} is above ceiling {self.ceiling}")
        return self


class ProfileConfig(BaseModel):
    model_config = _STRICT
    id: int = Field(ge=0, le=31)
    min_interval: int = Field(ge=1, lt=2**32)  # the oracle refuses 0 (stacked updates)
    relative: tuple[str, ...] = ()
    fields: dict[str, FieldBoundsConfig]

    @model_validator(mode="after")
    def _all_fields(self) -> Self:
        names = set(self.fields) | set(self.relative)
        if unknown := sorted(names - set(RISK_FIELDS)):
            raise ValueError(f"unknown fields {unknown}; fields are {list(RISK_FIELDS)}")
        if missing := [f for f in RISK_FIELDS if f not in self.fields]:
            raise ValueError(f"bounds missing for fields {missing}")
        return self

    def bounds(self) -> OnchainBounds:
        fields = tuple(FieldBounds(**self.fields[f].model_dump()) for f in RISK_FIELDS)
        mask = sum(1 << RISK_FIELDS.index(f) for f in set(self.relative))
        return OnchainBounds(fields, mask, self.min_interval)


class MarketConfig(BaseModel):
    model_config = _STRICT
    id: str
    profile: int = Field(ge=0, le=31)
    engine_max_age: int = Field(gt=0, le=7 * 86400)

    @field_validator("id")
    @classmethod
    def _ascii_id(cls, value: str) -> str:
        market_id_bytes32(value)
        return value


class TimelockConfig(BaseModel):
    model_config = _STRICT
    min_delay: int = Field(ge=0)
    proposers: tuple[AccountRef, ...] = Field(min_length=1)
    executors: tuple[AccountRef, ...] = Field(min_length=1)

    @field_validator("proposers", "executors")
    @classmethod
    def _refs(cls, value: tuple[AccountRef, ...]) -> tuple[AccountRef, ...]:
        return tuple(_check_ref(r) for r in value)


class EngineConfig(BaseModel):
    model_config = _STRICT
    owner: AccountRef = 0
    mint: dict[int, int] = Field(default_factory=dict)
    # Liquidation grace period after an outage or pause (IOptionsMarginEngine); at most one day.
    grace_period: int = Field(default=1800, ge=0, le=86400)


class SurfaceBoundsConfig(BaseModel):
    """One underlying's VolSurfaceOracle bounds: vols and shocks in bp, min_interval in seconds."""

    model_config = _STRICT
    atm_vol_floor: int = Field(ge=0, le=0xFFFF)
    atm_vol_ceiling: int = Field(ge=0, le=0xFFFF)
    atm_vol_max_change: int = Field(ge=0, le=0xFFFF)
    price_move_floor: int = Field(ge=0, le=0xFFFF)
    price_move_ceiling: int = Field(ge=0, le=0xFFFF)
    vol_up_floor: int = Field(ge=0, le=0xFFFF)
    vol_up_ceiling: int = Field(ge=0, le=0xFFFF)
    vol_down_floor: int = Field(ge=0, le=0xFFFF)
    vol_down_ceiling: int = Field(ge=0, le=0xFFFF)
    min_interval: int = Field(ge=1, lt=2**32)
    # Largest spot move per update, bp of the stored spot (the spot settles expiries). The default,
    # 65535, only stops moves above +655% (and none downwards): set it for a real deployment.
    spot_max_change: int = Field(default=0xFFFF, ge=0, le=0xFFFF)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        for name in ("atm_vol", "price_move", "vol_up", "vol_down"):
            lo, hi = getattr(self, f"{name}_floor"), getattr(self, f"{name}_ceiling")
            if lo > hi:
                raise ValueError(f"{name}: floor {lo} is above ceiling {hi}")
        return self

    def bounds(self) -> SurfaceBounds:
        return SurfaceBounds(**self.model_dump())


class SurfaceOracleConfig(BaseModel):
    """The VolSurfaceOracle: its own max report age and the underlyings it lists with their bounds."""

    model_config = _STRICT
    max_report_age: int = Field(gt=0, lt=2**21)
    underlyings: dict[str, SurfaceBoundsConfig] = Field(min_length=1, max_length=16)

    @field_validator("underlyings")
    @classmethod
    def _ascii(cls, value: dict[str, SurfaceBoundsConfig]) -> dict[str, SurfaceBoundsConfig]:
        for symbol in value:
            if not symbol.isascii() or not 0 < len(symbol) <= 32:
                raise ValueError(f"underlying {symbol!r} must be 1-32 ASCII characters")
        return value


class DeployConfig(BaseModel):
    """deploy/local.yaml: who governs, who signs, which models and bounds, which markets."""

    model_config = _STRICT
    chain_id: int = Field(gt=0)
    deployer: AccountRef = 0
    guardian: AccountRef
    timelock: TimelockConfig
    signers: tuple[AccountRef, ...] = Field(min_length=1, max_length=31)
    threshold: int = Field(ge=1, le=31)
    max_report_age: int = Field(gt=0, lt=2**21)  # the market word stores the acceptance lag in 21 bits
    models: tuple[str | dict[str, str], ...] = Field(min_length=1)
    profiles: tuple[ProfileConfig, ...] = Field(min_length=1)
    markets: tuple[MarketConfig, ...] = Field(min_length=1)
    adapters: tuple[str, ...] = tuple(RISK_FIELDS)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    surface: SurfaceOracleConfig | None = None

    @field_validator("deployer", "guardian", "signers")
    @classmethod
    def _refs(cls, value: AccountRef | tuple[AccountRef, ...]) -> AccountRef | tuple[AccountRef, ...]:
        return tuple(_check_ref(r) for r in value) if isinstance(value, tuple) else _check_ref(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len({resolve_account(s) for s in self.signers}) != len(self.signers):
            raise ValueError("signers must be distinct")
        if self.threshold > len(self.signers):
            raise ValueError(f"threshold {self.threshold} exceeds the {len(self.signers)} signers")
        ids = {p.id for p in self.profiles}
        if len(ids) != len(self.profiles):
            raise ValueError("profile ids must be distinct")
        if bad := [m.id for m in self.markets if m.profile not in ids]:
            raise ValueError(f"markets {bad} name a profile that is not defined")
        if len({m.id for m in self.markets}) != len(self.markets):
            raise ValueError("market ids must be distinct")
        if unknown := sorted(set(self.adapters) - set(RISK_FIELDS)):
            raise ValueError(f"adapters name unknown fields {unknown}")
        return self

    def model_hashes(self, base: Path = REPO_ROOT) -> list[bytes]:
        """Allow-listed hashes: hex entries as given; `{manifest: path}` entries are the manifest's hash as the
        node computes it (sha256 of the canonical manifest, every artifact's sha256 verified on load)."""
        out = []
        for entry in self.models:
            if isinstance(entry, dict):
                path = base / entry["manifest"]
                out.append(load_manifest(path.parent).hash)
            else:
                raw = bytes.fromhex(entry.removeprefix("0x"))
                if len(raw) != 32:
                    raise ConfigError(f"models: {entry!r} is not a 32-byte hex hash")
                out.append(raw)
        return out


def load_deploy_config(path: Path | str = DEFAULT_CONFIG) -> DeployConfig:
    """Parse and validate a deployment file; one ConfigError line per problem."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
        return DeployConfig.model_validate(raw)
    except OSError as exc:
        raise ConfigError(f"cannot read deployment config: {exc}", str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", str(path)) from exc
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigError(problems, str(path)) from exc


@dataclass
class Deployment:
    """Addresses of one deployed stack (written to deployments/<network>.json)."""

    chain_id: int
    block_number: int
    deployer: str
    guardian: str
    timelock: str
    oracle: str
    engine: str
    collateral: str
    signers: list[str]
    threshold: int
    adapters: dict[str, dict[str, str]] = field(default_factory=dict)  # market -> field -> address
    surface_oracle: str | None = None  # VolSurfaceOracle, when the config has a `surface` section

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class _Deployer:
    """Who deploys, where, with which artifacts."""

    w3: Web3
    sender: Sender
    out_dir: Path | None

    @property
    def address(self) -> str:
        return self.sender if isinstance(self.sender, str) else self.sender.address

    def deploy(self, wrapper: type[W], *args: Any) -> W:
        return wrapper.deploy(self.w3, self.sender, *args, out_dir=self.out_dir)


def _deploy_governance(d: _Deployer, config: DeployConfig) -> tuple[TimelockController, RiskOracle]:
    t = config.timelock
    proposers = [resolve_account(r) for r in t.proposers]
    executors = [resolve_account(r) for r in t.executors]
    # admin = address(0): the timelock administers itself, so only the DAO can change the DAO.
    timelock = d.deploy(TimelockController, t.min_delay, proposers, executors, ZERO_ADDRESS)
    oracle = d.deploy(
        RiskOracle,
        timelock.address,
        resolve_account(config.guardian),
        [resolve_account(s) for s in config.signers],
        config.threshold,
        config.model_hashes(),
        config.max_report_age,
        [p.id for p in config.profiles],
        [p.bounds().to_abi() for p in config.profiles],
        [market_id_bytes32(m.id) for m in config.markets],
        [m.profile for m in config.markets],
    )
    return timelock, oracle


def _deploy_adapters(d: _Deployer, oracle: RiskOracle, config: DeployConfig) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for market in config.markets:
        out[market.id] = {}
        for name in config.adapters:
            args = (oracle.address, market_id_bytes32(market.id), RISK_FIELDS.index(name))
            out[market.id][name] = d.deploy(RiskParamAggregator, *args).address
    return out


def _deploy_engine(d: _Deployer, oracle: RiskOracle, config: DeployConfig) -> OptionsMarginEngine:
    token = d.deploy(TestUSD, d.address)
    for index, amount in config.engine.mint.items():
        token.mint(resolve_account(index), amount, sender=d.sender)
    grace = config.engine.grace_period
    engine = d.deploy(OptionsMarginEngine, oracle.address, token.address, d.address, grace)
    for market in config.markets:
        engine.list_market(market.id, market.engine_max_age, sender=d.sender)
    owner = resolve_account(config.engine.owner)
    if owner != d.address:
        engine.transfer_ownership(owner, sender=d.sender)  # Ownable2Step: the new owner must accept
    return engine


def deploy_surface_oracle(
    w3: Web3, deployer: Sender, oracle: str, config: SurfaceOracleConfig, out_dir: Path | None = None
) -> VolSurfaceOracle:
    """A VolSurfaceOracle sharing `oracle`'s signers, threshold, epoch, models, roles and pause, listing
    the configured underlyings (bytes32: ASCII symbol, left-aligned, zero padded)."""
    symbols = list(config.underlyings)
    ids = [s.encode("ascii").ljust(32, b"\x00") for s in symbols]
    bounds = [config.underlyings[s].bounds().to_abi() for s in symbols]
    return VolSurfaceOracle.deploy(w3, deployer, oracle, config.max_report_age, ids, bounds, out_dir=out_dir)


def deploy_stack(w3: Web3, deployer: Sender, config: DeployConfig, out_dir: Path | None = None) -> Deployment:
    """Deploy and wire the whole stack; the deployer keeps no oracle role. Raises ConfigError when the
    chain id differs from the config, SubmissionError (decoded) when a deployment reverts. `out_dir`:
    forge's artifact directory (default: the repository's out/)."""
    if (chain_id := w3.eth.chain_id) != config.chain_id:
        raise ConfigError(f"chain_id: config says {config.chain_id}, the RPC answers {chain_id}")
    d = _Deployer(w3, deployer, out_dir)
    timelock, oracle = _deploy_governance(d, config)
    adapters = _deploy_adapters(d, oracle, config)
    engine = _deploy_engine(d, oracle, config)
    surface = None
    if config.surface is not None:
        surface = deploy_surface_oracle(w3, deployer, oracle.address, config.surface, out_dir).address
    return Deployment(
        chain_id=chain_id,
        block_number=w3.eth.block_number,
        deployer=d.address,
        guardian=resolve_account(config.guardian),
        timelock=timelock.address,
        oracle=oracle.address,
        engine=engine.address,
        collateral=engine.collateral_token(),
        signers=[resolve_account(s) for s in config.signers],
        threshold=config.threshold,
        adapters=adapters,
        surface_oracle=surface,
    )


def load_deployment(path: Path = DEFAULT_OUT) -> Deployment:
    """A deployments/<network>.json written by write_deployment; ConfigError if missing or malformed."""
    try:
        return Deployment.from_json(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read deployment ({exc}); run `make deploy-local`", str(path)) from exc
    except (json.JSONDecodeError, TypeError) as exc:
        raise ConfigError(f"not a deployment file: {exc}", str(path)) from exc


def write_deployment(deployment: Deployment, path: Path = DEFAULT_OUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(deployment.to_json())
    tmp.replace(path)
    return path
