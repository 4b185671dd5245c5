// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IVolSurfaceOracle} from "../interfaces/IVolSurfaceOracle.sol";

/// @title IOptionsPortfolioMarginEngine
/// @notice Portfolio margin for option books: accounts hold European options (underlying, expiry,
///         strike, call/put, signed size) and linear positions (signed size on the underlying)
///         against one ERC20 collateral; the initial margin is the worst loss of the book over a
///         scenario grid built from the VolSurfaceOracle's published shocks, each option revalued
///         with Black-76 at its smile's sigma(K, T). See docs/options-margin.md.
/// @dev Units: sizes are signed 18-decimal units of the underlying (1e18 = one BTC); strikes,
///      forwards, spots and values are 18-decimal USD ("WAD"); collateral is in token units.
///
///      Scenario grid, per underlying (moves x are fractions of the published priceMove pm):
///      - at unchanged vol: x in {-1, -1/2, 0, +1/2, +1} * pm (weight 1);
///      - at vol up and at vol down: x in {-1, 0, +1} * pm (weight 1);
///      - extreme: x in {-3, -2, +2, +3} * pm at unchanged vol, the loss weighted 1/3, 1/2, 1/2, 1/3
///        (a linear position loses exactly its core loss there; only convexity, e.g. short wings, adds).
///      15 scenarios, 30 evaluations of N(x) per option.
///      Down moves stop at -95 %. Vol shocks scale implied vol, term-scaled as Deribit does:
///      sigma_up = sigma * (1 + volUp * (30d / T)^0.3), sigma_down = sigma * max(1 - volDown *
///      (30d / T)^0.13, 0.1), T = max(expiry - now, 1 day). Sticky strike: each option keeps its
///      smile's sigma(K) in every price scenario.
///      Valuation: V_s = sum of option values (Black-76 on the scenario forward F (1 + x)) times size,
///      plus linear P&L size * spot * x. The engine books no premiums, so an account's book stands at
///      zero cost: per underlying, requirement_u = max(0, max_s(w_s (V_0 - V_s)) - V_0), where V_0 is
///      the unshocked value (the worst loss plus the net short mark; a long option's value offsets
///      losses of the same underlying but is never withdrawable). Initial margin = sum_u requirement_u
///      (no netting across underlyings), rounded up to token units; maintenance = factor * initial.
///
///      Oracle use, fail-closed: opening or increasing risk, withdrawing, liquidating and the
///      `marginFor` view read every underlying and expiry the book holds with the owner-set max age
///      and revert on stale, paused, unknown or unpublished data (the oracle's own error bubbles up).
///      Oracle-free actions, always allowed: deposit; reducing a short option (it lowers V_s in no
///      scenario); reducing a linear position on an underlying where the account holds no short
///      option; closing the whole book (`closeAll`). Reducing a long option or a hedging linear
///      position can increase risk and takes the full check.
///      Expired options (expiry <= now) are valued at intrinsic value at the oracle's frozen
///      `settlementPrice` in every scenario; until it exists, a margin check over them reverts.
interface IOptionsPortfolioMarginEngine {
    /// @notice One option position, as given to `marginFor` and returned by `optionsOf`.
    struct OptionPosition {
        bytes32 underlying;
        uint64 expiry;
        uint256 strike;
        bool isCall;
        int256 size;
    }

    /// @notice One linear position, as given to `marginFor`.
    struct LinearPosition {
        bytes32 underlying;
        int256 size;
    }

