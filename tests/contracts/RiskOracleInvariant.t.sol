// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {RiskParamAggregator} from "../../contracts/adapters/RiskParamAggregator.sol";
import {RiskOracleHandler} from "./handlers/RiskOracleHandler.sol";
import {Assertions} from "./utils/Assertions.sol";

/// @notice Invariants over random sequences of quorum reports, guardian actions (pauses, tightening
///         in any direction) and governance actions (signers, bounds, relisting, round recovery) (WETH
///         invariant-testing pattern: a Handler is the only fuzzed target and keeps ghost state).
contract RiskOracleInvariantTest is Assertions {
    RiskOracleHandler internal handler;
    RiskParamAggregator[3] internal feeds;

    function setUp() public {
        vm.warp(1_750_000_000);
        handler = new RiskOracleHandler();
        for (uint256 i; i < 3; ++i) {
            feeds[i] = new RiskParamAggregator(handler.oracle(), handler.markets(i), 4);
        }
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
            if (uint64(word >> 160) == 0 || handler.ghostLandedAt(m) == 0) continue;
            IRiskOracle.Bounds memory b = handler.ghostBoundsAtStore(m);
            for (uint256 f; f < 8; ++f) {
                uint16 v = uint16(word >> (16 * f));
                assertTrue(v >= b.fields[f].floor && v <= b.fields[f].ceiling, "stored field outside its bounds");
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
            // Params and observedAt only change through reports (governance may relist, recover the
            // round or pause markets meanwhile).
            uint256 data = (uint256(1) << 160) - 1;
            assertEq(word & data, frozen & data, "market data changed while paused");
        }
    }

    /// @notice No reader ever sees a paused market's params as usable: every typed read and the
    ///         adapter revert with the pause error, and the raw word carries a pause bit.
    function invariant_noReaderSeesPausedParams() public view {
        bool global = handler.oracle().paused();
        for (uint256 i; i < handler.marketCount(); ++i) {
            bytes32 m = handler.markets(i);
            if (!global && !handler.ghostMarketPaused(m)) continue;
            bytes memory expected = global
                ? abi.encodeWithSelector(IRiskOracle.RiskOraclePaused.selector)
                : abi.encodeWithSelector(IRiskOracle.RiskOracleMarketPaused.selector, m);
            try handler.oracle().getRiskParams(m) {
                revert("getRiskParams served a paused market");
            } catch (bytes memory reason) {
                assertEq(keccak256(reason), keccak256(expected), "getRiskParams pause error");
            }
            try handler.oracle().getRiskParamsNoOlderThan(m, type(uint256).max) {
                revert("getRiskParamsNoOlderThan served a paused market");
            } catch (bytes memory reason) {
                assertEq(keccak256(reason), keccak256(expected), "NoOlderThan pause error");
            }
            try feeds[i].latestRoundData() {
                revert("the adapter served a paused market");
            } catch (bytes memory reason) {
                bytes memory feedErr = abi.encodeWithSelector(RiskParamAggregator.RiskParamAggregatorPaused.selector, m);
                assertEq(keccak256(reason), keccak256(feedErr), "adapter pause error");
            }
            assertTrue((handler.oracle().getMarketWord(m) >> 233) & 3 != 0, "raw word shows the pause");
        }
    }

    /// @notice A guardian action never lowers a protective field's floor or ceiling, never raises LT's,
    ///         and never touches score/confidence bounds, maxChange upwards or minInterval downwards.
    function invariant_guardianNeverLoosens() public view {
        assertFalse(handler.ghostGuardianLoosened(), "a guardian action loosened a bound");
    }

    /// @notice No value moves by more than maxChange within one interval: two updates of a market are
    ///         at least minInterval apart in block time, each within maxChange of the one before.
    function invariant_maxChangeHoldsPerInterval() public view {
        assertEq(keccak256(bytes(handler.ghostRateViolation())), keccak256(""), handler.ghostRateViolation());
    }

    /// @notice The campaign really exercises acceptance and rejection (guards against a vacuous run).
    function invariant_campaignLandsAndRejectsReports() public view {
        // ~1 in 4 open submissions is fully valid, so 60 without one landing would be a broken run.
        if (handler.openSubmits() >= 60) assertGt(handler.accepted(), 0, "no report ever landed");
        if (handler.accepted() + handler.rejected() >= 60) assertGt(handler.rejected(), 0, "nothing rejected");
    }
}
