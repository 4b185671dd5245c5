// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../interfaces/IRiskOracle.sol";

/// @title MarketWord
/// @notice Packing of a market's one-slot state (layout in IRiskOracle):
///         params 0..127 | observedAt 128..159 | round 160..223 | profile 224..231 | listed 232 |
///         market paused 233 | oracle paused 234 | acceptance lag 235..255.
library MarketWord {
    uint256 internal constant PARAMS_MASK = type(uint128).max;
    uint256 internal constant OBSERVED_SHIFT = 128;
    uint256 internal constant ROUND_SHIFT = 160;
    uint256 internal constant PROFILE_SHIFT = 224;
    uint256 internal constant LISTED = 1 << 232;
    uint256 internal constant PAUSED = 1 << 233;
    /// @dev Mirror of the oracle-wide pause, set in every listed market so a read needs one slot.
    uint256 internal constant GLOBAL_PAUSED = 1 << 234;
    uint256 internal constant ANY_PAUSE = PAUSED | GLOBAL_PAUSED;
    uint256 internal constant LAG_SHIFT = 235;
    /// @dev Largest acceptance lag the word can hold (2^21 - 1 s, ~24 days); maxReportAge stays below it.
    uint256 internal constant MAX_LAG = (1 << 21) - 1;
    /// @dev Governance bits (profile, listed, both pauses) kept when a report overwrites the rest.
    uint256 internal constant GOVERNANCE_MASK = ((uint256(1) << 11) - 1) << PROFILE_SHIFT;

    function round(uint256 word) internal pure returns (uint64) {
        return uint64(word >> ROUND_SHIFT);
    }

    function observedAt(uint256 word) internal pure returns (uint32) {
        return uint32(word >> OBSERVED_SHIFT);
    }

    function profileId(uint256 word) internal pure returns (uint8) {
        return uint8(word >> PROFILE_SHIFT);
    }

    function isListed(uint256 word) internal pure returns (bool) {
        return word & LISTED != 0;
    }

    function isPaused(uint256 word) internal pure returns (bool) {
        return word & PAUSED != 0;
    }

    /// @notice Block time at which the stored parameters were accepted.
    function acceptedAt(uint256 word) internal pure returns (uint256) {
        return uint32(word >> OBSERVED_SHIFT) + (word >> LAG_SHIFT);
    }

    /// @notice observedAt, round and acceptance lag at their market-word positions (the part a report
    ///         writes besides params). Callers guarantee lag <= MAX_LAG.
    function stamp(uint256 observed, uint256 rnd, uint256 lag) internal pure returns (uint256) {
        return (lag << LAG_SHIFT) | (rnd << ROUND_SHIFT) | (observed << OBSERVED_SHIFT);
    }

    /// @notice The word with its round set to `rnd` (all else kept).
    function withRound(uint256 word, uint64 rnd) internal pure returns (uint256) {
        return (word & ~(uint256(type(uint64).max) << ROUND_SHIFT)) | (uint256(rnd) << ROUND_SHIFT);
    }

    /// @notice The word after a report: governance bits of `word`, new params, and `stamp_`.
    function publish(uint256 word, uint256 params, uint256 stamp_) internal pure returns (uint256) {
        return (word & GOVERNANCE_MASK) | stamp_ | params;
    }

    /// @notice The word after listing under `profile`: data and pause flag kept.
    function list(uint256 word, uint8 profile) internal pure returns (uint256) {
        return (word & ~(uint256(0xFF) << PROFILE_SHIFT)) | (uint256(profile) << PROFILE_SHIFT) | LISTED;
    }

    /// @notice Decode the published fields.
    function toRiskParams(uint256 word) internal pure returns (IRiskOracle.RiskParams memory p) {
        p.volatility = uint16(word);
        p.var99 = uint16(word >> 16);
        p.es99 = uint16(word >> 32);
        p.initialMargin = uint16(word >> 48);
        p.maintenanceMargin = uint16(word >> 64);
        p.liquidationThreshold = uint16(word >> 80);
        p.riskScore = uint16(word >> 96);
        p.confidence = uint16(word >> 112);
        p.observedAt = uint32(word >> OBSERVED_SHIFT);
        p.round = uint64(word >> ROUND_SHIFT);
    }

    /// @notice End the current external call returning `word` ABI-encoded as a RiskParams struct.
    /// @dev The hot read: writing the ten words straight into return data saves the memory struct and
    ///      the ABI encoder (measured ~700 gas of a ~7,600 cold read). Only for external functions
    ///      whose declared return type is exactly `RiskParams memory`.
    function returnRiskParams(uint256 word) internal pure {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, and(word, 0xffff))
            mstore(add(m, 0x20), and(shr(16, word), 0xffff))
            mstore(add(m, 0x40), and(shr(32, word), 0xffff))
            mstore(add(m, 0x60), and(shr(48, word), 0xffff))
            mstore(add(m, 0x80), and(shr(64, word), 0xffff))
            mstore(add(m, 0xa0), and(shr(80, word), 0xffff))
            mstore(add(m, 0xc0), and(shr(96, word), 0xffff))
            mstore(add(m, 0xe0), and(shr(112, word), 0xffff))
            mstore(add(m, 0x100), and(shr(128, word), 0xffffffff))
            mstore(add(m, 0x120), and(shr(160, word), 0xffffffffffffffff))
            return(m, 0x140)
        }
    }
}