    /// @notice Zero amount passed to deposit or withdraw.
    error PortfolioMarginZeroAmount();
    /// @notice Zero address passed to the constructor.
    error PortfolioMarginZeroAddress();
    /// @notice The underlying is not listed in the engine.
    error PortfolioMarginUnderlyingNotListed(bytes32 underlying);
    /// @notice MAX_UNDERLYINGS underlyings are already listed.
    error PortfolioMarginTooManyUnderlyings(uint256 limit);
    /// @notice The max age is zero or above MAX_ORACLE_AGE.
    error PortfolioMarginInvalidMaxAge(bytes32 underlying, uint256 maxAge);
    /// @notice The maintenance factor is outside [MIN_MAINTENANCE_FACTOR, 1e18].
    error PortfolioMarginInvalidMaintenanceFactor(uint256 factor);
    /// @notice The grace period given at deployment exceeds MAX_GRACE_PERIOD.
    error PortfolioMarginInvalidGracePeriod(uint256 gracePeriod);
    /// @notice |size| exceeds MAX_ABS_SIZE.
    error PortfolioMarginSizeTooLarge(bytes32 underlying, int256 size);
    /// @notice The strike is outside [MIN_STRIKE, MAX_STRIKE].
    error PortfolioMarginInvalidStrike(uint256 strike);
    /// @notice A stored position's strike or size is not a whole number of STORAGE_UNIT (1e-6 USD, 1e-6
    ///         underlying units): positions are stored two per slot in fixed decimals.
    error PortfolioMarginUnrepresentable(uint256 strike, int256 size);
    /// @notice The account's collateral would exceed 2^128 - 1 token units.
    error PortfolioMarginCollateralTooLarge(address account, uint256 collateral);
    /// @notice The expiry does not fit the engine's 32-bit storage (after 2106-02-07).
    error PortfolioMarginInvalidExpiry(uint64 expiry);
    /// @notice Opening or increasing an option whose expiry has passed.
    error PortfolioMarginOptionExpired(bytes32 underlying, uint64 expiry);
    /// @notice The account already holds MAX_OPTIONS_PER_ACCOUNT options.
    error PortfolioMarginTooManyOptions(address account, uint256 limit);
    /// @notice The shocks or the spot the margin needs are older than the underlying's max age.
    error PortfolioMarginStaleData(bytes32 underlying, uint64 observedAt, uint256 maxAge);
    /// @notice The oracle published a forward or spot outside (0, MAX_PRICE], a price move of 100 % or
    ///         more, or a smile observed at or after its expiry.
    error PortfolioMarginBadOracleData(bytes32 underlying, uint64 expiry);
    /// @notice The withdrawal exceeds the account's collateral.
    error PortfolioMarginWithdrawExceedsCollateral(address account, uint256 amount, uint256 collateral);
    /// @notice Collateral after the action would be below the initial margin.
    error PortfolioMarginInsufficientCollateral(address account, uint256 collateral, uint256 requirement);
    /// @notice The account's collateral covers its maintenance margin.
    error PortfolioMarginNotLiquidatable(address account, uint256 collateral, uint256 requirement);
    /// @notice An underlying of the account resumed from a pause less than the grace period ago.
    error PortfolioMarginLiquidationGrace(address account, bytes32 underlying, uint256 until);

    /// @notice The owner listed an underlying or changed its oracle max age.
    event UnderlyingConfigured(bytes32 indexed underlying, uint32 maxAge);
    /// @notice The owner (the DAO) changed the maintenance factor.
    event MaintenanceFactorSet(uint256 factor);
    /// @notice Collateral was credited to an account (the amount actually received).
    event CollateralDeposited(address indexed account, uint256 amount);
    /// @notice Collateral was paid out to an account.
    event CollateralWithdrawn(address indexed account, uint256 amount);
    /// @notice An option position changed (also emitted for each option closed by closeAll/liquidation).
    event OptionPositionChanged(
        address indexed account,
        bytes32 indexed underlying,
        uint64 expiry,
        uint256 strike,
        bool isCall,
        int256 oldSize,
        int256 newSize
    );
    /// @notice A linear position changed.
    event LinearPositionChanged(address indexed account, bytes32 indexed underlying, int256 oldSize, int256 newSize);
    /// @notice An expired option was removed at its settlement price; `payoff` (WAD USD, signed by
    ///         the position's side) is what a venue settling cash owes (+) or is owed (-) by the account.
    event OptionSettled(
        address indexed account,
        bytes32 indexed underlying,
        uint64 expiry,
        uint256 strike,
        bool isCall,
        int256 size,
        uint256 settlementPrice,
        int256 payoff
    );
    /// @notice An account was liquidated: all positions closed, `penalty` paid to the liquidator.
    event AccountLiquidated(
        address indexed account,
        address indexed liquidator,
        uint256 collateralBefore,
        uint256 maintenanceRequirement,
        uint256 penalty
    );

