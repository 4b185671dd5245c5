// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IRiskOracle} from "../interfaces/IRiskOracle.sol";
import {IOptionsMarginEngine} from "./IOptionsMarginEngine.sol";

/// @title OptionsMarginEngine
/// @notice Example options/perps margin engine reading RiskOracle margins; fails closed on stale data.
/// @dev See IOptionsMarginEngine for units, requirement formulas and the staleness rules.
///      Liquidation penalty: LIQUIDATION_PENALTY_BPS (1%) of the total |notional| closed, rounded
///      down, capped at the account's collateral; the rest of the collateral stays with the account.
///      Gas bound: an account holds at most MAX_MARKETS_PER_ACCOUNT (16) markets, so requirement
///      views make at most 16 oracle reads (plus 16 bounds reads on fallback), and `liquidate` at
///      most 16 more `pauseWindow` reads for the grace period.
contract OptionsMarginEngine is IOptionsMarginEngine, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Basis-point denominator (10000 = 100%).
    uint256 public constant BPS = 10_000;
    /// @notice Most markets one account may hold at once (bounds liquidation gas).
    uint256 public constant MAX_MARKETS_PER_ACCOUNT = 16;
    /// @notice Liquidator's penalty in bp of the total |notional| closed.
    uint256 public constant LIQUIDATION_PENALTY_BPS = 100;
    /// @notice Largest |notional| of one position, collateral units (keeps requirement sums in range).
    uint256 public constant MAX_ABS_NOTIONAL = uint256(uint128(type(int128).max));
    /// @notice Longest oracle max age the owner may configure for a market.
    uint32 public constant MAX_ORACLE_AGE = 7 days;
    /// @notice Field index of maintenanceMargin in IRiskOracle's params word and Bounds.fields.
    uint8 public constant MAINTENANCE_FIELD = 4;
    /// @notice Longest liquidation grace period the engine may be deployed with.
    uint256 public constant MAX_GRACE_PERIOD = 1 days;

    uint256 private constant LISTED_BIT = 232;

    /// @dev One slot: `slot` is the 1-based index of the market in the account's market list, 0 = none.
    struct Position {
        int128 notional;
        uint8 slot;
    }

    IRiskOracle private immutable _oracle;
    IERC20 private immutable _collateralToken;
    uint256 private immutable _gracePeriod;

    mapping(bytes32 marketId => uint32 maxAge) private _maxAge;
    mapping(address account => uint256 amount) private _collateral;
    mapping(address account => bytes32[] marketIds) private _accountMarkets;
    mapping(address account => mapping(bytes32 marketId => Position)) private _positions;

    /// @param oracle_ The RiskOracle to read.
    /// @param collateralToken_ The single ERC20 collateral.
    /// @param owner_ Owner allowed to list markets (two-step ownership transfer).
    /// @param gracePeriod_ Liquidation grace period in seconds (<= MAX_GRACE_PERIOD); see the interface.
    constructor(IRiskOracle oracle_, IERC20 collateralToken_, address owner_, uint256 gracePeriod_)
        Ownable(owner_)
    {
        if (address(oracle_) == address(0) || address(collateralToken_) == address(0)) {
            revert OptionsMarginEngineZeroAddress();
        }
        if (gracePeriod_ > MAX_GRACE_PERIOD) revert OptionsMarginEngineInvalidGracePeriod(gracePeriod_);
        _oracle = oracle_;
        _collateralToken = collateralToken_;
        _gracePeriod = gracePeriod_;
    }

    // ------------------------------------------------------------------------------------------
    // Owner
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsMarginEngine
    function listMarket(bytes32 marketId, uint32 maxAge) external onlyOwner {
        if (maxAge == 0 || maxAge > MAX_ORACLE_AGE) revert OptionsMarginEngineInvalidMaxAge(marketId, maxAge);
        if ((_oracle.getMarketWord(marketId) >> LISTED_BIT) & 1 == 0) {
            revert OptionsMarginEngineMarketNotInOracle(marketId);
        }
        _maxAge[marketId] = maxAge;
        emit MarketConfigured(marketId, maxAge);
    }

    // ------------------------------------------------------------------------------------------
    // Collateral
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsMarginEngine
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert OptionsMarginEngineZeroAmount();
        uint256 balanceBefore = _collateralToken.balanceOf(address(this));
        _collateralToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = _collateralToken.balanceOf(address(this)) - balanceBefore;
        _collateral[msg.sender] += received;
        emit CollateralDeposited(msg.sender, received);
    }

    /// @inheritdoc IOptionsMarginEngine
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert OptionsMarginEngineZeroAmount();
        uint256 collateral = _collateral[msg.sender];
        if (amount > collateral) revert OptionsMarginEngineWithdrawExceedsCollateral(msg.sender, amount, collateral);
        uint256 remaining = collateral - amount;
        uint256 requirement = _freshInitialRequirement(msg.sender);
        if (remaining < requirement) {
            revert OptionsMarginEngineInsufficientCollateral(msg.sender, remaining, requirement);
        }
        _collateral[msg.sender] = remaining;
        emit CollateralWithdrawn(msg.sender, amount);
        _collateralToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------
    // Positions
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsMarginEngine
    function setPosition(bytes32 marketId, int256 newNotional) external {
        _changePosition(msg.sender, marketId, newNotional);
    }

    /// @inheritdoc IOptionsMarginEngine
    function adjustPosition(bytes32 marketId, int256 delta) external {
        // |old| <= MAX, so bounding |delta| by 2 * MAX keeps old + delta far from int256 overflow;
        // _changePosition then rejects a result outside +-MAX with the same error.
        if (_abs(delta) > 2 * MAX_ABS_NOTIONAL) revert OptionsMarginEngineNotionalTooLarge(marketId, delta);
        _changePosition(msg.sender, marketId, _positions[msg.sender][marketId].notional + delta);
    }

    // ------------------------------------------------------------------------------------------
    // Liquidation
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsMarginEngine
    function liquidate(address account) external nonReentrant returns (uint256 penalty) {
        (uint256 requirement, bool fallbackUsed) = _maintenance(account);
        uint256 collateral = _collateral[account];
        if (collateral >= requirement) revert OptionsMarginEngineNotLiquidatable(account, collateral, requirement);
        (uint256 until, bytes32 graceMarket) = _graceUntil(account);
        if (until != 0) revert OptionsMarginEngineLiquidationGrace(account, graceMarket, until);
        uint256 closedNotional = _closeAll(account);
        penalty = closedNotional * LIQUIDATION_PENALTY_BPS / BPS;
        if (penalty > collateral) penalty = collateral;
        _collateral[account] = collateral - penalty;
        emit AccountLiquidated(account, msg.sender, collateral, requirement, fallbackUsed, closedNotional, penalty);
        if (penalty != 0) _collateralToken.safeTransfer(msg.sender, penalty);
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsMarginEngine
    function oracle() external view returns (IRiskOracle) {
        return _oracle;
    }

    /// @inheritdoc IOptionsMarginEngine
    function collateralToken() external view returns (IERC20) {
        return _collateralToken;
    }

    /// @inheritdoc IOptionsMarginEngine
    function marketMaxAge(bytes32 marketId) external view returns (uint32) {
        return _maxAge[marketId];
    }

    /// @inheritdoc IOptionsMarginEngine
    function collateralOf(address account) external view returns (uint256) {
        return _collateral[account];
    }

    /// @inheritdoc IOptionsMarginEngine
    function positionOf(address account, bytes32 marketId) external view returns (int256) {
        return _positions[account][marketId].notional;
    }

    /// @inheritdoc IOptionsMarginEngine
    function marketsOf(address account) external view returns (bytes32[] memory) {
        return _accountMarkets[account];
    }

    /// @inheritdoc IOptionsMarginEngine
    function initialRequirement(address account) external view returns (uint256) {
        return _freshInitialRequirement(account);
    }

    /// @inheritdoc IOptionsMarginEngine
    function maintenanceRequirement(address account) external view returns (uint256 requirement) {
        (requirement,) = _maintenance(account);
    }

    /// @inheritdoc IOptionsMarginEngine
    function maintenanceStatus(address account) external view returns (uint256 requirement, bool fallbackUsed) {
        return _maintenance(account);
    }

    /// @inheritdoc IOptionsMarginEngine
    function isLiquidatable(address account) external view returns (bool) {
        (uint256 requirement,) = _maintenance(account);
        if (_collateral[account] >= requirement) return false;
        (uint256 until,) = _graceUntil(account);
        return until == 0;
    }

    /// @inheritdoc IOptionsMarginEngine
    function liquidationGracePeriod() external view returns (uint256) {
        return _gracePeriod;
    }

    /// @inheritdoc IOptionsMarginEngine
    function liquidationGraceUntil(address account) external view returns (uint256 until, bytes32 marketId) {
        return _graceUntil(account);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    function _changePosition(address account, bytes32 marketId, int256 newNotional) private {
        if (_abs(newNotional) > MAX_ABS_NOTIONAL) revert OptionsMarginEngineNotionalTooLarge(marketId, newNotional);
        Position memory position = _positions[account][marketId];
        int256 oldNotional = position.notional;
        if (oldNotional == newNotional) return;
        _storePosition(account, marketId, position, newNotional);
        if (_increasesRisk(oldNotional, newNotional)) {
            if (_maxAge[marketId] == 0) revert OptionsMarginEngineMarketNotListed(marketId);
            uint256 requirement = _freshInitialRequirement(account);
            uint256 collateral = _collateral[account];
            if (collateral < requirement) {
                revert OptionsMarginEngineInsufficientCollateral(account, collateral, requirement);
            }
        }
        emit PositionChanged(account, marketId, oldNotional, newNotional);
    }

    /// @dev Risk grows when a position opens, grows in size, or flips side (a flip opens new exposure).
    function _increasesRisk(int256 oldNotional, int256 newNotional) private pure returns (bool) {
        if (newNotional == 0) return false;
        if (oldNotional == 0 || (oldNotional > 0) != (newNotional > 0)) return true;
        return _abs(newNotional) > _abs(oldNotional);
    }

    /// @dev Writes the notional and keeps the account's market list in step (swap-and-pop on close).
    function _storePosition(address account, bytes32 marketId, Position memory position, int256 newNotional) private {
        bytes32[] storage markets = _accountMarkets[account];
        if (newNotional == 0) {
            uint256 index = position.slot - 1;
            bytes32 last = markets[markets.length - 1];
            markets[index] = last;
            _positions[account][last].slot = position.slot;
            markets.pop();
            delete _positions[account][marketId];
            return;
        }
        if (position.slot == 0) {
            if (markets.length >= MAX_MARKETS_PER_ACCOUNT) {
                revert OptionsMarginEngineTooManyMarkets(account, MAX_MARKETS_PER_ACCOUNT);
            }
            markets.push(marketId);
            // At most MAX_MARKETS_PER_ACCOUNT (16) entries, so the length fits in uint8.
            // forge-lint: disable-next-line(unsafe-typecast)
            position.slot = uint8(markets.length);
        }
        // |newNotional| <= MAX_ABS_NOTIONAL = type(int128).max, checked by _changePosition.
        // forge-lint: disable-next-line(unsafe-typecast)
        position.notional = int128(newNotional);
        _positions[account][marketId] = position;
    }

    /// @dev Closes every position of the account; returns the total |notional| closed.
    function _closeAll(address account) private returns (uint256 closedNotional) {
        bytes32[] storage markets = _accountMarkets[account];
        for (uint256 i; i < markets.length; ++i) {
            bytes32 marketId = markets[i];
            int256 notional = _positions[account][marketId].notional;
            closedNotional += _abs(notional);
            delete _positions[account][marketId];
            emit PositionChanged(account, marketId, notional, 0);
        }
        delete _accountMarkets[account];
    }

    /// @dev ceil(sum |n| * IM / BPS) on data no older than each market's max age; reverts otherwise.
    function _freshInitialRequirement(address account) private view returns (uint256) {
        bytes32[] storage markets = _accountMarkets[account];
        uint256 weighted = 0;
        for (uint256 i; i < markets.length; ++i) {
            bytes32 marketId = markets[i];
            // Bounded loop (<= 16 markets) over the trusted oracle; a revert must fail the whole call.
            // slither-disable-next-line calls-loop
            IRiskOracle.RiskParams memory params = _oracle.getRiskParamsNoOlderThan(marketId, _maxAge[marketId]);
            weighted += _abs(_positions[account][marketId].notional) * params.initialMargin;
        }
        return _ceilDiv(weighted, BPS);
    }

    /// @dev ceil(sum |n| * MM / BPS), MM from fresh data or else the DAO's ceiling.
    function _maintenance(address account) private view returns (uint256 requirement, bool fallbackUsed) {
        bytes32[] storage markets = _accountMarkets[account];
        uint256 weighted = 0;
        for (uint256 i; i < markets.length; ++i) {
            bytes32 marketId = markets[i];
            (uint256 marginBps, bool usedCeiling) = _maintenanceMarginBps(marketId);
            weighted += _abs(_positions[account][marketId].notional) * marginBps;
            fallbackUsed = fallbackUsed || usedCeiling;
        }
        requirement = _ceilDiv(weighted, BPS);
    }

    function _maintenanceMarginBps(bytes32 marketId) private view returns (uint256 marginBps, bool usedCeiling) {
        // Called in a bounded loop (<= 16 markets); failures are classified below, never ignored.
        // slither-disable-next-line calls-loop
        try _oracle.getRiskParamsNoOlderThan(marketId, _maxAge[marketId]) returns (IRiskOracle.RiskParams memory p) {
            return (p.maintenanceMargin, false);
        } catch (bytes memory reason) {
            if (!_isUnusableData(reason)) revert OptionsMarginEngineOracleReadFailed(marketId, reason);
            // slither-disable-next-line calls-loop
            return (_oracle.getMarketBounds(marketId).fields[MAINTENANCE_FIELD].ceiling, true);
        }
    }

    /// @dev The latest grace end (> now) among the account's markets, 0 if none is in grace.
    function _graceUntil(address account) private view returns (uint256 until, bytes32 marketId) {
        if (_gracePeriod == 0) return (0, bytes32(0));
        bytes32[] storage markets = _accountMarkets[account];
        for (uint256 i; i < markets.length; ++i) {
            uint256 end = _marketGraceEnd(markets[i]);
            if (end > block.timestamp && end > until) (until, marketId) = (end, markets[i]);
        }
    }

    /// @dev When the market's grace period ends: unusable data is in grace until unusableSince + grace,
    ///      usable data until the end of the last pause + grace (0 or past: no grace).
    function _marketGraceEnd(bytes32 marketId) private view returns (uint256) {
        // Bounded loop (<= 16 markets) over the trusted oracle; failures are classified below. Only
        // whether the read succeeds matters here, not the params it returns.
        // slither-disable-next-line calls-loop,unused-return
        try _oracle.getRiskParamsNoOlderThan(marketId, _maxAge[marketId]) returns (IRiskOracle.RiskParams memory) {
            // slither-disable-next-line calls-loop,unused-return
            (, uint64 resumedAt) = _oracle.pauseWindow(marketId);
            return resumedAt == 0 ? 0 : uint256(resumedAt) + _gracePeriod;
        } catch (bytes memory reason) {
            bytes4 selector = _selector(reason);
            if (selector == IRiskOracle.RiskOracleStaleParams.selector) {
                return _staleObservedAt(reason) + _maxAge[marketId] + _gracePeriod;
            }
            if (selector == IRiskOracle.RiskOracleMarketPaused.selector || selector == IRiskOracle.RiskOraclePaused.selector) {
                // slither-disable-next-line calls-loop,unused-return
                (uint64 pausedSince,) = _oracle.pauseWindow(marketId);
                return uint256(pausedSince) + _gracePeriod;
            }
            // NoData: nothing was ever usable, no position could open on it; other errors revert in
            // _maintenance before this runs.
            return 0;
        }
    }

    /// @dev observedAt from RiskOracleStaleParams(bytes32 marketId, uint64 observedAt, uint256 maxAge).
    function _staleObservedAt(bytes memory reason) private pure returns (uint256 observedAt) {
        if (reason.length < 100) return 0;
        assembly ("memory-safe") {
            // data starts at reason + 32: selector (4), marketId (32), then observedAt.
            observedAt := mload(add(reason, 68))
        }
    }

    function _selector(bytes memory reason) private pure returns (bytes4) {
        if (reason.length < 4) return bytes4(0);
        // First four bytes of the revert data: the error selector.
        // forge-lint: disable-next-line(unsafe-typecast)
        return bytes4(reason);
    }

    /// @dev Only the oracle's own "data unusable" errors select the fallback; an empty reason (e.g.
    ///      out of gas forced by the caller) or any other error does not.
    function _isUnusableData(bytes memory reason) private pure returns (bool) {
        bytes4 selector = _selector(reason);
        return selector == IRiskOracle.RiskOracleStaleParams.selector
            || selector == IRiskOracle.RiskOracleNoData.selector
            || selector == IRiskOracle.RiskOracleMarketPaused.selector
            || selector == IRiskOracle.RiskOraclePaused.selector;
    }

    /// @dev |x| for every int256, type(int256).min included (its magnitude is 2^255).
    function _abs(int256 x) private pure returns (uint256) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return x >= 0 ? uint256(x) : (x == type(int256).min ? uint256(type(int256).max) + 1 : uint256(-x));
    }

    function _ceilDiv(uint256 a, uint256 b) private pure returns (uint256) {
        return a == 0 ? 0 : (a - 1) / b + 1;
    }
}
