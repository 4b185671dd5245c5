"""Node configuration: one object built in the CLI from a YAML file plus `ORACLE_` environment variables.

Environment variables override the file; nested fields use `__`, e.g. `ORACLE_CHAIN__RPC_URL`,
`ORACLE_SERVICE__METRICS_PORT`. Secrets never live in the file: the keystore password comes from a
file path or the name of an environment variable. An invalid file raises ConfigError with one line
per problem naming where the value came from (file:line or environment variable), the field, the
value (secrets masked) and why; see `oracle_node.configfile`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from oracle_node.chain.tx import TxPolicy
from oracle_node.configfile import read_yaml, settings_error, validation_error
from oracle_node.errors import ConfigError
from oracle_node.guard.params import GuardParams
from oracle_node.logs import redact, redact_text
from oracle_node.network.settings import NetworkSettings
from oracle_node.risk.params import RiskSettings
from oracle_node.types import market_id_bytes32

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class SourceConfig(BaseModel):
    """One market-data source of a market."""

    model_config = _FROZEN
    name: str = Field(min_length=1, description="unique name, e.g. binance-spot")
    kind: Literal["ccxt", "replay"] = "ccxt"
    venue: str | None = Field(default=None, description="ccxt exchange id for kind=ccxt, e.g. binance")
    symbol: str | None = Field(default=None, description="venue symbol, e.g. BTC/USDT or BTC/USDT:USDT")
    pool: str | None = Field(
        default=None, description="shared liquidity pool id (de-duplicated by the guard)"
    )
    api_url: str | None = Field(default=None, description="override of the venue's REST base URL")
    timeout_s: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _ccxt_needs_venue(self) -> SourceConfig:
        if self.kind == "ccxt" and not (self.venue and self.symbol):
            raise ValueError("a ccxt source needs both 'venue' and 'symbol'")
        return self


class MarketDefaults(BaseModel):
    """Applied to every market; a market entry overrides any of them."""

    model_config = _FROZEN
    heartbeat_s: int = Field(default=3600, ge=1, description="publish at least this often")
    deviation_bps: int = Field(
        default=100, ge=1, le=10_000, description="publish when a margin field moves this much"
    )
    hysteresis_bps: int = Field(
        default=25,
        ge=0,
        le=10_000,
        description="after a deviation publish, the move must fall back by this much to re-arm",
    )
    history_days: int = Field(default=1000, ge=30, le=5000, description="daily history kept for the models")


def _address(value: str | None) -> str | None:
    if value is not None and not (
        value.startswith("0x") and len(value) == 42 and all(c in "0123456789abcdefABCDEF" for c in value[2:])
    ):
        raise ValueError(f"{value!r} is not a 0x-prefixed 20-byte hex address")
    return value


class CascadePoolConfig(BaseModel):
    """`cascade.pool`: the live inputs of the add-on from an Aave V2-style lending pool (docs/cascade.md,
    "Live inputs"): its LiquidationCall logs feed the add-on's liquidation features each round, and its
    reserves and borrowers' health factors are read every `refresh_s` (recorded, not used by the model)."""

    model_config = _FROZEN
    rpc_url: SecretStr | None = Field(
        default=None, description="JSON-RPC endpoint of the pool's chain (redacted in logs); or rpc_url_file"
    )
    rpc_url_file: Path | None = Field(
        default=None, description="file holding the endpoint: keeps a provider's API key out of the config"
    )
    lending_pool: str = Field(description="LendingPool address (Aave V2 mainnet: 0x7d2768dE...)")
    price_oracle: str | None = Field(default=None, description="default: the pool's addresses provider's")
    usd_reference: str | None = Field(
        default="USDC",
        description="$1 reserve converting the oracle's base currency to USD; null: base is USD",
    )
    base_unit: int = Field(default=10**18, ge=1, description="oracle base units per ETH (or per USD)")
    borrowers: tuple[str, ...] = Field(default=(), description="borrowers always read")
    discover_borrowers: bool = Field(default=True, description="also read recent Borrow logs' onBehalfOf")
    borrower_lookback_blocks: int = Field(default=50_000, ge=0)
    max_borrowers: int = Field(default=500, ge=0, description="most recent discovered borrowers read")
    liquidation_lookback_blocks: int = Field(default=7_200, ge=1, description="liquidations read at start")
    max_log_range: int = Field(default=2_000, ge=1, description="blocks per eth_getLogs")
    confirmations: int = Field(default=2, ge=0)
    batch_size: int = Field(default=100, ge=1, le=1000, description="calls per JSON-RPC batch")
    refresh_s: float = Field(default=300.0, gt=0, description="pool-state read period")
    max_stale_s: float = Field(
        default=900.0, gt=0, description="older inputs are dropped: the add-on runs price-only, flagged"
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @field_validator("lending_pool", "price_oracle")
    @classmethod
    def _contract(cls, value: str | None) -> str | None:
        return _address(value)

    @field_validator("rpc_url_file")
    @classmethod
    def _url_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> CascadePoolConfig:
        if (self.rpc_url is None) == (self.rpc_url_file is None):
            raise ValueError("give exactly one of 'rpc_url' or 'rpc_url_file'")
        return self

    def url(self) -> str:
        """The endpoint (read from rpc_url_file when given; ConfigError if it is unreadable or empty)."""
        if self.rpc_url is not None:
            return self.rpc_url.get_secret_value()
        assert self.rpc_url_file is not None
        try:
            text = self.rpc_url_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"cascade.pool.rpc_url_file = {self.rpc_url_file}: unreadable ({exc})"
            ) from None
        if not text:
            raise ConfigError(f"cascade.pool.rpc_url_file = {self.rpc_url_file}: empty")
        return text

    @field_validator("borrowers")
    @classmethod
    def _borrowers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for v in value:
            _address(v)
        return value


