"""Every threshold of the input guard, with the reason for its default.

The config layer embeds `GuardParams` (per market where it needs to); the guard itself only reads it.
Relative thresholds are in log-price units (0.002 = 0.2 %), which equal relative differences for the
small values used here and stay symmetric for large moves.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GuardParams(BaseModel):
    """Thresholds of the input guard. Frozen: build once from config, share freely."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- staleness -----------------------------------------------------------------------------------
    # Live connectors poll every ~30 s: a tick older than three missed polls no longer describes the book.
    max_age_s: float = Field(90.0, gt=0)
    # Clocks of exchanges and of this host disagree by a few seconds at most; more is a broken source.
    max_future_s: float = Field(5.0, ge=0)

    # --- frozen / pinned values ----------------------------------------------------------------------
    # Two prices this close are "the same print" (identical to ~9 significant digits).
    unchanged_rel: float = Field(1e-9, ge=0)
    # Peers "moved" when their median changed by more than 1 bp: far above rounding, far below noise.
    peer_move_rel: float = Field(1e-4, gt=0)
    # Repeated 3 observations in a row while the peers moved each time: a liquid market does not do
    # that by chance (3 consecutive identical closes against a moving cross-section).
    frozen_after_moves: int = Field(3, ge=1)
    # For 30 observations in a row the price repeated and the source showed no other sign of life
    # (its book unchanged, its volume not grown), whatever the peers did: the feed stopped updating
    # (15 min at 30 s polls; a live venue's book and traded volume move within minutes). A price alone
    # repeating is not enough: a market pinned to its peg or its tick (a stablecoin at 1.0000) repeats
    # its price on every venue at once while volumes and books keep moving, and must keep publishing.
    # A source that reports only a price gives no other sign of life, so for it a repeated price counts.
    max_repeats: int = Field(30, ge=1)

    # --- thin venues ---------------------------------------------------------------------------------
    # Absolute depth within ±1 % (quote units) below which a venue is thin; 0 disables it because the
    # right value depends on the market (set it per market in config).
    min_depth: float = Field(0.0, ge=0)
    # A venue with < 1 % of the deepest peer's depth can be moved for pocket money relative to the others.
    min_depth_share: float = Field(0.01, ge=0, lt=1)

    # --- de-duplication ------------------------------------------------------------------------------
    # source -> pool id for sources that price from one book but do not say so in Tick.pool.
    pools: dict[str, str] = Field(default_factory=dict)

    # --- cross-section outlier test ------------------------------------------------------------------
    # Reject beyond k scaled MADs from the median of the independent sources; 5 keeps honest venues in
    # even with fat-tailed dispersion (a normal would leave 1 in 1.7 million outside).
    outlier_k: float = Field(5.0, gt=0)
    # Floor of the scaled MAD: when venues agree to 1 bp the MAD collapses and plain noise would look
    # like an outlier. 0.2 % makes the narrowest band ±1 %, above the 99.9th percentile (0.37 %) of the
    # real Binance spot/perp hourly basis in 2020.
    mad_floor_rel: float = Field(0.002, gt=0)
    # Cap of the scaled MAD: two camps far apart must not widen the band until both are "inliers";
    # with k = 5 the widest band is ±5 %, so split markets end in degraded mode, never in an average.
    mad_cap_rel: float = Field(0.01, gt=0)

    # --- cumulative drift (two-sided CUSUM of the log-deviation from the peers' median) ------------
    # Allowance per observation: deviations inside it are basis, not drift (above the 99th percentile,
    # 0.17 %, of the real spot/perp hourly basis).
    drift_slack_rel: float = Field(0.0025, ge=0)
    # Alarm level of the CUSUM: 0.75 % of excess deviation, e.g. two observations 0.5 % and 1 % away.
    drift_limit_rel: float = Field(0.0075, gt=0)
    # Largest contribution of one observation, so a single bad print cannot trip the drift alarm alone
    # (jumps are the outlier test's job) while a walk of 0.5 % per tick trips it in two or three ticks.
    drift_step_cap_rel: float = Field(0.0075, gt=0)
    # Trust returns only after 12 consecutive in-line observations (12 h on hourly data, 6 min at 30 s).
    drift_recover_obs: int = Field(12, ge=1)
    # The CUSUM only moves when a source has at least 2 peers: against a single peer a deviation cannot
    # be attributed to either side (both would drift), and two sources never publish anyway.
    drift_min_peers: int = Field(2, ge=1)

    # --- weighting -----------------------------------------------------------------------------------
    # No venue may carry more than 40 % of the weight: below one half, no single venue sets the median.
    max_weight_share: float = Field(0.4, gt=0, le=1)

    # --- quorum --------------------------------------------------------------------------------------
    # Three independent sources: with two, a disagreement cannot be settled without averaging.
    min_sources: int = Field(3, ge=1)

    # --- flags ---------------------------------------------------------------------------------------
    # A 3 % move in one step is large for BTC (99th percentile of hourly moves in 2020 is ~2 %): flag it
    # as confirmed when the majority carries it, or as rejected when only a minority shows it.
    fast_move_rel: float = Field(0.03, gt=0)

    # --- confidence ----------------------------------------------------------------------------------
    # Dispersion at which the dispersion factor halves (1 / (1 + (d / ref)^2)): 0.5 % between venues
    # is a stressed market.
    dispersion_ref_rel: float = Field(0.005, gt=0)
    # Depth within ±1 % (quote units, summed over accepted venues) that earns full depth confidence;
    # USD 1 M is a modest book for a major pair; set per market for small ones.
    depth_ref: float = Field(1_000_000.0, gt=0)
    # Depth factor when no accepted venue reports depth: unmeasured cost of manipulation is not free.
    unknown_depth_score: float = Field(0.8, ge=0, le=1)
    # Freshness factor of a tick exactly max_age_s old (linear from 1 at age 0).
    stale_floor_score: float = Field(0.5, ge=0, le=1)
    # Degraded mode never reports more than this confidence.
    degraded_confidence_cap: float = Field(0.1, ge=0, le=1)

    @model_validator(mode="after")
    def _check_order(self) -> GuardParams:
        if self.mad_cap_rel < self.mad_floor_rel:
            raise ValueError(f"mad_cap_rel {self.mad_cap_rel} must be >= mad_floor_rel {self.mad_floor_rel}")
        if self.frozen_after_moves > self.max_repeats:
            raise ValueError(
                f"frozen_after_moves {self.frozen_after_moves} must be <= max_repeats {self.max_repeats}"
            )
        return self

    def pool_of(self, source: str, tick_pool: str | None) -> str:
        """The liquidity pool a source prices from: config map first, then the tick, then itself."""
        return self.pools.get(source) or tick_pool or source
