// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {RiskOracle} from "../../contracts/RiskOracle.sol";
import {RiskParamAggregator} from "../../contracts/adapters/RiskParamAggregator.sol";
import {RiskOracleFixture} from "./utils/RiskOracleFixture.sol";

/// @notice One regression test (or more) per finding of the contract review (issue 9), each of which
///         failed on the contracts before the fix, plus the cross-chain replay test. Findings:
///         1 a pause never reached the readers; 2 "tightening" could lower IM/MM ceilings; 3 a round of
///         2^64 - 1 froze a market for good; 4 maxChange bounded each report, not each interval.
///         (Finding 5, the engine's grace period, is in OptionsMarginEngineGrace.t.sol.)
contract RiskOracleSecurityTest is RiskOracleFixture {
    uint128 internal p0;

    function setUp() public override {
        super.setUp();
        p0 = _pack(_defaultFields());
        _publish(BTC, p0, 1);
        _publish(ETH, p0, 1);
    }

    // ------------------------------------------------------------------------------------------
    // Finding 1: pauses reach every reader
    // ------------------------------------------------------------------------------------------

    function test_finding1_marketPaused_typedReadsRevert() public {
        vm.prank(GUARDIAN);
        oracle.pauseMarket(BTC);
        bytes memory err = abi.encodeWithSelector(IRiskOracle.RiskOracleMarketPaused.selector, BTC);
        vm.expectRevert(err);
        oracle.getRiskParams(BTC);
        vm.expectRevert(err);
        oracle.getRiskParamsNoOlderThan(BTC, 1 days);
        bytes32[] memory both = new bytes32[](2);
        (both[0], both[1]) = (ETH, BTC);
        vm.expectRevert(err);
        oracle.getRiskParamsBatch(both);
        assertEq(oracle.getRiskParams(ETH).round, 1, "other market still readable");
    }

    function test_finding1_oraclePaused_everyTypedReadReverts() public {
        vm.prank(GUARDIAN);
        oracle.pause();
        bytes4 err = IRiskOracle.RiskOraclePaused.selector;
        vm.expectRevert(err);
        oracle.getRiskParams(BTC);
        vm.expectRevert(err);
        oracle.getRiskParamsNoOlderThan(ETH, 1 days);
        bytes32[] memory one = new bytes32[](1);
        one[0] = ETH;
        vm.expectRevert(err);
        oracle.getRiskParamsBatch(one);
    }

    function test_finding1_getMarketWord_exposesBothPauseBits() public {
        vm.startPrank(GUARDIAN);
        oracle.pauseMarket(BTC);
        oracle.pause();
        vm.stopPrank();
        assertEq((oracle.getMarketWord(BTC) >> 233) & 3, 3, "market and oracle pause bits");
        assertEq((oracle.getMarketWord(ETH) >> 233) & 3, 2, "oracle pause bit only");
        vm.prank(ADMIN);
        oracle.unpause();
        assertEq((oracle.getMarketWord(BTC) >> 233) & 3, 1, "market pause survives the global unpause");
        assertEq((oracle.getMarketWord(ETH) >> 233) & 3, 0, "ETH usable again");
        assertEq(oracle.getRiskParams(ETH).round, 1, "ETH readable");
    }

    function test_finding1_marketListedDuringPause_isPausedToo() public {
        vm.prank(GUARDIAN);
        oracle.pause();
        vm.prank(ADMIN);
        oracle.listMarket(DOGE, WIDE);
        assertEq((oracle.getMarketWord(DOGE) >> 234) & 1, 1, "mirror set at listing");
        vm.prank(ADMIN);
        oracle.unpause();
        assertEq((oracle.getMarketWord(DOGE) >> 234) & 1, 0, "cleared by unpause");
    }

    function test_finding1_adapter_pausedMarket_reverts() public {
        RiskParamAggregator feed = new RiskParamAggregator(oracle, BTC, 4);
        (, int256 answer,,,) = feed.latestRoundData();
        assertEq(uint256(answer), 500, "MM before the pause");
        vm.prank(GUARDIAN);
        oracle.pauseMarket(BTC);
        vm.expectRevert(abi.encodeWithSelector(RiskParamAggregator.RiskParamAggregatorPaused.selector, BTC));
        feed.latestRoundData();
        vm.prank(ADMIN);
        oracle.unpauseMarket(BTC);
        vm.prank(GUARDIAN);
        oracle.pause();
        vm.expectRevert(abi.encodeWithSelector(RiskParamAggregator.RiskParamAggregatorPaused.selector, BTC));
        feed.getRoundData(1);
    }

    function test_finding1_pauseWindow_recordsStartAndEnd() public {
        vm.prank(GUARDIAN);
        oracle.pauseMarket(BTC);
        vm.warp(T0 + 100);
        vm.prank(GUARDIAN);
        oracle.pause();
        (uint64 since, uint64 resumed) = oracle.pauseWindow(BTC);
        assertEq(since, T0, "earliest active pause");
        assertEq(resumed, 0, "never resumed");
        (since,) = oracle.pauseWindow(ETH);
        assertEq(since, T0 + 100, "ETH only under the global pause");
        vm.warp(T0 + 200);
        vm.startPrank(ADMIN);
        oracle.unpauseMarket(BTC);
        oracle.unpause();
        vm.stopPrank();
        (since, resumed) = oracle.pauseWindow(BTC);
        assertEq(since, 0, "no active pause");
        assertEq(resumed, T0 + 200, "resumed");
    }

    // ------------------------------------------------------------------------------------------
    // Finding 2: the guardian can only move bounds the protective way
    // ------------------------------------------------------------------------------------------

    function test_finding2_guardianLowersMaintenanceCeiling_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[4].ceiling = b.fields[4].floor; // would force MM to the floor and the fallback down
        _expectNotTighter(b, 4);
    }

    function test_finding2_guardianLowersInitialCeiling_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[3].ceiling = 200;
        _expectNotTighter(b, 3);
    }

    function test_finding2_guardianRaisesLiquidationThreshold_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[5].ceiling = 9600;
        _expectNotTighter(b, 5);
        b = _strictBounds();
        b.fields[5].floor = 1500;
        _expectNotTighter(b, 5);
    }

    function test_finding2_guardianMovesScoreBounds_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[6].ceiling = 9000;
        _expectNotTighter(b, 6);
    }

    function test_finding2_guardianRaisesMarginsAndLowersLt_lands() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[3].floor = 800;
        b.fields[3].ceiling = 6000;
        b.fields[4].floor = 400;
        b.fields[4].ceiling = 5000;
        b.fields[5].floor = 900;
        b.fields[5].ceiling = 9000;
        vm.prank(GUARDIAN);
        oracle.tightenBounds(STRICT, b);
        IRiskOracle.Bounds memory stored = oracle.getBounds(STRICT);
        assertEq(stored.fields[4].ceiling, 5000, "MM ceiling raised");
        assertEq(stored.fields[5].ceiling, 9000, "LT ceiling lowered");
    }

    // ------------------------------------------------------------------------------------------
    // Finding 3: a poisoned round counter is bounded and recoverable
    // ------------------------------------------------------------------------------------------

    function test_finding3_roundMaxUint64_rejectedByStepBound() public {
        vm.warp(T0 + 60);
        uint64 poisoned = type(uint64).max;
        IRiskOracle.RiskReport memory r = _report(ETH, p0, poisoned);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskOracle.RiskOracleRoundStepTooLarge.selector, ETH, poisoned, uint64(1))
        );
        oracle.submitReport(r, sigs);
    }

    function test_finding3_largestStep_landsThenDaoRecovers() public {
        vm.warp(T0 + 60);
        uint64 jumped = 1 + oracle.MAX_ROUND_STEP();
        _publish(ETH, p0, jumped);
        // A report the nodes signed for their next time-slot round before the recovery...
        vm.warp(T0 + 120);
        IRiskOracle.RiskReport memory stale = _report(ETH, p0, jumped + 1);
        IRiskOracle.Signature[] memory staleSigs = _sign(stale, K);
        (,, uint32 epochBefore) = oracle.getSigners();
        vm.expectEmit(true, false, false, true);
        emit IRiskOracle.MarketRoundRecovered(ETH, 2, epochBefore + 1);
        vm.prank(ADMIN);
        oracle.recoverMarketRound(ETH, 2);
        assertEq(uint64(oracle.getMarketWord(ETH) >> 160), 2, "round reset");
        assertEq(oracle.getRiskParams(ETH).es99, _defaultFields()[2], "params kept");
        // ...is void under the new epoch, so it cannot be replayed against the lower round.
        vm.expectRevert(
            abi.encodeWithSelector(IRiskOracle.RiskOracleWrongEpoch.selector, epochBefore, epochBefore + 1)
        );
        oracle.submitReport(stale, staleSigs);
        _publish(ETH, p0, 3);
        assertEq(oracle.getRiskParams(ETH).round, 3, "honest rounds land again");
    }

    function test_finding3_recoverMarketRound_onlyAdmin() public {
        vm.prank(GUARDIAN);
        vm.expectRevert();
        oracle.recoverMarketRound(ETH, 0);
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownMarket.selector, DOGE));
        oracle.recoverMarketRound(DOGE, 0);
    }

    // ------------------------------------------------------------------------------------------
    // Finding 4: maxChange per interval, not per report
    // ------------------------------------------------------------------------------------------

    /// @dev The review's exploit: five backdated reports in one block under a 50% maxChange. BTC's
    ///      strict profile: IM relative maxChange 50%, minInterval 60 s, maxReportAge 3600 s.
    function test_finding4_stackedBackdatedReports_onlyOneLandsPerInterval() public {
        vm.warp(T0 + 3600);
        uint16[8] memory f = _defaultFields(); // IM 1000, MM 500
        uint256 landed;
        for (uint256 i; i < 5; ++i) {
            f[3] = f[3] / 2;
            f[4] = f[3] / 2;
            IRiskOracle.RiskReport memory r = _report(BTC, _pack(f), uint64(2 + i));
            r.observedAt = uint64(T0 + 100 + 60 * i); // each 60 s after the last, all in the past
            try oracle.submitReport(r, _sign(r, K)) {
                ++landed;
            } catch (bytes memory reason) {
                assertEq(bytes4(reason), IRiskOracle.RiskOracleUpdateTooFrequent.selector, "rate limit");
            }
        }
        assertEq(landed, 1, "one update per interval");
        assertEq(oracle.getRiskParams(BTC).initialMargin, 500, "IM moved by maxChange once, not to 100");
    }

    function test_finding4_nextUpdate_waitsMinIntervalOfBlockTime() public {
        // BTC was accepted at T0 with observedAt T0 - 5.
        uint16[8] memory f = _defaultFields();
        f[3] = 900;
        vm.warp(T0 + 59);
        IRiskOracle.RiskReport memory r = _report(BTC, _pack(f), 2);
        r.observedAt = uint64(T0 + 55); // 60 s after the stored observedAt: passes the old rule
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRiskOracle.RiskOracleUpdateTooFrequent.selector, BTC, uint64(T0 + 59), uint64(T0 + 60)
            )
        );
        oracle.submitReport(r, sigs);
        vm.warp(T0 + 60);
        oracle.submitReport(r, sigs);
        assertEq(oracle.getRiskParams(BTC).initialMargin, 900, "lands once the interval passed");
    }

    function test_finding4_zeroMinInterval_rejected() public {
        IRiskOracle.Bounds memory b = _wideBounds();
        b.minInterval = 0;
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidBounds.selector, uint8(5)));
        oracle.setBounds(5, b);
    }

    function test_finding4_maxReportAgeAboveLagField_rejected() public {
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidMaxAge.selector, uint32(1 << 21)));
        oracle.setMaxReportAge(uint32(1 << 21));
    }

    // ------------------------------------------------------------------------------------------
    // Replay across chains
    // ------------------------------------------------------------------------------------------

    /// @dev A report co-signed for this chain cannot land on another chain, even for an oracle at the
    ///      same address with the same signers: the EIP-712 domain binds block.chainid.
    function test_crossChainReplay_sameAddressOtherChain_rejected() public {
        vm.warp(T0 + 60);
        IRiskOracle.RiskReport memory r = _report(ETH, p0, 2);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        bytes32 digestHere = oracle.reportDigest(r);
        uint256 here = block.chainid;
        vm.chainId(here + 1);
        assertTrue(oracle.reportDigest(r) != digestHere, "domain separator follows the chain id");
        try oracle.submitReport(r, sigs) {
            revert("replayed on another chain");
        } catch (bytes memory reason) {
            // RiskOracleUnknownSigner(0, <the address recovered from the other chain's digest>)
            assertEq(bytes4(reason), IRiskOracle.RiskOracleUnknownSigner.selector, "unknown signer");
        }
        vm.chainId(here);
        oracle.submitReport(r, sigs);
        assertEq(oracle.getRiskParams(ETH).round, 2, "lands on its own chain");
    }
}