class CascadeConfig(BaseModel):
    """The liquidation-cascade add-on to LT (risk/cascade_addon.py, docs/cascade.md); off by default."""

    model_config = _FROZEN
    enabled: bool = Field(default=False, description="lower LT by the cascade add-on (lending markets)")
    collateral: str | None = Field(
        default=None,
        description="Aave reserve whose systemic score applies (WETH, WBTC); default from the market id's "
        "base asset (ETH -> WETH, BTC -> WBTC); an asset without a score gets systemic 0",
    )
    max_addon_bp: int = Field(default=500, ge=0, le=5000, description="cap of the add-on, bp")
    pool: CascadePoolConfig | None = Field(
        default=None, description="live liquidation feed and pool state; absent: price-only, flagged"
    )

    def asset(self, market_id: str) -> str:
        if self.collateral is not None:
            return self.collateral
        base = market_id.split("-", maxsplit=1)[0].upper()
        return {"ETH": "WETH", "BTC": "WBTC"}.get(base, base)


class MarketConfig(MarketDefaults):
    id: str
    sources: tuple[SourceConfig, ...] = ()
    cascade: CascadeConfig = Field(default_factory=CascadeConfig)
    history: str | None = Field(
        default=None,
        description="warm-up history, so a new market publishes on its first round: 'bundled:NAME', a "
        "file (daily 'date,price,volume' CSV, CryptoDataDownload hourly OHLCV export, Binance kline CSV "
        "of any interval; .gz accepted) or, live only, 'ccxt:<exchange>:<symbol>:<timeframe>' fetched "
        "with ccxt fetch_ohlcv at start, e.g. 'ccxt:binance:SOL/USDT:1d'",
    )

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        market_id_bytes32(value)
        return value

    @field_validator("history")
    @classmethod
    def _valid_history(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("ccxt:"):
            # loaded only for this form: it pulls in the ccxt client
            from oracle_node.sources.ccxt_history import spec_problem  # noqa: PLC0415

            problem = spec_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value


class ChainConfig(BaseModel):
    model_config = _FROZEN
    rpc_url: SecretStr = Field(
        default=SecretStr("http://127.0.0.1:8545"), description="JSON-RPC endpoint (redacted in logs)"
    )
    chain_id: int = Field(default=31337, ge=1)
    oracle_address: str | None = Field(
        default=None, description="RiskOracle address; required by run and check"
    )
    tx: TxPolicy = TxPolicy()

    @field_validator("oracle_address")
    @classmethod
    def _checksum(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not (
            value.startswith("0x")
            and len(value) == 42
            and all(c in "0123456789abcdefABCDEF" for c in value[2:])
        ):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return value


class SignerConfig(BaseModel):
    """The operator's key: an eth-account V3 keystore; no keystore means dry-run."""

    model_config = _FROZEN
    keystore: Path | None = None
    password_file: Path | None = None
    password_env: str | None = Field(
        default=None, description="name of the environment variable holding the password"
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> SignerConfig:
        if self.keystore is not None and (self.password_file is None) == (self.password_env is None):
            raise ValueError("a keystore needs exactly one of 'password_file' or 'password_env'")
        return self


class ModelConfig(BaseModel):
    model_config = _FROZEN
    manifest: str = Field(default="bundled", description="'bundled' or a path to a model manifest.json")
    refit_every_s: int = Field(default=86_400, ge=60, description="GJR-GARCH refit period per market")


class ServiceConfig(BaseModel):
    model_config = _FROZEN
    store_path: Path = Path("var/node.sqlite")
    tick_interval_s: float = Field(default=10.0, gt=0, description="how often each market's cycle runs")
    cycle_timeout_s: float = Field(default=20.0, gt=0)
    breaker_failures: int = Field(default=5, ge=1, description="consecutive failures that open the breaker")
    breaker_cooldown_s: float = Field(default=300.0, ge=0)
    report_ttl_s: int = Field(default=300, ge=10, description="report deadline = observedAt + this")
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    health_port: int | None = Field(default=None, ge=1, le=65535)
    health_max_silence_s: float = Field(
        default=120.0, gt=0, description="unhealthy when no cycle completed for this long"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    replay_ticks: Path | None = Field(
        default=None, description="run on a recorded tick CSV instead of live venues (demo, tests)"
    )
    replay_speed: float = Field(default=3600.0, gt=0, description="replayed seconds per wall-clock second")


class NetworkConfig(NetworkSettings):
    """The `network:` section: this node is one of n operators co-signing k-of-n reports.

    `peers` lists EVERY operator of the network as {address, url}, this node included (its own entry's
    URL is not called); `check` verifies the list is the on-chain signer set. genesis, period_s,
    leader_timeout_s, max_attempts, deadline_s, max_skew_s and tolerance must be the same on every node.
    With `service.replay_ticks`, round r replays data time first_tick + (slot_time(r) - genesis) x
    replay_speed, so genesis is when the replay starts (the same for every node).
    """

    genesis: float = Field(default=0.0, ge=0, description="unix time of round 0's slot")
    listen_port: int = Field(default=9470, ge=0, le=65535, description="peer protocol port (0: any)")


class SurfacesConfig(BaseModel):
    """The `surfaces:` section: this node also fits implied-vol surfaces and co-signs surface reports
    for the VolSurfaceOracle (network.surface_round), through the same rounds, key and sender.

    Live (no `chains`): every `every_rounds`-th round fetches each currency's Deribit chain from
    `deribit_url` and fits it. Replay: `chains` (recorded Deribit snapshot CSVs) are published in date
    order, one per `rounds_per_chain` rounds from `start_round` (every node of a network must name the
    same; a single operator may leave it to its first round). The tolerance fields are how far a
    leader's surfaces may lie from this node's own and still get its signature (same on every node).
    """

    model_config = _FROZEN
    oracle_address: str = Field(description="VolSurfaceOracle address (deployment JSON: surface_oracle)")
    currencies: tuple[str, ...] = Field(default=("BTC", "ETH"), min_length=1)
    every_rounds: int = Field(default=1, ge=1)
    deribit_url: str = "https://www.deribit.com"
    chains: tuple[Path, ...] = ()
    rounds_per_chain: int = Field(default=1, ge=1)
    start_round: int | None = Field(
        default=None, ge=0, description="replay's first round; None: the node's first (set it in a network)"
    )
    tolerance_vol: float = Field(default=0.01, gt=0, description="implied vol, absolute (0.01 = 1 vol point)")
    tolerance_forward: float = Field(default=0.005, gt=0, description="relative")
    tolerance_spot: float = Field(default=0.005, gt=0, description="relative")
    tolerance_shock_bp: int = Field(default=500, ge=0)

    @field_validator("oracle_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return ChainConfig._checksum(value) or value

    @field_validator("chains")
    @classmethod
    def _files(cls, value: tuple[Path, ...]) -> tuple[Path, ...]:
        missing = [str(p) for p in value if not p.is_file()]
        if missing:
            raise ValueError(f"chain files not found: {', '.join(missing)}")
        return value


class DashboardConfig(BaseModel):
    """The `dashboard:` section: a read-only web page of the node's state (service/dashboard); off
    unless enabled. Loopback by default: it names the node's signer, peers and chain contracts."""

    model_config = _FROZEN
    enabled: bool = False
    host: str = Field(default="127.0.0.1", min_length=1, description="interface to bind (loopback)")
    port: int = Field(default=9480, ge=0, le=65535, description="HTTP port of the page (0: any)")
    refresh_s: float = Field(default=2.0, ge=0.5, le=60, description="how often the page polls state.json")


class NodeConfig(BaseSettings):
    """Everything a node needs; built once by the CLI and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="ORACLE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    node_name: str = "oracle-node"
    chain: ChainConfig = ChainConfig()
    signer: SignerConfig = SignerConfig()
    market_defaults: MarketDefaults = MarketDefaults()
    markets: tuple[MarketConfig, ...] = ()
    guard: GuardParams = GuardParams()
    risk: RiskSettings = RiskSettings()
    model: ModelConfig = ModelConfig()
    service: ServiceConfig = ServiceConfig()
    network: NetworkConfig | None = Field(
        default=None, description="k-of-n network mode; absent = single operator (k = 1)"
    )
    surfaces: SurfacesConfig | None = Field(
        default=None, description="also publish implied-vol surfaces (VolSurfaceOracle); absent = no"
    )
    dashboard: DashboardConfig = DashboardConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the YAML file (passed as init kwargs by load_config).
        return env_settings, init_settings

    @field_validator("markets")
    @classmethod
    def _unique_markets(cls, value: tuple[MarketConfig, ...]) -> tuple[MarketConfig, ...]:
        ids = [m.id for m in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"market ids must be unique, repeated: {', '.join(dupes)}")
        return value

    def market(self, market_id: str) -> MarketConfig:
        """The configured market, or one built from market_defaults for a market the file does not list."""
        for m in self.markets:
            if m.id == market_id:
                return m
        return MarketConfig(id=market_id, **self.market_defaults.model_dump())

    def redacted(self) -> dict[str, Any]:
        """The config as logged at start: secrets masked, RPC URL reduced to scheme://host:port."""
        dumped = redact(self.model_dump(mode="json"))
        dumped["chain"]["rpc_url"] = redact_text(self.chain.rpc_url.get_secret_value())
        return dumped


def load_config(path: str | Path | None, environ: Mapping[str, str] | None = None) -> NodeConfig:
    """Read YAML (may be None for defaults + env only) and build the config, or raise ConfigError.

    `environ` (default: the process environment, which pydantic-settings reads) is only used to name
    the environment variable a bad value came from.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    lines: dict[tuple[str, ...], int] = {}
    source = str(path) if path is not None else "environment"
    if path is not None:
        data, lines = read_yaml(Path(path))
    try:
        return NodeConfig(**data)
    except ValidationError as exc:
        raise validation_error(exc, source, lines, env) from None
    except SettingsError as exc:
        raise settings_error(exc, env) from None
