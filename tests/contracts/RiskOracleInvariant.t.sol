// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RiskOracleHandler} from "./handlers/RiskOracleHandler.sol";
import {Assertions} from "./utils/Assertions.sol";

/// @notice Invariants over random sequences of reports, pauses and guardian tightening (WETH
///         invariant-testing pattern: a Handler is the only fuzzed target and keeps ghost state).
contract RiskOracleInvariantTest is Assertions {
    RiskOracleHandler internal handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        handler = new RiskOracleHandler();
    }

    /// @dev forge reads this instead of fuzzing every contract deployed in setUp.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Every stored field lies within the profile bounds in force when it was stored.
    function invariant_storedParamsWithinTheirBounds() public view {
        for (uint256 i; i < handler.marketCount(); ++i) {
            bytes32 m = handler.markets(i);
            uint256 word = handler.oracle().getMarketWord(m);
            if (uint64(word >> 160) == 0) continue;
            (uint16[8] memory lo, uint16[8] memory hi) = handler.ghostBoundsAtStore(m);
            for (uint256 f; f < 8; ++f) {
                uint16 v = uint16(word >> (16 * f));
                assertTrue(v >= lo[f] && v <= hi[f], "stored field outside its bounds");
            }
        }
    }

    /// @notice Rounds strictly increase per market, and the oracle's round is the last one that landed.
    function invariant_roundsStrictlyIncrease() public view {
        assertFalse(handler.ghostRoundWentBackwards(), "a non-increasing round landed");
        for (uint256 i; i < handler.marketCount(); ++i) {
            bytes32 m = handler.markets(i);
            assertEq(uint64(handler.oracle().getMarketWord(m) >> 160), handler.ghostRound(m), "stored round");
        }
    }

    /// @notice Nothing lands without k distinct authorised signers (and no bad signature rides along).
    function invariant_nothingLandsUnderSigned() public view {
        assertFalse(handler.ghostUnderSignedLanded(), "an under-signed report landed");
    }

    /// @notice While paused (globally or per market) no market state changes.
    function invariant_pausedMeansFrozen() public view {
        assertFalse(handler.ghostLandedWhilePaused(), "a report landed while paused");
        if (!handler.oracle().paused()) return;
        for (uint256 i; i < handler.marketCount(); ++i) {
            bytes32 m = handler.markets(i);
            uint256 frozen = handler.ghostWordAtPause(m);
            uint256 word = handler.oracle().getMarketWord(m);
            // Only the per-market pause bit may differ (guardian may pause markets meanwhile).
            assertEq(word & ~uint256(1 << 233), frozen & ~uint256(1 << 233), "market word changed while paused");
        }
    }

    /// @notice The campaign really exercises acceptance and rejection (guards against a vacuous run).
    function invariant_campaignLandsAndRejectsReports() public view {
        // ~1 in 4 open submissions is fully valid, so 60 without one landing would be a broken run.
        if (handler.openSubmits() >= 60) assertGt(handler.accepted(), 0, "no report ever landed");
        if (handler.accepted() + handler.rejected() >= 60) assertGt(handler.rejected(), 0, "nothing rejected");
    }
}
