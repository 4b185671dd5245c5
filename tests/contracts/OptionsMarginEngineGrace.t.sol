// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOptionsMarginEngine} from "../../contracts/consumers/IOptionsMarginEngine.sol";
import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {OptionsMarginEngineBase} from "./OptionsMarginEngineBase.t.sol";

/// @notice The engine against a real, paused RiskOracle, and the liquidation grace period (issue 9,
///         findings 1 and 5): after a pause or an outage, opening and withdrawing fail closed at once,
///         but nobody is liquidated at the fallback ceiling before the grace period has passed, nor
///         at new margins right after a pause is lifted.
contract OptionsMarginEngineGraceTest is OptionsMarginEngineBase {
    /// @dev Alice: 250e6 collateral, long 1,000e6 BTC (IM 100e6, MM 50e6), short 1,000e6 ETH (IM 150e6,
    ///      MM 75e6). Ceilings: BTC 20%, ETH 30% -> 500e6 at the fallback.
    function setUp() public override {
        super.setUp();
        _fund(ALICE, 250e6);
        _open(ALICE, BTC, 1_000e6);
        _open(ALICE, ETH, -1_000e6);
    }

    function _expectGrace(bytes32 marketId, uint256 until) internal {
        vm.prank(KEEPER);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineLiquidationGrace.selector, ALICE, marketId, until
            )
        );
        engine.liquidate(ALICE);
    }

    // ---------------------------------------------------------------- finding 1: pause reaches the engine

    function test_finding1_pausedMarket_openAndWithdrawFailClosed() public {
        _fund(ALICE, 1_000e6);
        oracle.pauseMarket(BTC);
        bytes memory paused = abi.encodeWithSelector(IRiskOracle.RiskOracleMarketPaused.selector, BTC);
        vm.prank(ALICE);
        vm.expectRevert(paused);
        engine.withdraw(1);
        vm.prank(ALICE);
        vm.expectRevert(paused);
        engine.setPosition(ETH, -2_000e6); // any increase reads every held market
        _open(ALICE, BTC, 500e6); // reducing never needs the oracle
        assertEq(engine.positionOf(ALICE, BTC), 500e6, "reduced while paused");
    }

    function test_finding1_oraclePaused_openFailsClosed() public {
        oracle.pause();
        vm.prank(ALICE);
        vm.expectRevert(IRiskOracle.RiskOraclePaused.selector);
        engine.setPosition(BTC, 2_000e6);
    }

    // ---------------------------------------------------------------- finding 5: grace period

    function test_finding5_pause_noCeilingLiquidationUntilGracePassed() public {
        vm.warp(T0 + 60);
        oracle.pauseMarket(BTC); // BTC at the 20% ceiling: 200e6 + 75e6 > 250e6
        assertEq(engine.maintenanceRequirement(ALICE), 275e6, "ceiling applies to the requirement");
        assertFalse(engine.isLiquidatable(ALICE), "but not liquidatable in grace");
        _expectGrace(BTC, T0 + 60 + GRACE);
        vm.warp(T0 + 60 + GRACE);
        assertTrue(engine.isLiquidatable(ALICE), "liquidatable once grace has passed");
        vm.prank(KEEPER);
        assertEq(engine.liquidate(ALICE), 20e6, "1% of 2,000e6 closed");
    }

    function test_finding5_pause_accountCuresDuringGrace() public {
        oracle.pause();
        _fund(ALICE, 250e6); // deposits never need the oracle: 500e6 covers both ceilings
        vm.warp(T0 + GRACE + 1);
        assertFalse(engine.isLiquidatable(ALICE), "cured");
        vm.prank(KEEPER);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineNotLiquidatable.selector, ALICE, 500e6, 500e6
            )
        );
        engine.liquidate(ALICE);
    }

    function test_finding5_stale_graceCountsFromWhenDataWentStale() public {
        vm.warp(T0 + MAX_AGE + 10 minutes);
        _expectGrace(BTC, T0 + MAX_AGE + GRACE);
        vm.warp(T0 + MAX_AGE + GRACE);
        vm.prank(KEEPER);
        assertEq(engine.liquidate(ALICE), 20e6, "liquidated at the ceiling after grace");
    }

    function test_finding5_afterUnpause_freshMarginsWaitForGrace() public {
        oracle.pauseMarket(BTC);
        vm.warp(T0 + 10 minutes);
        oracle.unpauseMarket(BTC);
        oracle.publishMargins(BTC, 2500, 1800); // 180e6 + 75e6 = 255e6 > 250e6 on fresh data
        (uint256 requirement, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        assertEq(requirement, 255e6, "fresh requirement");
        assertFalse(fallbackUsed, "fresh data");
        _expectGrace(BTC, T0 + 10 minutes + GRACE);
        vm.warp(T0 + 10 minutes + GRACE);
        oracle.publishMargins(BTC, 2500, 1800);
        oracle.publishMargins(ETH, ETH_IM, ETH_MM);
        assertTrue(engine.isLiquidatable(ALICE), "after grace");
    }

    function test_finding5_freshDataNeverPaused_noGrace() public {
        oracle.publishMargins(BTC, 2500, 1800);
        (uint256 until,) = engine.liquidationGraceUntil(ALICE);
        assertEq(until, 0, "no grace on ordinary data");
        vm.prank(KEEPER);
        assertEq(engine.liquidate(ALICE), 20e6, "a crash liquidates at once");
    }
}
