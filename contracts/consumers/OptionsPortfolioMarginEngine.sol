// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IVolSurfaceOracle} from "../interfaces/IVolSurfaceOracle.sol";
import {IOptionsPortfolioMarginEngine} from "./IOptionsPortfolioMarginEngine.sol";
import {Black76} from "../libraries/Black76.sol";
import {Black76NormalCdf} from "../libraries/Black76NormalCdf.sol";
import {ScenarioGrid} from "../libraries/ScenarioGrid.sol";

/// @title OptionsPortfolioMarginEngine
/// @notice Scenario-based portfolio margin for option books on the VolSurfaceOracle's smiles.
/// @dev See IOptionsPortfolioMarginEngine for the grid, the valuation and the oracle rules, and
///      docs/options-margin.md for the reasoning, the error bounds and the gas.
///      Storage of one option, one slot (the account's list holds at most MAX_OPTIONS_PER_ACCOUNT):
///        bits   0..95   size    int96 (two's complement), WAD units of the underlying
///        bits  96..191  strike  uint96, WAD USD
///        bits 192..231  expiry  uint40, unix seconds
///        bits 232..239  underlying index (1-based) into the engine's listed underlyings
///        bit  240       isCall
///      Bits 96 and up are the option's key.
contract OptionsPortfolioMarginEngine is IOptionsPortfolioMarginEngine, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Most underlyings the engine lists.
    uint256 public constant MAX_UNDERLYINGS = 16;
    /// @notice Most options one account holds (bounds margin-check and liquidation gas).
    uint256 public constant MAX_OPTIONS_PER_ACCOUNT = 128;
    /// @notice Largest |size| of one position, WAD units of the underlying (1e9 units).
    uint256 public constant MAX_ABS_SIZE = 1e27;
    /// @notice Strike range, WAD USD.
    uint256 public constant MIN_STRIKE = 1e12;
    uint256 public constant MAX_STRIKE = 1e28;
    /// @notice Largest forward or spot the engine accepts from the oracle, WAD USD.
    uint256 public constant MAX_PRICE = 1e30;
    /// @notice Longest oracle max age the owner may set.
    uint32 public constant MAX_ORACLE_AGE = 7 days;
    /// @notice Longest liquidation grace period the engine may be deployed with.
    uint256 public constant MAX_GRACE_PERIOD = 1 days;
    /// @notice Smallest maintenance factor the DAO may set (WAD).
    uint256 public constant MIN_MAINTENANCE_FACTOR = 0.5e18;
    /// @notice Liquidator's reward, WAD fraction of the maintenance margin.
    uint256 public constant LIQUIDATION_PENALTY = 0.1e18;

    uint256 private constant SIZE_MASK = (1 << 96) - 1;
    uint256 private constant CALL_BIT = 1 << 240;

    struct UnderlyingConfig {
        uint8 index;
        uint32 maxAge;
    }

    /// @dev A book in memory: packed option slots and linear sizes by underlying index.
    struct Book {
        uint256[] options;
        int256[17] linear;
        uint256 used;
    }

    IVolSurfaceOracle private immutable _oracle;
    /// @dev The normal-CDF coefficient table as a data contract (Black76NormalCdf.deployTable).
    address private immutable _cdfTable;
    IERC20 private immutable _collateralToken;
    uint256 private immutable _gracePeriod;
    uint256 private immutable _tokenUnit;

    uint256 private _maintenanceFactor;
    bytes32[] private _underlyings;
    mapping(bytes32 underlying => UnderlyingConfig) private _config;
    mapping(address account => uint256 amount) private _collateral;
    mapping(address account => uint256[] slots) private _options;
    mapping(address account => mapping(uint256 index => int256 size)) private _linear;
    mapping(address account => uint256 mask) private _linearMask;

    /// @param oracle_ The VolSurfaceOracle to read.
    /// @param collateralToken_ The single ERC20 collateral (at most 18 decimals), valued at 1 USD.
    /// @param owner_ Owner (the DAO's timelock) listing underlyings and setting the maintenance factor.
    /// @param gracePeriod_ Liquidation grace period after a pause ends, seconds (<= MAX_GRACE_PERIOD).
    /// @param maintenanceFactor_ Maintenance margin / initial margin, WAD (e.g. 0.8e18).
    constructor(
        IVolSurfaceOracle oracle_,
        IERC20 collateralToken_,
        address owner_,
        uint256 gracePeriod_,
        uint256 maintenanceFactor_
    ) Ownable(owner_) {
        if (address(oracle_) == address(0) || address(collateralToken_) == address(0)) {
            revert PortfolioMarginZeroAddress();
        }
        if (gracePeriod_ > MAX_GRACE_PERIOD) revert PortfolioMarginInvalidGracePeriod(gracePeriod_);
        _oracle = oracle_;
        _cdfTable = Black76NormalCdf.deployTable();
        _collateralToken = collateralToken_;
        _gracePeriod = gracePeriod_;
        _tokenUnit = 10 ** (18 - IERC20Metadata(address(collateralToken_)).decimals());
        _setMaintenanceFactor(maintenanceFactor_);
    }

    // ------------------------------------------------------------------------------------------
    // Owner
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function listUnderlying(bytes32 underlying, uint32 maxAge) external onlyOwner {
        if (maxAge == 0 || maxAge > MAX_ORACLE_AGE) revert PortfolioMarginInvalidMaxAge(underlying, maxAge);
        UnderlyingConfig memory cfg = _config[underlying];
        if (cfg.index == 0) {
            if (_underlyings.length >= MAX_UNDERLYINGS) revert PortfolioMarginTooManyUnderlyings(MAX_UNDERLYINGS);
            _underlyings.push(underlying);
            // At most 16 underlyings: the index fits in uint8.
            // forge-lint: disable-next-line(unsafe-typecast)
            cfg.index = uint8(_underlyings.length);
        }
        cfg.maxAge = maxAge;
        _config[underlying] = cfg;
        emit UnderlyingConfigured(underlying, maxAge);
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function setMaintenanceFactor(uint256 factor) external onlyOwner {
        _setMaintenanceFactor(factor);
    }

    // ------------------------------------------------------------------------------------------
    // Collateral
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert PortfolioMarginZeroAmount();
        uint256 balanceBefore = _collateralToken.balanceOf(address(this));
        _collateralToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = _collateralToken.balanceOf(address(this)) - balanceBefore;
        _collateral[msg.sender] += received;
        emit CollateralDeposited(msg.sender, received);
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert PortfolioMarginZeroAmount();
        uint256 collateral = _collateral[msg.sender];
        if (amount > collateral) revert PortfolioMarginWithdrawExceedsCollateral(msg.sender, amount, collateral);
        uint256 remaining = collateral - amount;
        uint256 requirement = _toToken(_initialWad(_bookOf(msg.sender)));
        if (remaining < requirement) revert PortfolioMarginInsufficientCollateral(msg.sender, remaining, requirement);
        _collateral[msg.sender] = remaining;
        emit CollateralWithdrawn(msg.sender, amount);
        _collateralToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------
    // Positions
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function setOption(bytes32 underlying, uint64 expiry, uint256 strike, bool isCall, int256 size) external {
        uint256 index = _listedIndex(underlying);
        if (strike < MIN_STRIKE || strike > MAX_STRIKE) revert PortfolioMarginInvalidStrike(strike);
        if (expiry > type(uint40).max) revert PortfolioMarginInvalidExpiry(expiry);
        if (_abs(size) > MAX_ABS_SIZE) revert PortfolioMarginSizeTooLarge(underlying, size);
        uint256 key = (uint256(expiry) << 96) | (index << 136) | strike | (isCall ? CALL_BIT >> 96 : 0);
        int256 oldSize = _storeOption(msg.sender, key, size);
        if (oldSize == size) return;
        emit OptionPositionChanged(msg.sender, underlying, expiry, strike, isCall, oldSize, size);
        if (oldSize < 0 && size <= 0 && size > oldSize) return; // a smaller short: risk only falls
        if (_increases(oldSize, size) && expiry <= block.timestamp) {
            revert PortfolioMarginOptionExpired(underlying, expiry);
        }
        _requireInitial(msg.sender);
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function setLinear(bytes32 underlying, int256 size) external {
        uint256 index = _listedIndex(underlying);
        if (_abs(size) > MAX_ABS_SIZE) revert PortfolioMarginSizeTooLarge(underlying, size);
        int256 oldSize = _linear[msg.sender][index];
        if (oldSize == size) return;
        _linear[msg.sender][index] = size;
        uint256 mask = _linearMask[msg.sender];
        _linearMask[msg.sender] = size == 0 ? mask & ~(1 << index) : mask | (1 << index);
        emit LinearPositionChanged(msg.sender, underlying, oldSize, size);
        if (!_increases(oldSize, size) && !_holdsShortOption(msg.sender, index)) return;
        _requireInitial(msg.sender);
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function closeAll() external {
        _closeAll(msg.sender);
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function settleExpired(address account) external returns (uint256 settled) {
        uint256[] storage slots = _options[account];
        uint256 i = slots.length;
        while (i > 0) {
            --i;
            uint256 slot = slots[i];
            uint64 expiry = _expiryOf(slot);
            if (expiry > block.timestamp) continue;
            bytes32 underlying = _underlyings[_indexOf(slot) - 1];
            // Only the frozen price matters here, not when it was observed.
            // slither-disable-next-line calls-loop,unused-return
            try _oracle.settlementPrice(underlying, expiry) returns (uint256 price, uint64) {
                _emitSettled(account, underlying, slot, price);
                slots[i] = slots[slots.length - 1];
                slots.pop();
                ++settled;
            } catch {
                continue; // not settled yet (or the oracle paused): the option stays
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Liquidation
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function liquidate(address account) external nonReentrant returns (uint256 penalty) {
        uint256 requirement = _maintenance(_toToken(_initialWad(_bookOf(account))));
        uint256 collateral = _collateral[account];
        if (collateral >= requirement) revert PortfolioMarginNotLiquidatable(account, collateral, requirement);
        (uint256 until, bytes32 graceUnderlying) = _graceUntil(account);
        if (until != 0) revert PortfolioMarginLiquidationGrace(account, graceUnderlying, until);
        _closeAll(account);
        penalty = requirement * LIQUIDATION_PENALTY / 1e18;
        if (penalty > collateral) penalty = collateral;
        _collateral[account] = collateral - penalty;
        emit AccountLiquidated(account, msg.sender, collateral, requirement, penalty);
        if (penalty != 0) _collateralToken.safeTransfer(msg.sender, penalty);
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function oracle() external view returns (IVolSurfaceOracle) {
        return _oracle;
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function collateralToken() external view returns (IERC20) {
        return _collateralToken;
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function maintenanceFactor() external view returns (uint256) {
        return _maintenanceFactor;
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function liquidationGracePeriod() external view returns (uint256) {
        return _gracePeriod;
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function underlyingMaxAge(bytes32 underlying) external view returns (uint32) {
        return _config[underlying].maxAge;
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function collateralOf(address account) external view returns (uint256) {
        return _collateral[account];
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function optionsOf(address account) external view returns (OptionPosition[] memory positions) {
        uint256[] storage slots = _options[account];
        positions = new OptionPosition[](slots.length);
        for (uint256 i; i < slots.length; ++i) {
            uint256 slot = slots[i];
            positions[i] = OptionPosition({
                underlying: _underlyings[_indexOf(slot) - 1],
                expiry: _expiryOf(slot),
                strike: _strikeOf(slot),
                isCall: slot & CALL_BIT != 0,
                size: _sizeOf(slot)
            });
        }
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function linearOf(address account, bytes32 underlying) external view returns (int256) {
        uint256 index = _config[underlying].index;
        return index == 0 ? int256(0) : _linear[account][index];
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function initialMargin(address account) external view returns (uint256) {
        return _toToken(_initialWad(_bookOf(account)));
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function maintenanceMargin(address account) external view returns (uint256) {
        return _maintenance(_toToken(_initialWad(_bookOf(account))));
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function marginFor(OptionPosition[] calldata options, LinearPosition[] calldata linear)
        external
        view
        returns (uint256 initialWad, uint256 maintenanceWad)
    {
        initialWad = _initialWad(_bookFrom(options, linear));
        maintenanceWad = _maintenance(initialWad);
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function isLiquidatable(address account) external view returns (bool) {
        uint256 requirement = _maintenance(_toToken(_initialWad(_bookOf(account))));
        if (_collateral[account] >= requirement) return false;
        (uint256 until,) = _graceUntil(account);
        return until == 0;
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function liquidationGraceUntil(address account) external view returns (uint256 until, bytes32 underlying) {
        return _graceUntil(account);
    }

    // ------------------------------------------------------------------------------------------
    // Internals: positions
    // ------------------------------------------------------------------------------------------

    function _setMaintenanceFactor(uint256 factor) private {
        if (factor < MIN_MAINTENANCE_FACTOR || factor > 1e18) revert PortfolioMarginInvalidMaintenanceFactor(factor);
        _maintenanceFactor = factor;
        emit MaintenanceFactorSet(factor);
    }

    function _listedIndex(bytes32 underlying) private view returns (uint256 index) {
        index = _config[underlying].index;
        if (index == 0) revert PortfolioMarginUnderlyingNotListed(underlying);
    }

    /// @dev Writes the option's new size (push, update or swap-and-pop); returns the old size.
    function _storeOption(address account, uint256 key, int256 size) private returns (int256 oldSize) {
        uint256[] storage slots = _options[account];
        uint256 n = slots.length;
        // |size| <= MAX_ABS_SIZE < 2^95: its low 96 bits are its int96 two's complement.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 packed = (key << 96) | (uint256(size) & SIZE_MASK);
        for (uint256 i; i < n; ++i) {
            uint256 slot = slots[i];
            if (slot >> 96 != key) continue;
            oldSize = _sizeOf(slot);
            if (size == oldSize) return oldSize;
            if (size != 0) {
                slots[i] = packed;
            } else {
                slots[i] = slots[n - 1];
                slots.pop();
            }
            return oldSize;
        }
        if (size == 0) return 0;
        if (n >= MAX_OPTIONS_PER_ACCOUNT) revert PortfolioMarginTooManyOptions(account, MAX_OPTIONS_PER_ACCOUNT);
        slots.push(packed);
    }

    function _holdsShortOption(address account, uint256 index) private view returns (bool) {
        uint256[] storage slots = _options[account];
        for (uint256 i; i < slots.length; ++i) {
            uint256 slot = slots[i];
            if (_indexOf(slot) == index && _sizeOf(slot) < 0) return true;
        }
        return false;
    }

    /// @dev Risk may grow when a position opens, grows, or flips side.
    function _increases(int256 oldSize, int256 newSize) private pure returns (bool) {
        if (newSize == 0) return false;
        if (oldSize == 0 || (oldSize > 0) != (newSize > 0)) return true;
        return _abs(newSize) > _abs(oldSize);
    }

    function _requireInitial(address account) private view {
        uint256 requirement = _toToken(_initialWad(_bookOf(account)));
        uint256 collateral = _collateral[account];
        if (collateral < requirement) revert PortfolioMarginInsufficientCollateral(account, collateral, requirement);
    }

    function _closeAll(address account) private {
        uint256[] storage slots = _options[account];
        for (uint256 i; i < slots.length; ++i) {
            uint256 slot = slots[i];
            emit OptionPositionChanged(
                account,
                _underlyings[_indexOf(slot) - 1],
                _expiryOf(slot),
                _strikeOf(slot),
                slot & CALL_BIT != 0,
                _sizeOf(slot),
                0
            );
        }
        delete _options[account];
        uint256 mask = _linearMask[account];
        for (uint256 index = 1; mask >> index != 0; ++index) {
            if ((mask >> index) & 1 == 0) continue;
            emit LinearPositionChanged(account, _underlyings[index - 1], _linear[account][index], 0);
            delete _linear[account][index];
        }
        delete _linearMask[account];
    }

    function _emitSettled(address account, bytes32 underlying, uint256 slot, uint256 price) private {
        int256 size = _sizeOf(slot);
        uint256 strike = _strikeOf(slot);
        bool isCall = slot & CALL_BIT != 0;
        // intrinsic <= max(price, strike) <= MAX_PRICE: the product is far inside int256.
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 payoff = size * int256(Black76.intrinsic(price, strike, isCall)) / 1e18;
        emit OptionSettled(account, underlying, _expiryOf(slot), strike, isCall, size, price, payoff);
    }

    // ------------------------------------------------------------------------------------------
    // Internals: margin
    // ------------------------------------------------------------------------------------------

    function _bookOf(address account) private view returns (Book memory book) {
        book.options = _options[account];
        uint256 mask = _linearMask[account];
        for (uint256 index = 1; mask >> index != 0; ++index) {
            if ((mask >> index) & 1 != 0) book.linear[index] = _linear[account][index];
        }
        book.used = mask;
        for (uint256 i; i < book.options.length; ++i) {
            book.used |= 1 << _indexOf(book.options[i]);
        }
    }

    function _bookFrom(OptionPosition[] calldata options, LinearPosition[] calldata linear)
        private
        view
        returns (Book memory book)
    {
        book.options = new uint256[](options.length);
        for (uint256 i; i < options.length; ++i) {
            OptionPosition calldata o = options[i];
            uint256 index = _listedIndex(o.underlying);
            if (o.strike < MIN_STRIKE || o.strike > MAX_STRIKE) revert PortfolioMarginInvalidStrike(o.strike);
            if (o.expiry > type(uint40).max) revert PortfolioMarginInvalidExpiry(o.expiry);
            if (_abs(o.size) > MAX_ABS_SIZE) revert PortfolioMarginSizeTooLarge(o.underlying, o.size);
            // forge-lint: disable-next-line(unsafe-typecast)
            book.options[i] = (uint256(o.expiry) << 192) | (index << 232) | (o.strike << 96)
                | (o.isCall ? CALL_BIT : 0) | (uint256(o.size) & SIZE_MASK);
            book.used |= 1 << index;
        }
        for (uint256 i; i < linear.length; ++i) {
            uint256 index = _listedIndex(linear[i].underlying);
            if (_abs(linear[i].size) > MAX_ABS_SIZE) revert PortfolioMarginSizeTooLarge(linear[i].underlying, linear[i].size);
            book.linear[index] += linear[i].size;
            book.used |= 1 << index;
        }
    }

    /// @dev Sum over the book's underlyings of the scenario requirement, WAD USD (rounded up).
    function _initialWad(Book memory book) private view returns (uint256 total) {
        if (book.used == 0) return 0;
        uint256 cdfTable = Black76NormalCdf.tableAt(_cdfTable);
        for (uint256 index = 1; book.used >> index != 0; ++index) {
            if ((book.used >> index) & 1 != 0) total += _underlyingRequirement(book, index, cdfTable);
        }
    }

    function _underlyingRequirement(Book memory book, uint256 index, uint256 cdfTable) private view returns (uint256) {
        bytes32 underlying = _underlyings[index - 1];
        uint256 maxAge = _config[underlying].maxAge;
        // slither-disable-next-line calls-loop
        IVolSurfaceOracle.Shocks memory shocks = _oracle.getShocks(underlying);
        _requireFresh(underlying, shocks.observedAt, maxAge);
        if (shocks.priceMove >= 1e18) revert PortfolioMarginBadOracleData(underlying, 0);
        ScenarioGrid.Moves memory mv = ScenarioGrid.moves(shocks.priceMove, cdfTable);
        // Zeroed by the allocation: the scenario values start at 0.
        // slither-disable-next-line uninitialized-local
        int256[15] memory acc;
        if (book.linear[index] != 0) {
            // slither-disable-next-line calls-loop
            (uint256 spot, uint64 observedAt) = _oracle.getSpot(underlying);
            _requireFresh(underlying, observedAt, maxAge);
            if (spot == 0 || spot > MAX_PRICE) revert PortfolioMarginBadOracleData(underlying, 0);
            // forge-lint: disable-next-line(unsafe-typecast)
            ScenarioGrid.addLinear(acc, mv, book.linear[index], int256(spot));
        }
        _addOptions(acc, mv, book.options, index, underlying, maxAge, shocks);
        return ScenarioGrid.requirement(acc);
    }

    /// @dev Revalue the book's options on one underlying, one smile read per expiry.
    function _addOptions(
        int256[15] memory acc,
        ScenarioGrid.Moves memory mv,
        uint256[] memory options,
        uint256 index,
        bytes32 underlying,
        uint256 maxAge,
        IVolSurfaceOracle.Shocks memory shocks
    ) private view {
        (uint64[] memory expiries, ScenarioGrid.Expiry[] memory cache) = _caches(options.length);
        uint256 cached = 0;
        uint256 last = 0;
        for (uint256 i; i < options.length; ++i) {
            uint256 slot = options[i];
            if (_indexOf(slot) != index) continue;
            uint64 expiry = _expiryOf(slot);
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 strike = int256(_strikeOf(slot));
            if (expiry <= block.timestamp) {
                _addExpired(acc, underlying, expiry, slot);
                continue;
            }
            if (cached == 0 || expiries[last] != expiry) {
                last = type(uint256).max;
                for (uint256 j; j < cached; ++j) {
                    if (expiries[j] == expiry) {
                        last = j;
                        break;
                    }
                }
                if (last == type(uint256).max) {
                    (last, cached) = (cached, cached + 1);
                    expiries[last] = expiry;
                    _newExpiry(cache, last);
                    _expiry(cache[last], mv, underlying, expiry, maxAge, shocks);
                }
            }
            ScenarioGrid.addOption(acc, mv, cache[last], strike, slot & CALL_BIT != 0, _sizeOf(slot));
        }
    }

    /// @dev Two arrays of n entries whose elements are left unset (dirty memory): `new` would build
    ///      n zeroed Expiry structs where a book holds only a few expiries. Only entries the caller has
    ///      written are read (index < cached in _addOptions).
    function _caches(uint256 n)
        private
        pure
        returns (uint64[] memory expiries, ScenarioGrid.Expiry[] memory cache)
    {
        assembly ("memory-safe") {
            expiries := mload(0x40)
            mstore(expiries, n)
            cache := add(expiries, shl(5, add(n, 1)))
            mstore(cache, n)
            mstore(0x40, add(cache, shl(5, add(n, 1))))
        }
    }

    /// @dev cache[i] := a new Expiry in unzeroed memory (10 head words, then its 24-word pairs array,
    ///      linked): zeroing the 34 words cost about 1,000 gas per expiry. _expiry and ScenarioGrid.term
    ///      write every field before anything reads it.
    ///      (A struct return value would itself be allocated zeroed: the pointer goes into cache[i].)
    function _newExpiry(ScenarioGrid.Expiry[] memory cache, uint256 i) private pure {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(0x40, add(ptr, 1088))
            mstore(add(ptr, 0xc0), add(ptr, 0x140))
            mstore(add(cache, shl(5, add(i, 1))), ptr)
        }
    }

    /// @dev Fill `e` (every field) for one live expiry from its smile.
    function _expiry(
        ScenarioGrid.Expiry memory e,
        ScenarioGrid.Moves memory mv,
        bytes32 underlying,
        uint64 expiry,
        uint256 maxAge,
        IVolSurfaceOracle.Shocks memory shocks
    ) private view {
        // slither-disable-next-line calls-loop
        IVolSurfaceOracle.Smile memory smile = _oracle.getSmileNoOlderThan(underlying, expiry, maxAge);
        if (smile.forward == 0 || smile.forward > MAX_PRICE || smile.observedAt >= expiry) {
            revert PortfolioMarginBadOracleData(underlying, expiry);
        }
        // forge-lint: disable-start(unsafe-typecast)
        (e.a, e.b, e.rho, e.m, e.sigma) = (smile.a, int256(smile.b), smile.rho, smile.m, int256(smile.sigma));
        e.forward = int256(smile.forward);
        // forge-lint: disable-end(unsafe-typecast)
        ScenarioGrid.term(
            e, mv, expiry - block.timestamp, expiry - smile.observedAt, shocks.volUp, shocks.volDown
        );
    }

    function _addExpired(int256[15] memory acc, bytes32 underlying, uint64 expiry, uint256 slot) private view {
        // slither-disable-next-line calls-loop,unused-return
        (uint256 price,) = _oracle.settlementPrice(underlying, expiry);
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 intrinsic = int256(Black76.intrinsic(price, _strikeOf(slot), slot & CALL_BIT != 0));
        ScenarioGrid.addConstant(acc, _sizeOf(slot) * intrinsic);
    }

    function _requireFresh(bytes32 underlying, uint64 observedAt, uint256 maxAge) private view {
        if (uint256(observedAt) + maxAge < block.timestamp) revert PortfolioMarginStaleData(underlying, observedAt, maxAge);
    }

    /// @dev The latest end (> now) of a post-pause grace period among the account's underlyings.
    function _graceUntil(address account) private view returns (uint256 until, bytes32 underlying) {
        if (_gracePeriod == 0) return (0, bytes32(0));
        uint256 used = _bookOf(account).used;
        for (uint256 index = 1; used >> index != 0; ++index) {
            if ((used >> index) & 1 == 0) continue;
            bytes32 id = _underlyings[index - 1];
            // slither-disable-next-line calls-loop,unused-return
            (, uint64 resumedAt) = _oracle.pauseWindow(id);
            uint256 end = resumedAt == 0 ? 0 : uint256(resumedAt) + _gracePeriod;
            if (end > block.timestamp && end > until) (until, underlying) = (end, id);
        }
    }

    function _maintenance(uint256 initial) private view returns (uint256) {
        return initial == 0 ? 0 : (initial * _maintenanceFactor - 1) / 1e18 + 1;
    }

    function _toToken(uint256 wad) private view returns (uint256) {
        return wad == 0 ? 0 : (wad - 1) / _tokenUnit + 1;
    }

    // ------------------------------------------------------------------------------------------
    // Internals: slot fields
    // ------------------------------------------------------------------------------------------

    function _sizeOf(uint256 slot) private pure returns (int256) {
        // The low 96 bits hold an int96.
        // forge-lint: disable-next-line(unsafe-typecast)
        return int256(int96(uint96(slot)));
    }

    function _strikeOf(uint256 slot) private pure returns (uint256) {
        return (slot >> 96) & SIZE_MASK;
    }

    function _expiryOf(uint256 slot) private pure returns (uint64) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(uint40(slot >> 192));
    }

    function _indexOf(uint256 slot) private pure returns (uint256) {
        return (slot >> 232) & 0xff;
    }

    /// @dev |x| for every int256, type(int256).min included.
    function _abs(int256 x) private pure returns (uint256) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return x >= 0 ? uint256(x) : (x == type(int256).min ? uint256(type(int256).max) + 1 : uint256(-x));
    }
}
