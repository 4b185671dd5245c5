// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {IRiskOracle} from "../interfaces/IRiskOracle.sol";

/// @title RiskParamAggregator
/// @notice Chainlink-compatible feed for ONE risk field of ONE market of a RiskOracle, so a protocol
///         that reads Chainlink today can read e.g. BTC-USD maintenance margin unchanged.
/// @dev Units: `answer` is the field in basis points with `decimals() == 4` (10000 = 100%; a
///      volatility of 5000 reads as 0.5000 = 50%/yr). Field index i (0..7) follows IRiskOracle:
///      0 volatility, 1 var99, 2 es99, 3 initialMargin, 4 maintenanceMargin,
///      5 liquidationThreshold, 6 riskScore, 7 confidence.
///
///      Round semantics: `roundId` and `answeredInRound` are the oracle's report round for the market;
///      `startedAt` and `updatedAt` are the report's `observedAt` (when the inputs were observed, not
///      when the report landed), so a consumer's usual `block.timestamp - updatedAt` check measures
///      the true age of the data. Staleness is never hidden or clamped here: the consumer must apply
///      its own maximum age, exactly as with a Chainlink feed.
///
///      Pauses: while the oracle or the market is paused (market-word bits 234 / 233) every read
///      reverts with RiskParamAggregatorPaused. A paused market's values are the ones the guardian
///      stopped because they may be wrong; a feed that kept serving them with a normal `updatedAt`
///      would let every consumer keep using them until they aged out. Reverting is what a consumer
///      that only checks `updatedAt` handles safely (it already must handle a reverting feed).
///
///      Reads use `IRiskOracle.getMarketWord` (one storage word, decoded here) rather than
///      `getRiskParams`, because it returns 32 bytes instead of a ten-field struct; see
///      tests/contracts/AdapterGas.t.sol for the measured difference.
contract RiskParamAggregator is AggregatorV3Interface {
    /// @notice Number of risk fields in a params word.
    uint8 public constant FIELD_COUNT = 8;
    /// @notice Answers are basis points: 4 decimals.
    uint8 public constant DECIMALS = 4;
    /// @notice Implementation version reported by `version()`.
    uint256 public constant VERSION = 1;

    uint256 private constant OBSERVED_AT_SHIFT = 128;
    uint256 private constant ROUND_SHIFT = 160;
    /// @dev Market-word bits 233 (market paused) and 234 (oracle paused).
    uint256 private constant PAUSE_BITS = 3 << 233;

    IRiskOracle private immutable _oracle;
    bytes32 private immutable _marketId;
    uint8 private immutable _field;

    /// @notice The oracle address given to the constructor is zero.
    error RiskParamAggregatorZeroOracle();
    /// @notice The market id given to the constructor is zero.
    error RiskParamAggregatorZeroMarket();
    /// @notice The field index given to the constructor is not 0..7.
    error RiskParamAggregatorInvalidField(uint8 field);
    /// @notice Nothing has been published for the market yet (Chainlink reverts on missing data too).
    error RiskParamAggregatorNoData(bytes32 marketId);
    /// @notice The oracle or the market is paused: the stored values must not be used.
    error RiskParamAggregatorPaused(bytes32 marketId);
    /// @notice A round other than the latest was asked for; the oracle keeps no history on-chain.
    error RiskParamAggregatorRoundNotAvailable(uint80 requestedRound, uint80 latestRound);

    /// @param oracle_ The RiskOracle to read.
    /// @param marketId_ Market id (ASCII symbol, left-aligned, zero padded, e.g. "BTC-USD").
    /// @param field_ Field index 0..7 (see the contract's dev notes).
    constructor(IRiskOracle oracle_, bytes32 marketId_, uint8 field_) {
        if (address(oracle_) == address(0)) revert RiskParamAggregatorZeroOracle();
        if (marketId_ == bytes32(0)) revert RiskParamAggregatorZeroMarket();
        if (field_ >= FIELD_COUNT) revert RiskParamAggregatorInvalidField(field_);
        _oracle = oracle_;
        _marketId = marketId_;
        _field = field_;
    }

    /// @notice The oracle this feed reads.
    function oracle() external view returns (IRiskOracle) {
        return _oracle;
    }

    /// @notice The market this feed reads.
    function marketId() external view returns (bytes32) {
        return _marketId;
    }

    /// @notice The field index (0..7) this feed reads.
    function field() external view returns (uint8) {
        return _field;
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external pure returns (uint8) {
        return DECIMALS;
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev e.g. "BTC-USD / maintenanceMargin (bp)".
    function description() external view returns (string memory) {
        return string.concat(_symbol(_marketId), " / ", _fieldName(_field), " (bp)");
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return VERSION;
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev Reverts with RiskParamAggregatorNoData when the market was never published, and with
    ///      RiskParamAggregatorPaused while the oracle or the market is paused.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return _latest();
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev The oracle stores only the latest parameters of each market (one packed slot), so only
    ///      the latest round can be served; any other round reverts with
    ///      RiskParamAggregatorRoundNotAvailable. Historic rounds are in the oracle's
    ///      `RiskParamsUpdated` events, off-chain.
    function getRoundData(uint80 requestedRound)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (roundId, answer, startedAt, updatedAt, answeredInRound) = _latest();
        if (requestedRound != roundId) revert RiskParamAggregatorRoundNotAvailable(requestedRound, roundId);
    }

    function _latest()
        private
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint256 word = _oracle.getMarketWord(_marketId);
        if (word & PAUSE_BITS != 0) revert RiskParamAggregatorPaused(_marketId);
        // Truncating casts pick fields out of the documented market-word layout; they are the point.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 round = uint64(word >> ROUND_SHIFT);
        if (round == 0) revert RiskParamAggregatorNoData(_marketId);
        roundId = uint80(round);
        // forge-lint: disable-next-line(unsafe-typecast)
        answer = int256(uint256(uint16(word >> (16 * uint256(_field)))));
        // forge-lint: disable-next-line(unsafe-typecast)
        startedAt = uint32(word >> OBSERVED_AT_SHIFT);
        updatedAt = startedAt;
        answeredInRound = roundId;
    }

    /// @dev The market id without its zero padding.
    function _symbol(bytes32 id) private pure returns (string memory) {
        uint256 len;
        while (len < 32 && id[len] != 0) ++len;
        bytes memory out = new bytes(len);
        for (uint256 i; i < len; ++i) {
            out[i] = id[i];
        }
        return string(out);
    }

    function _fieldName(uint8 index) private pure returns (string memory) {
        if (index == 0) return "volatility";
        if (index == 1) return "var99";
        if (index == 2) return "es99";
        if (index == 3) return "initialMargin";
        if (index == 4) return "maintenanceMargin";
        if (index == 5) return "liquidationThreshold";
        if (index == 6) return "riskScore";
        return "confidence";
    }
}
