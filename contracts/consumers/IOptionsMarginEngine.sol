// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IRiskOracle} from "../interfaces/IRiskOracle.sol";

/// @title IOptionsMarginEngine
/// @notice An example protocol that consumes the RiskOracle safely: one ERC20 collateral per
///         account, a signed notional per (account, market), margin requirements from the oracle's
///         initial and maintenance margins, and liquidation when collateral falls below maintenance.
/// @dev Units: notionals and collateral are in collateral-token units; margins are basis points.
///        initial requirement     = ceil(sum_m |notional_m| * initialMargin_m     / 10000)
///        maintenance requirement = ceil(sum_m |notional_m| * maintenanceMargin_m / 10000)
///      The example carries no price feed, so positions have no PnL and equity = collateral.
///
///      Staleness rules (each market has its own owner-set oracle max age):
///      - opening or increasing risk and withdrawing collateral read every market the account holds
///        through `getRiskParamsNoOlderThan` and revert (fail closed) if any is stale or unpublished;
///      - reducing risk (a smaller |notional| on the same side, or zero) never reads the oracle and is
///        always allowed;
///      - the maintenance requirement (views and `liquidate`) uses, for a market whose data is stale,
///        unpublished or paused, the conservative fallback: the DAO's ceiling for maintenanceMargin,
///        `getMarketBounds(marketId).fields[4].ceiling`, never the old stored value. Any other oracle
///        failure (including running out of gas) reverts, so a caller cannot force the fallback.
///      The oracle's typed reads revert while the oracle or the market is paused, so a pause reaches
///      the engine exactly like stale data: opening and withdrawing fail closed, maintenance falls
///      back to the ceiling.
///
///      Liquidation grace period (`liquidationGracePeriod()`, fixed at deployment; the idea of Aave
///      V3's PriceOracleSentinel): an outage or a pause must not make healthy accounts liquidatable
///      at the ceiling the moment data becomes unusable, nor at new margins the moment it returns.
///      `liquidate` (and `isLiquidatable`) hold back while any market of the account is in grace:
///      - data unusable (stale, paused): until `unusableSince + grace`, where unusableSince is
///        observedAt + maxAge for stale data and the pause's start (`IRiskOracle.pauseWindow`) for
///        a pause; after that the ceiling fallback applies;
///      - data usable again after a pause: until the pause's end + grace.
///      Opening risk and withdrawing stay fail-closed throughout; depositing and reducing risk never
///      need the oracle, so an account can always cure itself during the grace period. After a
///      staleness outage the engine cannot tell how long the data was missing (the oracle keeps only
///      the latest report), so fresh margins apply at once; the grace before the ceiling covers it.
interface IOptionsMarginEngine {
    /// @notice Zero amount passed to deposit or withdraw.
    error OptionsMarginEngineZeroAmount();
    /// @notice Zero address passed to the constructor.
    error OptionsMarginEngineZeroAddress();
    /// @notice The market is not listed in the engine.
    error OptionsMarginEngineMarketNotListed(bytes32 marketId);
    /// @notice The market is not listed in the oracle (market word's listed bit is clear).
    error OptionsMarginEngineMarketNotInOracle(bytes32 marketId);
    /// @notice The max age is zero or above MAX_ORACLE_AGE.
    error OptionsMarginEngineInvalidMaxAge(bytes32 marketId, uint256 maxAge);
    /// @notice |notional| (or |delta| for adjustPosition) exceeds MAX_ABS_NOTIONAL.
    error OptionsMarginEngineNotionalTooLarge(bytes32 marketId, int256 notional);
    /// @notice The account already holds positions in MAX_MARKETS_PER_ACCOUNT markets.
    error OptionsMarginEngineTooManyMarkets(address account, uint256 limit);
    /// @notice The withdrawal exceeds the account's collateral.
    error OptionsMarginEngineWithdrawExceedsCollateral(address account, uint256 amount, uint256 collateral);
    /// @notice Collateral after the action would be below the initial requirement.
    error OptionsMarginEngineInsufficientCollateral(address account, uint256 collateral, uint256 requirement);
    /// @notice The account's collateral covers its maintenance requirement.
    error OptionsMarginEngineNotLiquidatable(address account, uint256 collateral, uint256 requirement);
    /// @notice The oracle read failed for a reason other than stale, unpublished or paused data.
    error OptionsMarginEngineOracleReadFailed(bytes32 marketId, bytes reason);
    /// @notice The grace period given at deployment exceeds MAX_GRACE_PERIOD.
    error OptionsMarginEngineInvalidGracePeriod(uint256 gracePeriod);
    /// @notice The account is below maintenance, but a market it holds is in its liquidation grace
    ///         period (data unusable, or usable again after a pause) until `until`.
    error OptionsMarginEngineLiquidationGrace(address account, bytes32 marketId, uint256 until);

