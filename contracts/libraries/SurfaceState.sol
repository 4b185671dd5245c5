// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IVolSurfaceOracle} from "../interfaces/IVolSurfaceOracle.sol";

/// @title SurfaceState
/// @notice An underlying's state word and bounds word in the VolSurfaceOracle.
/// @dev State word (one slot per underlying, read and written by every report that updates it):
///        bits   0..63   spot, uint64, 1e-8 quote units (WAD / 1e10)
///        bits  64..79   priceMove, uint16 bp      bits  96..111 volDown, uint16 bp
///        bits  80..95   volUp, uint16 bp
///        bits 112..143  observedAt, uint32 unix seconds
///        bits 144..207  round, uint64 (0 = never published)
///        bits 208..228  acceptance lag, seconds (< 2^21; maxReportAge is capped below 2^21)
///        bits 229..233  number of listed expiries (0..16)
///        bit  234       listed
///        bit  235       underlying paused
///        bit  236       oracle paused (mirror of the own and the synced RiskOracle pause)
///      Bits 0..111 are copied from the report's underlying word, whose bits 112..116 carry the
///      number of smiles that follow in the report.
///      Bounds word (one slot per underlying): nine uint16 fields at bits [16 i, 16 i + 16) in
///      SurfaceBounds order (atmVolFloor, atmVolCeiling, atmVolMaxChange, priceMoveFloor,
///      priceMoveCeiling, volUpFloor, volUpCeiling, volDownFloor, volDownCeiling), minInterval at
///      bits 144..175, spotMaxChange at bits 176..191.
library SurfaceState {
    uint256 internal constant SPOT_MASK = (1 << 64) - 1;
    uint256 internal constant SPOT_UNIT = 1e10; // WAD per stored spot unit (1e-8)
    uint256 internal constant PAYLOAD_MASK = (1 << 112) - 1; // spot and shocks
    uint256 internal constant OBSERVED_SHIFT = 112;
    uint256 internal constant ROUND_SHIFT = 144;
    uint256 internal constant LAG_SHIFT = 208;
    uint256 internal constant COUNT_SHIFT = 229;
    uint256 internal constant LISTED = 1 << 234;
    uint256 internal constant UNDERLYING_PAUSED = 1 << 235;
    uint256 internal constant ORACLE_PAUSED = 1 << 236;
    uint256 internal constant ANY_PAUSE = UNDERLYING_PAUSED | ORACLE_PAUSED;
    uint256 internal constant REPORT_COUNT_SHIFT = 112;
    uint256 internal constant MAX_LAG = (1 << 21) - 1;

    /// @notice Whether the underlying is listed (a flag bit).
    function isListed(uint256 s) internal pure returns (bool) {
        return s & LISTED != 0;
    }

    function spot(uint256 s) internal pure returns (uint256) {
        return s & SPOT_MASK;
    }

    /// @notice Shock `i` (0 priceMove, 1 volUp, 2 volDown), bp.
    function shock(uint256 s, uint256 i) internal pure returns (uint16) {
        return uint16(s >> (64 + 16 * i));
    }

    function observedAt(uint256 s) internal pure returns (uint64) {
        return uint64(uint32(s >> OBSERVED_SHIFT));
    }

    function round(uint256 s) internal pure returns (uint64) {
        return uint64(s >> ROUND_SHIFT);
    }

    function acceptedAt(uint256 s) internal pure returns (uint256) {
        return uint256(uint32(s >> OBSERVED_SHIFT)) + ((s >> LAG_SHIFT) & MAX_LAG);
    }

    function count(uint256 s) internal pure returns (uint256) {
        return (s >> COUNT_SHIFT) & 31;
    }

    /// @notice `s` after an accepted report: payload, observedAt, round, lag and count replaced,
    ///         flags kept (listed; the pause bits are clear, or the report would have reverted).
    function published(uint256 s, uint256 payload, uint256 observed, uint256 rnd, uint256 lag, uint256 n)
        internal
        pure
        returns (uint256)
    {
        return (s & (LISTED | ANY_PAUSE)) | payload | (observed << OBSERVED_SHIFT) | (rnd << ROUND_SHIFT)
            | (lag << LAG_SHIFT) | (n << COUNT_SHIFT);
    }

    function withCount(uint256 s, uint256 n) internal pure returns (uint256) {
        return (s & ~(uint256(31) << COUNT_SHIFT)) | (n << COUNT_SHIFT);
    }

    // ------------------------------------------------------------------------------------------
    // Bounds word
    // ------------------------------------------------------------------------------------------

    function field(uint256 bw, uint256 i) internal pure returns (uint16) {
        return uint16(bw >> (16 * i));
    }

    function minInterval(uint256 bw) internal pure returns (uint256) {
        return uint32(bw >> 144);
    }

    function spotMaxChange(uint256 bw) internal pure returns (uint256) {
        return uint16(bw >> 176);
    }

    function encodeBounds(IVolSurfaceOracle.SurfaceBounds memory x) internal pure returns (uint256 bw) {
        uint16[9] memory f = fields(x);
        for (uint256 i; i < 9; ++i) {
            bw |= uint256(f[i]) << (16 * i);
        }
        bw |= (uint256(x.minInterval) << 144) | (uint256(x.spotMaxChange) << 176);
    }

    function decodeBounds(uint256 bw) internal pure returns (IVolSurfaceOracle.SurfaceBounds memory x) {
        x = IVolSurfaceOracle.SurfaceBounds(
            field(bw, 0),
            field(bw, 1),
            field(bw, 2),
            field(bw, 3),
            field(bw, 4),
            field(bw, 5),
            field(bw, 6),
            field(bw, 7),
            field(bw, 8),
            uint32(minInterval(bw)),
            uint16(spotMaxChange(bw))
        );
    }

    function fields(IVolSurfaceOracle.SurfaceBounds memory x) internal pure returns (uint16[9] memory) {
        return [
            x.atmVolFloor,
            x.atmVolCeiling,
            x.atmVolMaxChange,
            x.priceMoveFloor,
            x.priceMoveCeiling,
            x.volUpFloor,
            x.volUpCeiling,
            x.volDownFloor,
            x.volDownCeiling
        ];
    }

    /// @notice Whether `x` is consistent: each floor at most its ceiling, minInterval >= 1.
    function validBounds(IVolSurfaceOracle.SurfaceBounds memory x) internal pure returns (bool) {
        return x.atmVolFloor <= x.atmVolCeiling && x.priceMoveFloor <= x.priceMoveCeiling
            && x.volUpFloor <= x.volUpCeiling && x.volDownFloor <= x.volDownCeiling && x.minInterval >= 1;
    }

    /// @notice The first field (0..8 in SurfaceBounds order, 9 minInterval, 10 spotMaxChange) where
    ///         `next` is less protective than `prev`, or 255: floors and ceilings may only rise,
    ///         atmVolMaxChange and spotMaxChange may only fall, minInterval may only grow.
    function firstLooser(uint256 prev, uint256 next) internal pure returns (uint8) {
        for (uint256 i; i < 9; ++i) {
            bool looser = i == 2 ? field(next, i) > field(prev, i) : field(next, i) < field(prev, i);
            if (looser) return uint8(i);
        }
        if (minInterval(next) < minInterval(prev)) return 9;
        if (spotMaxChange(next) > spotMaxChange(prev)) return 10;
        return type(uint8).max;
    }
}
