// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// Test double: field extraction casts and timestamp comparisons are deliberate throughout.
// forge-lint: disable-start(unsafe-typecast, block-timestamp)

import {IRiskOracle} from "../../../contracts/interfaces/IRiskOracle.sol";

/// @notice IRiskOracle's read functions over directly settable market words, for adapter and
///         consumer tests. Words follow IRiskOracle's documented layout; staleness follows the
///         interface (revert RiskOracleStaleParams when block.timestamp - observedAt > maxAge).
///         `setFailure` makes the param reads fail in other ways, to test consumers' error handling.
///         The failure mode lives in bits 248..255 of the stored word (masked out of every read), so
///         the happy path reads one storage slot like the real oracle and read-gas comparisons hold.
contract MockRiskOracle {
    enum Failure {
        None,
        UnknownError,
        OutOfGas,
        MarketPaused
    }
    // MarketPaused is kept for the adapter's layout tests; engine tests pause a real RiskOracle.

    error MockRiskOracleBroken(bytes32 marketId);

    mapping(bytes32 marketId => uint256 word) private _words;
    mapping(bytes32 marketId => IRiskOracle.Bounds) private _bounds;
    uint256 private constant FAILURE_SHIFT = 248;
    uint256 private constant WORD_MASK = (uint256(1) << 234) - 1;

    /// @notice Pack the eight fields into a params word (field i at bits [16i, 16i+16)).
    function packParams(uint16[8] memory fields) public pure returns (uint128 params) {
        for (uint256 i; i < 8; ++i) {
            params |= uint128(fields[i]) << uint128(16 * i);
        }
    }

    /// @notice List a market (no data yet) with bounds [0, 65535] except maintenanceMargin's ceiling.
    function listMarket(bytes32 marketId, uint16 maintenanceCeiling) external {
        _words[marketId] |= uint256(1) << 232;
        IRiskOracle.Bounds storage b = _bounds[marketId];
        for (uint256 i; i < 8; ++i) {
            b.fields[i] = IRiskOracle.FieldBounds({floor: 0, ceiling: type(uint16).max, maxChange: type(uint16).max});
        }
        b.fields[4].ceiling = maintenanceCeiling;
    }

    /// @notice Store a params word as round `round` observed at `observedAt`; keeps the flag bits.
    function publish(bytes32 marketId, uint128 params, uint32 observedAt, uint64 round) public {
        uint256 flags = _words[marketId] >> 224;
        _words[marketId] = uint256(params) | (uint256(observedAt) << 128) | (uint256(round) << 160) | (flags << 224);
    }

    /// @notice Publish initial and maintenance margin (other fields fixed) as the next round, observed now.
    function publishMargins(bytes32 marketId, uint16 initialMargin, uint16 maintenanceMargin) external {
        uint16[8] memory f = [uint16(5000), 300, 400, initialMargin, maintenanceMargin, 8000, 2000, 9000];
        uint64 round = uint64(_words[marketId] >> 160) + 1;
        publish(marketId, packParams(f), uint32(block.timestamp), round);
    }

    function setFailure(bytes32 marketId, Failure failure) external {
        _words[marketId] = (_words[marketId] & WORD_MASK) | (uint256(failure) << FAILURE_SHIFT);
    }

    function getMarketWord(bytes32 marketId) external view returns (uint256) {
        return _words[marketId] & WORD_MASK;
    }

    function getRiskParams(bytes32 marketId) public view returns (IRiskOracle.RiskParams memory) {
        uint256 word = _words[marketId];
        _maybeFail(marketId, Failure(word >> FAILURE_SHIFT));
        if (uint64(word >> 160) == 0) revert IRiskOracle.RiskOracleNoData(marketId);
        return _decode(word);
    }

    function getRiskParamsNoOlderThan(bytes32 marketId, uint256 maxAge)
        external
        view
        returns (IRiskOracle.RiskParams memory p)
    {
        p = getRiskParams(marketId);
        if (block.timestamp > p.observedAt && block.timestamp - p.observedAt > maxAge) {
            revert IRiskOracle.RiskOracleStaleParams(marketId, p.observedAt, maxAge);
        }
    }

    function getRiskParamsBatch(bytes32[] calldata marketIds)
        external
        view
        returns (IRiskOracle.RiskParams[] memory out)
    {
        out = new IRiskOracle.RiskParams[](marketIds.length);
        for (uint256 i; i < marketIds.length; ++i) {
            out[i] = getRiskParams(marketIds[i]);
        }
    }

    /// @notice No pause history: the failure modes above are what this mock is for.
    function pauseWindow(bytes32) external pure returns (uint64 pausedSince, uint64 resumedAt) {
        return (0, 0);
    }

    function getMarketBounds(bytes32 marketId) external view returns (IRiskOracle.Bounds memory) {
        if ((_words[marketId] >> 232) & 1 == 0) revert IRiskOracle.RiskOracleUnknownMarket(marketId);
        return _bounds[marketId];
    }

    function _maybeFail(bytes32 marketId, Failure failure) private view {
        if (failure == Failure.UnknownError) revert MockRiskOracleBroken(marketId);
        if (failure == Failure.MarketPaused) revert IRiskOracle.RiskOracleMarketPaused(marketId);
        if (failure == Failure.OutOfGas) {
            uint256 x;
            while (gasleft() > 0) x = uint256(keccak256(abi.encode(x)));
        }
    }

    function _decode(uint256 word) private pure returns (IRiskOracle.RiskParams memory p) {
        p.volatility = uint16(word);
        p.var99 = uint16(word >> 16);
        p.es99 = uint16(word >> 32);
        p.initialMargin = uint16(word >> 48);
        p.maintenanceMargin = uint16(word >> 64);
        p.liquidationThreshold = uint16(word >> 80);
        p.riskScore = uint16(word >> 96);
        p.confidence = uint16(word >> 112);
        p.observedAt = uint32(word >> 128);
        p.round = uint64(word >> 160);
    }
}
// forge-lint: disable-end(unsafe-typecast, block-timestamp)
