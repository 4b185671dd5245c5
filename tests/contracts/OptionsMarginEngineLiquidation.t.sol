// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOptionsMarginEngine} from "../../contracts/consumers/IOptionsMarginEngine.sol";
import {OptionsMarginEngineBase} from "./OptionsMarginEngineBase.t.sol";

/// @notice Maintenance requirement, the stale-data fallback, and liquidation accounting.
contract OptionsMarginEngineLiquidationTest is OptionsMarginEngineBase {
    /// @dev Alice: 250e6 collateral, long 1,000e6 BTC (IM 100e6, MM 50e6), short 1,000e6 ETH (IM 150e6, MM 75e6).
    function setUp() public override {
        super.setUp();
        _fund(ALICE, 250e6);
        _open(ALICE, BTC, 1_000e6);
        _open(ALICE, ETH, -1_000e6);
    }

    function _assertConserved(uint256 supplyHeldOutside) internal view {
        uint256 held = engine.collateralOf(ALICE) + engine.collateralOf(BOB);
        assertEq(usd.balanceOf(address(engine)), held, "engine balance = sum of collateral");
        assertEq(usd.totalSupply(), held + supplyHeldOutside, "no token created or lost");
    }

    // ---------------------------------------------------------------- requirements

    function test_requirements_freshData_useOracleMargins() public view {
        assertEq(engine.initialRequirement(ALICE), 250e6, "initial");
        (uint256 maintenance, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        assertEq(maintenance, 125e6, "maintenance");
        assertFalse(fallbackUsed, "fallback");
        assertFalse(engine.isLiquidatable(ALICE), "liquidatable");
    }

    function test_maintenance_staleData_usesDaoCeilingNotStoredValue() public {
        vm.warp(T0 + MAX_AGE + 1);
        (uint256 maintenance, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        // 1,000e6 * 20% + 1,000e6 * 30%, not the stored 5% / 7.5%.
        assertEq(maintenance, 500e6, "ceiling requirement");
        assertTrue(fallbackUsed, "fallback");
        assertEq(engine.maintenanceRequirement(ALICE), 500e6, "plain view agrees");
        // Stale since T0 + MAX_AGE: in grace until T0 + MAX_AGE + GRACE, then liquidatable.
        assertFalse(engine.isLiquidatable(ALICE), "in grace");
        (uint256 until, bytes32 marketId) = engine.liquidationGraceUntil(ALICE);
        assertEq(until, T0 + MAX_AGE + GRACE, "grace end");
        assertTrue(marketId == BTC || marketId == ETH, "a held market");
        vm.warp(T0 + MAX_AGE + GRACE - 1);
        assertFalse(engine.isLiquidatable(ALICE), "last second of grace");
        vm.warp(T0 + MAX_AGE + GRACE);
        assertTrue(engine.isLiquidatable(ALICE), "250e6 < 500e6 once grace ends");
    }

    function test_maintenance_oneMarketStale_fallsBackForThatMarketOnly() public {
        vm.warp(T0 + MAX_AGE + 1);
        oracle.publishMargins(ETH, ETH_IM, ETH_MM);
        (uint256 maintenance, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        assertEq(maintenance, 200e6 + 75e6, "BTC ceiling + ETH fresh");
        assertTrue(fallbackUsed, "fallback");
        assertFalse(engine.isLiquidatable(ALICE), "BTC in grace");
        vm.warp(T0 + MAX_AGE + GRACE + 1);
        oracle.publishMargins(ETH, ETH_IM, ETH_MM);
        assertTrue(engine.isLiquidatable(ALICE), "250e6 < 275e6 after grace");
    }

    function test_maintenance_staleButCeilingCovered_notLiquidatable() public {
        _fund(ALICE, 250e6); // 500e6 total covers the 500e6 ceiling requirement
        vm.warp(T0 + 30 days);
        (uint256 maintenance, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        assertEq(maintenance, 500e6, "ceiling requirement");
        assertTrue(fallbackUsed, "fallback");
        assertFalse(engine.isLiquidatable(ALICE), "collateral == requirement");
        vm.prank(KEEPER);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineNotLiquidatable.selector, ALICE, 500e6, 500e6
            )
        );
        engine.liquidate(ALICE);
    }

    function test_maintenance_marketPaused_usesCeiling() public {
        oracle.pauseMarket(BTC);
        (uint256 maintenance, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        assertEq(maintenance, 200e6 + 75e6, "BTC ceiling + ETH fresh");
        assertTrue(fallbackUsed, "fallback");
    }

    function test_maintenance_oraclePaused_usesCeilingEverywhere() public {
        oracle.pause();
        (uint256 maintenance, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        assertEq(maintenance, 200e6 + 300e6, "both ceilings");
        assertTrue(fallbackUsed, "fallback");
    }

    // ---------------------------------------------------------------- liquidation

    function test_liquidate_healthyAccount_reverts() public {
        vm.prank(KEEPER);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineNotLiquidatable.selector, ALICE, 250e6, 125e6
            )
        );
        engine.liquidate(ALICE);
    }

    function test_liquidate_accountWithoutPositions_reverts() public {
        vm.prank(KEEPER);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineNotLiquidatable.selector, BOB, 0, 0)
        );
        engine.liquidate(BOB);
    }

    function test_liquidate_afterMaintenanceIncrease_closesAllAndPaysPenalty() public {
        oracle.publishMargins(BTC, 2000, 1600); // MM 16% + ETH 7.5% = 235e6 < 250e6: still healthy
        assertFalse(engine.isLiquidatable(ALICE), "at 235e6");
        oracle.publishMargins(BTC, 2500, 1800); // 180e6 + 75e6 = 255e6 > 250e6
        assertTrue(engine.isLiquidatable(ALICE), "at 255e6");

        vm.expectEmit(true, true, false, true);
        emit IOptionsMarginEngine.AccountLiquidated(ALICE, KEEPER, 250e6, 255e6, false, 2_000e6, 20e6);
        vm.prank(KEEPER);
        uint256 penalty = engine.liquidate(ALICE);

        assertEq(penalty, 20e6, "1% of 2,000e6 closed");
        assertEq(usd.balanceOf(KEEPER), 20e6, "keeper paid");
        assertEq(engine.collateralOf(ALICE), 230e6, "rest stays with the account");
        assertEq(engine.positionOf(ALICE, BTC), 0, "BTC closed");
        assertEq(engine.positionOf(ALICE, ETH), 0, "ETH closed");
        assertEq(engine.marketsOf(ALICE).length, 0, "no markets");
        assertEq(engine.maintenanceRequirement(ALICE), 0, "no requirement left");
        assertFalse(engine.isLiquidatable(ALICE), "healthy after");
        _assertConserved(20e6);
        vm.prank(ALICE);
        engine.withdraw(230e6);
        assertEq(usd.balanceOf(ALICE), 230e6, "account withdraws the rest");
    }

    function test_liquidate_onStaleFallback_reportsFallbackAndPays() public {
        vm.warp(T0 + MAX_AGE + GRACE + 1);
        vm.expectEmit(true, true, false, true);
        emit IOptionsMarginEngine.AccountLiquidated(ALICE, KEEPER, 250e6, 500e6, true, 2_000e6, 20e6);
        vm.prank(KEEPER);
        assertEq(engine.liquidate(ALICE), 20e6, "penalty");
        assertEq(engine.collateralOf(ALICE), 230e6, "collateral left");
        _assertConserved(20e6);
    }

    function test_liquidate_penaltyAboveCollateral_cappedAtCollateral() public {
        // BOB: 50e6 collateral, 10,000e6 notional at IM 0.5%; then MM rises to 2%: penalty 1% = 100e6 > 50e6.
        bytes32 sol = bytes32("SOL-USD");
        oracle.listMarket(sol, 2000);
        oracle.publishMargins(sol, 50, 25);
        engine.listMarket(sol, MAX_AGE);
        _fund(BOB, 50e6);
        _open(BOB, sol, 10_000e6);
        oracle.publishMargins(sol, 300, 200);
        vm.prank(KEEPER);
        uint256 penalty = engine.liquidate(BOB);
        assertEq(penalty, 50e6, "capped");
        assertEq(engine.collateralOf(BOB), 0, "collateral exhausted");
        assertEq(usd.balanceOf(KEEPER), 50e6, "keeper paid all");
        assertEq(engine.collateralOf(ALICE), 250e6, "other account untouched");
        _assertConserved(50e6);
    }

    function testFuzz_liquidate_anyShock_conservesTokens(uint256 notionalSeed, uint256 extraSeed, uint16 newMm) public {
        uint256 notional = bound(notionalSeed, 1, 1e30);
        uint256 initial = _ceilBps(notional * BTC_IM);
        uint256 extra = bound(extraSeed, 0, initial);
        _fund(BOB, initial + extra);
        _open(BOB, BTC, -int256(notional));
        newMm = uint16(bound(newMm, 0, BTC_MM_CEILING));
        oracle.publishMargins(BTC, newMm > BTC_IM ? newMm : BTC_IM, newMm);
        uint256 maintenance = _ceilBps(notional * newMm);
        uint256 collateral = initial + extra;
        assertEq(engine.maintenanceRequirement(BOB), maintenance, "BOB maintenance");
        if (collateral >= maintenance) {
            assertFalse(engine.isLiquidatable(BOB), "healthy");
            return;
        }
        vm.prank(KEEPER);
        uint256 penalty = engine.liquidate(BOB);
        uint256 expected = notional / 100;
        if (expected > collateral) expected = collateral;
        assertEq(penalty, expected, "penalty");
        assertEq(engine.collateralOf(BOB), collateral - expected, "BOB left");
        assertEq(usd.balanceOf(KEEPER), expected, "keeper");
        _assertConserved(expected);
    }

    /// @dev Worst case the 16-market cap bounds: every market stale, so 16 failed reads + 16 bounds reads.
    function test_liquidate_sixteenStaleMarkets_gasBounded() public {
        _fund(BOB, 16e6);
        for (uint256 i; i < 16; ++i) {
            bytes32 id = bytes32(uint256(keccak256(abi.encode("G", i))) << 8);
            oracle.listMarket(id, 2000);
            oracle.publishMargins(id, 1000, 500);
            engine.listMarket(id, MAX_AGE);
            _open(BOB, id, 10e6);
        }
        vm.warp(T0 + MAX_AGE + GRACE + 1);
        vm.prank(KEEPER);
        uint256 before = gasleft();
        uint256 penalty = engine.liquidate(BOB);
        uint256 used = before - gasleft();
        assertEq(penalty, 1.6e6, "1% of 160e6");
        // Measured 350,041 here (slots warmed by the set-up in the same test).
        assertLe(used, 450_000, "liquidation gas for 16 stale markets");
    }
}