    /// @notice The owner listed a market or changed its oracle max age.
    event MarketConfigured(bytes32 indexed marketId, uint32 maxAge);
    /// @notice Collateral was credited to an account (the amount actually received).
    event CollateralDeposited(address indexed account, uint256 amount);
    /// @notice Collateral was paid out to an account.
    event CollateralWithdrawn(address indexed account, uint256 amount);
    /// @notice A position's notional changed (also emitted for every position closed by liquidation).
    event PositionChanged(address indexed account, bytes32 indexed marketId, int256 oldNotional, int256 newNotional);
    /// @notice An account was liquidated: all positions closed, `penalty` paid to the liquidator.
    event AccountLiquidated(
        address indexed account,
        address indexed liquidator,
        uint256 collateralBefore,
        uint256 maintenanceRequirement,
        bool fallbackUsed,
        uint256 closedNotional,
        uint256 penalty
    );

    /// @notice List a market (or change its max age). Owner only.
    /// @param maxAge Oldest oracle data, in seconds, this engine accepts for the market.
    function listMarket(bytes32 marketId, uint32 maxAge) external;

    /// @notice Pull `amount` of the collateral token from the caller and credit what arrived.
    function deposit(uint256 amount) external;

    /// @notice Pay `amount` of the caller's collateral out; the rest must cover the initial
    ///         requirement on fresh data (reverts when any held market is stale).
    function withdraw(uint256 amount) external;

    /// @notice Set the caller's notional in a market (positive long, negative short, 0 closes).
    /// @dev Increasing risk (larger |notional|, a side flip, or a new market) needs fresh data for every
    ///      held market and collateral >= initial requirement afterwards; reducing is always allowed.
    function setPosition(bytes32 marketId, int256 newNotional) external;

    /// @notice Add `delta` to the caller's notional in a market; same rules as setPosition.
    function adjustPosition(bytes32 marketId, int256 delta) external;

    /// @notice Close all positions of an account whose collateral is below its maintenance
    ///         requirement and pay the caller the liquidation penalty from the account's collateral.
    /// @dev Penalty = LIQUIDATION_PENALTY_BPS (100 bp = 1%) of the total |notional| closed, rounded down,
    ///      capped at the account's collateral; the rest of the collateral stays with the account.
    ///      The requirement checked is the maintenance requirement with the stale-data fallback.
    /// @return penalty Collateral paid to the caller.
    function liquidate(address account) external returns (uint256 penalty);

    /// @notice The oracle read by the engine.
    function oracle() external view returns (IRiskOracle);

    /// @notice The collateral token.
    function collateralToken() external view returns (IERC20);

    /// @notice Oracle max age of a market in seconds; 0 when the market is not listed.
    function marketMaxAge(bytes32 marketId) external view returns (uint32);

    /// @notice Collateral credited to an account.
    function collateralOf(address account) external view returns (uint256);

    /// @notice An account's notional in a market.
    function positionOf(address account, bytes32 marketId) external view returns (int256);

    /// @notice Markets in which an account holds a non-zero notional (at most MAX_MARKETS_PER_ACCOUNT).
    function marketsOf(address account) external view returns (bytes32[] memory);

    /// @notice Initial requirement on fresh data; reverts if any held market is stale or unpublished.
    function initialRequirement(address account) external view returns (uint256);

    /// @notice Maintenance requirement, with the ceiling fallback for stale markets.
    function maintenanceRequirement(address account) external view returns (uint256);

    /// @notice Maintenance requirement and whether any market used the ceiling fallback.
    function maintenanceStatus(address account) external view returns (uint256 requirement, bool fallbackUsed);

    /// @notice Whether `liquidate(account)` would succeed now: collateral below the maintenance
    ///         requirement and no held market in its grace period.
    function isLiquidatable(address account) external view returns (bool);

    /// @notice Seconds of grace before a liquidation that an outage or a pause would otherwise allow.
    function liquidationGracePeriod() external view returns (uint256);

    /// @notice The latest end of a grace period among the account's markets, and that market; 0 when
    ///         none is in grace now.
    function liquidationGraceUntil(address account) external view returns (uint256 until, bytes32 marketId);
}