    /// @notice List an underlying (or change its max age). Owner only.
    function listUnderlying(bytes32 underlying, uint32 maxAge) external;

    /// @notice Set the maintenance factor (WAD, in [MIN_MAINTENANCE_FACTOR, 1e18]). Owner (DAO) only.
    function setMaintenanceFactor(uint256 factor) external;

    /// @notice Pull `amount` of the collateral token from the caller and credit what arrived.
    function deposit(uint256 amount) external;

    /// @notice Pay out `amount`; the remaining collateral must cover the initial margin on fresh data.
    function withdraw(uint256 amount) external;

    /// @notice Set the caller's size in an option (0 closes it). Reducing a short needs no oracle;
    ///         anything else needs fresh data and collateral >= initial margin afterwards.
    function setOption(bytes32 underlying, uint64 expiry, uint256 strike, bool isCall, int256 size) external;

    /// @notice Set the caller's linear size on an underlying (0 closes it); same rules as setOption,
    ///         a reduction is oracle-free only while the account holds no short option on the underlying.
    function setLinear(bytes32 underlying, int256 size) external;

    /// @notice Close every position of the caller. Never reads the oracle.
    function closeAll() external;

    /// @notice Remove the account's expired options whose settlement price is recorded (anyone may call).
    /// @return settled How many options were removed.
    function settleExpired(address account) external returns (uint256 settled);

    /// @notice Close all positions of an account whose collateral is below its maintenance margin and
    ///         pay the caller LIQUIDATION_PENALTY (WAD fraction) of that margin, capped at the collateral.
    function liquidate(address account) external returns (uint256 penalty);

    /// @notice The surface oracle read by the engine.
    function oracle() external view returns (IVolSurfaceOracle);

    /// @notice The collateral token.
    function collateralToken() external view returns (IERC20);

    /// @notice Maintenance margin as a WAD fraction of the initial margin.
    function maintenanceFactor() external view returns (uint256);

    /// @notice Seconds after a pause ends during which liquidations are held back.
    function liquidationGracePeriod() external view returns (uint256);

    /// @notice Oracle max age of an underlying in seconds; 0 when not listed.
    function underlyingMaxAge(bytes32 underlying) external view returns (uint32);

    /// @notice Collateral credited to an account (token units).
    function collateralOf(address account) external view returns (uint256);

    /// @notice An account's option positions.
    function optionsOf(address account) external view returns (OptionPosition[] memory);

    /// @notice An account's linear size on an underlying.
    function linearOf(address account, bytes32 underlying) external view returns (int256);

    /// @notice Initial margin of an account in token units (fresh data; reverts otherwise).
    function initialMargin(address account) external view returns (uint256);

    /// @notice Maintenance margin of an account in token units (fresh data; reverts otherwise).
    function maintenanceMargin(address account) external view returns (uint256);

    /// @notice Initial and maintenance margin of any book (WAD USD, unrounded) on fresh data, for
    ///         integrators and the differential test. Duplicated entries add up.
    function marginFor(OptionPosition[] calldata options, LinearPosition[] calldata linear)
        external
        view
        returns (uint256 initialWad, uint256 maintenanceWad);

    /// @notice Whether `liquidate(account)` would succeed now; reverts like `liquidate` while the data
    ///         the book needs is unusable (then no liquidation can succeed either).
    function isLiquidatable(address account) external view returns (bool);

    /// @notice The end of the liquidation grace period of the account's underlyings, 0 if none now.
    function liquidationGraceUntil(address account) external view returns (uint256 until, bytes32 underlying);
}
