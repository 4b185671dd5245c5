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
///      An option in memory (the margin check's book), one word:
///        bits   0..95   size    int96 (two's complement), WAD units of the underlying
///        bits  96..191  strike  uint96, WAD USD
///        bits 192..231  expiry  unix seconds (< 2^32)
///        bits 232..239  underlying index (1-based) into the engine's listed underlyings
///        bit  240       isCall
///      In storage, two options per slot (option i in the low half of word i / 2 when i is even, the
///      high half when odd; the account's options are 0..count - 1), 128 bits each:
///        bits   0..44   size    int45 (two's complement), in STORAGE_UNIT (1e-6 units of the underlying)
///        bits  45..89   strike  uint45, in STORAGE_UNIT (1e-6 USD)
///        bits  90..121  expiry  uint32, unix seconds
///        bits 122..126  underlying index (1-based)
///        bit  127       isCall
///      Bits 45 and up are the option's key. Linear sizes: two int128 per slot (index i in word (i - 1) / 2,
///      the low half for odd i). The account word: bits 0..127 collateral (token units), 128..135 option
///      count, 136..152 the linear mask (bit 136 + i: a linear position on index i).
///      A margin check reads 1 + ceil(count / 2) + ceil(linear underlyings / 2) slots of the account.
contract OptionsPortfolioMarginEngine is IOptionsPortfolioMarginEngine, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Most underlyings the engine lists.
    uint256 public constant MAX_UNDERLYINGS = 16;
    /// @notice Most options one account holds (bounds margin-check and liquidation gas).
    uint256 public constant MAX_OPTIONS_PER_ACCOUNT = 128;
    /// @notice Largest |size| of one position, WAD units of the underlying (1e7 units).
    uint256 public constant MAX_ABS_SIZE = 1e25;
    /// @notice Strike range, WAD USD.
    uint256 public constant MIN_STRIKE = 1e12;
    uint256 public constant MAX_STRIKE = 1e25;
    /// @notice Stored options' strikes and sizes are whole multiples of this (WAD): 1e-6 USD, 1e-6 units.
    uint256 public constant STORAGE_UNIT = 1e12;
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
    uint256 private constant MASK45 = (1 << 45) - 1;
    uint256 private constant MASK128 = (1 << 128) - 1;
    uint256 private constant COUNT_SHIFT = 128;
    uint256 private constant MASK_SHIFT = 136;

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
    /// @dev Listed underlyings by 1-based index (a mapping, not an array: no length read per lookup).
    mapping(uint256 index => bytes32 underlying) private _underlyings;
    uint256 private _underlyingCount;
    mapping(bytes32 underlying => UnderlyingConfig) private _config;
    mapping(address account => uint256 word) private _accounts;
    mapping(address account => mapping(uint256 pair => uint256 word)) private _optionWords;
    mapping(address account => mapping(uint256 pair => uint256 word)) private _linearWords;

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
            uint256 count = _underlyingCount;
            if (count >= MAX_UNDERLYINGS) revert PortfolioMarginTooManyUnderlyings(MAX_UNDERLYINGS);
            _underlyingCount = ++count;
            _underlyings[count] = underlying;
            // At most 16 underlyings: the index fits in uint8.
            // forge-lint: disable-next-line(unsafe-typecast)
            cfg.index = uint8(count);
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
        uint256 word = _accounts[msg.sender];
        uint256 collateral = (word & MASK128) + received;
        if (collateral > MASK128) revert PortfolioMarginCollateralTooLarge(msg.sender, collateral);
        _accounts[msg.sender] = (word & ~MASK128) | collateral;
        emit CollateralDeposited(msg.sender, received);
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert PortfolioMarginZeroAmount();
        uint256 word = _accounts[msg.sender];
        uint256 collateral = word & MASK128;
        if (amount > collateral) revert PortfolioMarginWithdrawExceedsCollateral(msg.sender, amount, collateral);
        uint256 remaining = collateral - amount;
        uint256 requirement = _toToken(_initialWad(_bookOf(msg.sender)));
        if (remaining < requirement) revert PortfolioMarginInsufficientCollateral(msg.sender, remaining, requirement);
        _accounts[msg.sender] = (word & ~MASK128) | remaining;
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
        if (expiry > type(uint32).max) revert PortfolioMarginInvalidExpiry(expiry);
        if (_abs(size) > MAX_ABS_SIZE) revert PortfolioMarginSizeTooLarge(underlying, size);
        if (strike % STORAGE_UNIT != 0 || size % int256(STORAGE_UNIT) != 0) {
            revert PortfolioMarginUnrepresentable(strike, size);
        }
        uint256 key = (strike / STORAGE_UNIT) | (uint256(expiry) << 45) | (index << 77) | (isCall ? 1 << 82 : 0);
        int256 oldSize = _storeOption(msg.sender, key, size);
        // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
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
        int256 oldSize = _linearOf(msg.sender, index);
        if (oldSize == size) return;
        _setLinearWord(msg.sender, index, size);
        uint256 word = _accounts[msg.sender];
        uint256 bit = 1 << (MASK_SHIFT + index);
        _accounts[msg.sender] = size == 0 ? word & ~bit : word | bit;
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
        uint256 n = _countOf(account);
        uint256 i = n;
        while (i > 0) {
            --i;
            uint256 slot = _optionAt(account, i);
            uint64 expiry = _expiryOf(slot);
            if (expiry > block.timestamp) continue;
            bytes32 underlying = _underlyings[_indexOf(slot)];
            // Only the frozen price matters here, not when it was observed.
            // slither-disable-next-line calls-loop,unused-return
            try _oracle.settlementPrice(underlying, expiry) returns (uint256 price, uint64) {
                _emitSettled(account, underlying, slot, price);
                _removeOption(account, i, n);
                --n;
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
        uint256 collateral = _accounts[account] & MASK128;
        if (collateral >= requirement) revert PortfolioMarginNotLiquidatable(account, collateral, requirement);
        (uint256 until, bytes32 graceUnderlying) = _graceUntil(account);
        if (until != 0) revert PortfolioMarginLiquidationGrace(account, graceUnderlying, until);
        _closeAll(account);
        penalty = requirement * LIQUIDATION_PENALTY / 1e18;
        if (penalty > collateral) penalty = collateral;
        _accounts[account] = collateral - penalty; // _closeAll cleared the count and the linear mask
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
        return _accounts[account] & MASK128;
    }

    /// @inheritdoc IOptionsPortfolioMarginEngine
    function optionsOf(address account) external view returns (OptionPosition[] memory positions) {
        uint256 n = _countOf(account);
        positions = new OptionPosition[](n);
        for (uint256 i; i < n; ++i) {
            uint256 slot = _optionAt(account, i);
            positions[i] = OptionPosition({
                underlying: _underlyings[_indexOf(slot)],
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
        return index == 0 ? int256(0) : _linearOf(account, index);
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
        if (_accounts[account] & MASK128 >= requirement) return false;
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

    /// @dev Writes the option's new size (append, update or swap-with-last and clear); returns the old
    ///      size. `key` is the stored option's bits 45 and up, shifted down by 45; `size` is a whole
    ///      number of STORAGE_UNIT with |size| <= MAX_ABS_SIZE (checked by the caller).
    function _storeOption(address account, uint256 key, int256 size) private returns (int256 oldSize) {
        uint256 n = _countOf(account);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 packed = (key << 45) | (uint256(size / int256(STORAGE_UNIT)) & MASK45);
        mapping(uint256 => uint256) storage words = _optionWords[account];
        // slither-disable-next-line uninitialized-local (starts at zero on purpose: the packed slot is built by OR-ing fields in)
        uint256 word;
        for (uint256 i; i < n; ++i) {
            if (i & 1 == 0) word = words[i >> 1]; // one read per pair
            uint256 p = (word >> ((i & 1) << 7)) & MASK128;
            if (p >> 45 != key) continue;
            oldSize = _sizeOf(_unpack(p));
            // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
            if (size == oldSize) return oldSize;
            if (size != 0) {
                _writeOption(words, i, packed);
            } else {
                _removeOption(account, i, n);
            }
            return oldSize;
        }
        if (size == 0) return 0;
        if (n >= MAX_OPTIONS_PER_ACCOUNT) revert PortfolioMarginTooManyOptions(account, MAX_OPTIONS_PER_ACCOUNT);
        _writeOption(words, n, packed);
        _accounts[account] += 1 << COUNT_SHIFT;
    }

    /// @dev Option i := option n - 1 (the last), then the last cleared and the count decremented.
    function _removeOption(address account, uint256 i, uint256 n) private {
        mapping(uint256 => uint256) storage words = _optionWords[account];
        uint256 last = n - 1;
        if (i != last) _writeOption(words, i, (words[last >> 1] >> ((last & 1) << 7)) & MASK128);
        _writeOption(words, last, 0);
        _accounts[account] -= 1 << COUNT_SHIFT;
    }

    function _writeOption(mapping(uint256 => uint256) storage words, uint256 i, uint256 packed) private {
        uint256 shift = (i & 1) << 7;
        words[i >> 1] = (words[i >> 1] & ~(MASK128 << shift)) | (packed << shift);
    }

    function _countOf(address account) private view returns (uint256) {
        return (_accounts[account] >> COUNT_SHIFT) & 0xff;
    }

    /// @dev Option i of the account in the memory (book) format.
    function _optionAt(address account, uint256 i) private view returns (uint256) {
        return _unpack((_optionWords[account][i >> 1] >> ((i & 1) << 7)) & MASK128);
    }

    /// @dev A stored option (128 bits) in the memory (book) format.
    function _unpack(uint256 p) private pure returns (uint256) {
        // The low 45 bits hold an int45 number of STORAGE_UNIT.
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 size = int256(p << 211) >> 211;
        // |size| <= MAX_ABS_SIZE: the product fits 96 bits.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (((p >> 45) & MASK45) * STORAGE_UNIT << 96) | (((p >> 90) & 0xffffffff) << 192)
            | (((p >> 122) & 31) << 232) | ((p >> 127) << 240) | (uint256(size * int256(STORAGE_UNIT)) & SIZE_MASK);
    }

    function _linearOf(address account, uint256 index) private view returns (int256) {
        uint256 word = _linearWords[account][(index - 1) >> 1];
        // An int128 in the low or high half.
        // forge-lint: disable-next-line(unsafe-typecast)
        return int256(int128(uint128(word >> (((index - 1) & 1) << 7))));
    }

    function _setLinearWord(address account, uint256 index, int256 size) private {
        uint256 shift = ((index - 1) & 1) << 7;
        uint256 w = (index - 1) >> 1;
        // |size| <= MAX_ABS_SIZE < 2^127: its low 128 bits are its int128 two's complement.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 bits = (uint256(size) & MASK128) << shift;
        _linearWords[account][w] = (_linearWords[account][w] & ~(MASK128 << shift)) | bits;
    }

    function _holdsShortOption(address account, uint256 index) private view returns (bool) {
        uint256 n = _countOf(account);
        for (uint256 i; i < n; ++i) {
            uint256 slot = _optionAt(account, i);
            // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
            if (_indexOf(slot) == index && _sizeOf(slot) < 0) return true;
        }
        return false;
    }

    /// @dev Risk may grow when a position opens, grows, or flips side.
    function _increases(int256 oldSize, int256 newSize) private pure returns (bool) {
        if (newSize == 0) return false;
        // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
        if (oldSize == 0 || (oldSize > 0) != (newSize > 0)) return true;
        return _abs(newSize) > _abs(oldSize);
    }

    function _requireInitial(address account) private view {
        uint256 requirement = _toToken(_initialWad(_bookOf(account)));
        uint256 collateral = _accounts[account] & MASK128;
        if (collateral < requirement) revert PortfolioMarginInsufficientCollateral(account, collateral, requirement);
    }

    function _closeAll(address account) private {
        uint256 n = _countOf(account);
        for (uint256 i; i < n; ++i) {
            uint256 slot = _optionAt(account, i);
            emit OptionPositionChanged(
                account,
                _underlyings[_indexOf(slot)],
                _expiryOf(slot),
                _strikeOf(slot),
                slot & CALL_BIT != 0,
                _sizeOf(slot),
                0
            );
        }
        for (uint256 w; w < (n + 1) >> 1; ++w) {
            delete _optionWords[account][w];
        }
        uint256 word = _accounts[account];
        uint256 mask = word >> MASK_SHIFT;
        for (uint256 index = 1; mask >> index != 0; ++index) {
            // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
            if ((mask >> index) & 1 == 0) continue;
            emit LinearPositionChanged(account, _underlyings[index], _linearOf(account, index), 0);
            delete _linearWords[account][(index - 1) >> 1];
        }
        _accounts[account] = word & MASK128;
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
        uint256 word = _accounts[account];
        uint256 n = (word >> COUNT_SHIFT) & 0xff;
        uint256 mask = word >> MASK_SHIFT;
        uint256[] memory options = new uint256[](n);
        mapping(uint256 => uint256) storage words = _optionWords[account];
        uint256 used = mask;
        for (uint256 i; i < n; i += 2) {
            uint256 pair = words[i >> 1];
            uint256 slot = _unpack(pair & MASK128);
            options[i] = slot;
            used |= 1 << _indexOf(slot);
            if (i + 1 < n) {
                slot = _unpack(pair >> 128);
                options[i + 1] = slot;
                used |= 1 << _indexOf(slot);
            }
        }
        book.options = options;
        for (uint256 index = 1; mask >> index != 0; index += 2) {
            // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
            if ((mask >> index) & 3 == 0) continue;
            uint256 pair = _linearWords[account][(index - 1) >> 1];
            // Two int128 halves.
            // forge-lint: disable-start(unsafe-typecast)
            book.linear[index] = int256(int128(uint128(pair)));
            if (index < 16) book.linear[index + 1] = int256(int128(uint128(pair >> 128)));
            // forge-lint: disable-end(unsafe-typecast)
        }
        book.used = used;
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
            if (o.expiry > type(uint32).max) revert PortfolioMarginInvalidExpiry(o.expiry);
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
        // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
        if (book.used == 0) return 0;
        uint256 cdfTable = Black76NormalCdf.tableAt(_cdfTable);
        for (uint256 index = 1; book.used >> index != 0; ++index) {
            if ((book.used >> index) & 1 != 0) total += _underlyingRequirement(book, index, cdfTable);
        }
    }

    function _underlyingRequirement(Book memory book, uint256 index, uint256 cdfTable) private view returns (uint256) {
        bytes32 underlying = _underlyings[index];
        (uint64[] memory expiries, uint256[] memory which) = _liveExpiries(book.options, index);
        // Zeroed by the allocation: the scenario values start at 0.
        // slither-disable-next-line uninitialized-local
        int256[15] memory acc;
        (ScenarioGrid.Moves memory mv, ScenarioGrid.Expiry[] memory cache) =
            _market(acc, book.linear[index], underlying, expiries, cdfTable);
        _addOptions(acc, mv, book.options, index, underlying, which, cache);
        return ScenarioGrid.requirement(acc);
    }

    /// @dev One oracle call per underlying (getMarginInputs: shocks, spot and every live expiry's smile):
    ///      the moves, the expiry caches, and the linear position's P&L added to `acc`.
    function _market(int256[15] memory acc, int256 linear, bytes32 underlying, uint64[] memory expiries, uint256 cdfTable)
        private
        view
        returns (ScenarioGrid.Moves memory mv, ScenarioGrid.Expiry[] memory cache)
    {
        uint256 maxAge = _config[underlying].maxAge;
        // Zeroed by the allocation, then overwritten from the return data.
        // slither-disable-next-line uninitialized-local
        IVolSurfaceOracle.Shocks memory shocks;
        (uint256 spot, uint64 spotAt) = _marginInputs(shocks, underlying, expiries);
        _requireFresh(underlying, shocks.observedAt, maxAge);
        if (shocks.priceMove >= 1e18) revert PortfolioMarginBadOracleData(underlying, 0);
        mv = ScenarioGrid.moves(shocks.priceMove, cdfTable);
        if (linear != 0) {
            _requireFresh(underlying, spotAt, maxAge);
            if (spot == 0 || spot > MAX_PRICE) revert PortfolioMarginBadOracleData(underlying, 0);
            // forge-lint: disable-next-line(unsafe-typecast)
            ScenarioGrid.addLinear(acc, mv, linear, int256(spot));
        }
        uint256 n = expiries.length;
        assembly ("memory-safe") {
            cache := mload(0x40)
            mstore(cache, n)
            mstore(0x40, add(cache, shl(5, add(n, 1))))
        }
        for (uint256 j; j < n; ++j) {
            _newExpiry(cache, j);
            _expiry(cache[j], mv, underlying, j, shocks, maxAge);
        }
    }

    /// @dev Calls getMarginInputs and copies the shocks into `shocks`; the smiles stay in the return
    ///      data (read by _expiry: no other call happens before). Low-level: Solidity's decoding of the
    ///      returned struct array cost more than the separate calls it replaces (measured). The oracle's
    ///      revert data is bubbled up unchanged. The smiles' age is checked by _expiry, after the
    ///      shocks' (the order and the errors of the separate reads).
    ///      Return data (ABI): words 0-3 shocks, 4 spot, 5 spot time, 6 offset of the smile array (0xe0),
    ///      7 its length, then 8 words per smile (a, b, rho, m, sigma, forward, expiry, observedAt).
    function _marginInputs(
        IVolSurfaceOracle.Shocks memory shocks,
        bytes32 underlying,
        uint64[] memory expiries
    ) private view returns (uint256 spot, uint64 spotAt) {
        bytes memory data =
            abi.encodeCall(IVolSurfaceOracle.getMarginInputs, (underlying, expiries, type(uint256).max));
        address oracle_ = address(_oracle);
        bool ok;
        uint256 shockAt;
        assembly ("memory-safe") {
            if iszero(staticcall(gas(), oracle_, add(data, 0x20), mload(data), 0, 0)) {
                let p := mload(0x40)
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
            // The smile array must follow the head and hold one smile per expiry.
            if iszero(lt(returndatasize(), add(0x100, shl(8, mload(expiries))))) {
                returndatacopy(0, 0xc0, 0x40)
                // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
                ok := and(eq(mload(0), 0xe0), eq(mload(0x20), mload(expiries)))
                returndatacopy(shocks, 0, 0x80)
                returndatacopy(0, 0x80, 0x40)
                spot := mload(0)
                spotAt := and(mload(0x20), 0xffffffffffffffff)
                shockAt := and(mload(add(shocks, 0x60)), 0xffffffffffffffff)
            }
        }
        if (!ok) revert PortfolioMarginBadOracleData(underlying, 0);
        // forge-lint: disable-next-line(unsafe-typecast)
        shocks.observedAt = uint64(shockAt);
    }

    /// @dev The distinct live (> now) expiries of the book's options on one underlying, in order of
    ///      first appearance, and for each such option i, which[i] = the index of its expiry there.
    ///      Both arrays in unzeroed memory: `which` is read only at the live options of the underlying
    ///      (_addOptions), each written here. Assembly: the bounds-checked Solidity loop (every option
    ///      of the book, a search per option) cost about 5,000 gas per underlying on 16 options.
    function _liveExpiries(uint256[] memory options, uint256 index)
        private
        view
        returns (uint64[] memory expiries, uint256[] memory which)
    {
        uint256 time = block.timestamp;
        assembly ("memory-safe") {
            let n := mload(options)
            which := mload(0x40)
            mstore(which, n)
            expiries := add(which, shl(5, add(n, 1)))
            let count := 0
            let lastExpiry := 0
            let lastJ := 0
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let slot := mload(add(options, shl(5, add(i, 1))))
                let expiry := and(shr(192, slot), 0xffffffffff)
                // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
                if and(eq(and(shr(232, slot), 0xff), index), gt(expiry, time)) {
                    // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
                    if iszero(eq(expiry, lastExpiry)) {
                        let j := 0
                        // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
                        for {} and(lt(j, count), iszero(eq(mload(add(expiries, shl(5, add(j, 1)))), expiry))) {
                            j := add(j, 1)
                        } {}
                        if eq(j, count) {
                            mstore(add(expiries, shl(5, add(j, 1))), expiry)
                            count := add(count, 1)
                        }
                        lastExpiry := expiry
                        lastJ := j
                    }
                    mstore(add(which, shl(5, add(i, 1))), lastJ)
                }
            }
            mstore(expiries, count)
            mstore(0x40, add(expiries, shl(5, add(count, 1))))
        }
    }

    /// @dev Revalue the book's options on one underlying on the expiry caches built from its smiles.
    function _addOptions(
        int256[15] memory acc,
        ScenarioGrid.Moves memory mv,
        uint256[] memory options,
        uint256 index,
        bytes32 underlying,
        uint256[] memory which,
        ScenarioGrid.Expiry[] memory cache
    ) private view {
        for (uint256 i; i < options.length; ++i) {
            uint256 slot = options[i];
            if (_indexOf(slot) != index) continue;
            uint64 expiry = _expiryOf(slot);
            if (expiry <= block.timestamp) {
                _addExpired(acc, underlying, expiry, slot);
                continue;
            }
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 strike = int256(_strikeOf(slot));
            ScenarioGrid.addOption(acc, mv, cache[which[i]], strike, slot & CALL_BIT != 0, _sizeOf(slot));
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

    /// @dev Fill `e` (every field) for one live expiry from smile j of the getMarginInputs return data.
    function _expiry(
        ScenarioGrid.Expiry memory e,
        ScenarioGrid.Moves memory mv,
        bytes32 underlying,
        uint256 j,
        IVolSurfaceOracle.Shocks memory shocks,
        uint256 maxAge
    ) private view {
        uint256 expiry;
        uint256 observedAt;
        assembly ("memory-safe") {
            let at := add(0x100, shl(8, j))
            // a, b, rho, m, sigma, forward: the first six fields of both structs.
            returndatacopy(e, at, 0xc0)
            returndatacopy(0, add(at, 0xc0), 0x40)
            expiry := and(mload(0), 0xffffffffffffffff)
            observedAt := and(mload(0x20), 0xffffffffffffffff)
        }
        int256 forward = e.forward;
        // forge-lint: disable-next-line(unsafe-typecast)
        if (forward <= 0 || forward > int256(MAX_PRICE) || observedAt >= expiry || expiry <= block.timestamp) {
            // forge-lint: disable-next-line(unsafe-typecast)
            revert PortfolioMarginBadOracleData(underlying, uint64(expiry));
        }
        // As getSmileNoOlderThan(underlying, expiry, maxAge) would revert.
        if (observedAt + maxAge < block.timestamp) {
            // forge-lint: disable-next-line(unsafe-typecast)
            revert IVolSurfaceOracle.VolSurfaceStale(underlying, uint64(observedAt), maxAge);
        }
        ScenarioGrid.term(e, mv, expiry - block.timestamp, expiry - observedAt, shocks.volUp, shocks.volDown);
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
            // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
            if ((used >> index) & 1 == 0) continue;
            bytes32 id = _underlyings[index];
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
        return uint64(uint32(slot >> 192));
    }

    function _indexOf(uint256 slot) private pure returns (uint256) {
        return (slot >> 232) & 0xff;
    }

    /// @dev |x| for every int256, type(int256).min included.
    function _abs(int256 x) private pure returns (uint256) {
        // forge-lint: disable-next-line(unsafe-typecast)
        // slither-disable-next-line incorrect-equality (exact comparison of integers / bit masks, not of balances)
        return x >= 0 ? uint256(x) : (x == type(int256).min ? uint256(type(int256).max) + 1 : uint256(-x));
    }
}
