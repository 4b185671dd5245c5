// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVolSurfaceOracle} from "../../contracts/interfaces/IVolSurfaceOracle.sol";
import {IOptionsPortfolioMarginEngine} from "../../contracts/consumers/IOptionsPortfolioMarginEngine.sol";
import {OptionsPortfolioMarginEngine} from "../../contracts/consumers/OptionsPortfolioMarginEngine.sol";
import {OptionsPortfolioBase} from "./OptionsPortfolioBase.t.sol";

/// @notice Revert paths and bookkeeping of the portfolio margin engine not covered elsewhere.
contract OptionsPortfolioRevertPathsTest is OptionsPortfolioBase {
    function test_listUnderlying_rejectsBadMaxAgeAndNonOwner() public {
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginInvalidMaxAge.selector, bytes32("SOL"), uint256(0))
        );
        engine.listUnderlying(bytes32("SOL"), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsPortfolioMarginEngine.PortfolioMarginInvalidMaxAge.selector, bytes32("SOL"), uint256(7 days + 1)
            )
        );
        engine.listUnderlying(bytes32("SOL"), 7 days + 1);
        vm.prank(ALICE);
        vm.expectRevert();
        engine.listUnderlying(bytes32("SOL"), 1 hours);
        assertEq(uint256(engine.underlyingMaxAge(bytes32("SOL"))), 0, "nothing listed");
    }

    function test_listUnderlying_atMostSixteen() public {
        for (uint256 i = 2; i < 16; ++i) {
            engine.listUnderlying(bytes32(i), 1 hours);
        }
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginTooManyUnderlyings.selector, uint256(16))
        );
        engine.listUnderlying(bytes32("ONE-TOO-MANY"), 1 hours);
        engine.listUnderlying(BTC, 2 hours); // changing a listed one is still fine
        assertEq(uint256(engine.underlyingMaxAge(BTC)), 2 hours, "max age changed");
    }

    function test_constructor_rejectsBadParameters() public {
        vm.expectRevert(IOptionsPortfolioMarginEngine.PortfolioMarginZeroAddress.selector);
        new OptionsPortfolioMarginEngine(IVolSurfaceOracle(address(0)), usd, address(this), GRACE, MM_FACTOR);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginInvalidGracePeriod.selector, uint256(1 days + 1))
        );
        new OptionsPortfolioMarginEngine(IVolSurfaceOracle(address(surface)), usd, address(this), 1 days + 1, MM_FACTOR);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginInvalidMaintenanceFactor.selector, uint256(0.4e18))
        );
        new OptionsPortfolioMarginEngine(IVolSurfaceOracle(address(surface)), usd, address(this), GRACE, 0.4e18);
    }

    function test_depositWithdraw_zeroAndTooMuch() public {
        vm.prank(ALICE);
        vm.expectRevert(IOptionsPortfolioMarginEngine.PortfolioMarginZeroAmount.selector);
        engine.deposit(0);
        _fund(ALICE, 100e6);
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsPortfolioMarginEngine.PortfolioMarginWithdrawExceedsCollateral.selector, ALICE, uint256(101e6), uint256(100e6)
            )
        );
        engine.withdraw(101e6);
        vm.prank(ALICE);
        engine.withdraw(100e6); // no positions: no oracle read, everything comes back
        assertEq(usd.balanceOf(ALICE), 100e6, "collateral returned");
    }

    function test_marginFor_duplicatesAddUp() public view {
        uint256 twice = _im2(_opt(BTC, D90, 90_000e18, false, -1e18), _opt(BTC, D90, 90_000e18, false, -1e18));
        uint256 double = _im1(_opt(BTC, D90, 90_000e18, false, -2e18));
        assertLe(twice, double + 1, "two entries of 1 = one entry of 2");
        assertLe(double, twice + 1, "(within rounding)");
    }

    function test_setLinear_reduceWithShortOptionNeedsOracle() public {
        _fund(ALICE, 200_000e6);
        vm.prank(ALICE);
        engine.setLinear(BTC, 1e18);
        _setOption(ALICE, BTC, D30, 110_000e18, true, -1e18); // a covered call
        surface.pauseAll(true);
        // The linear position hedges the short call: reducing it needs the margin check.
        vm.prank(ALICE);
        vm.expectRevert(IVolSurfaceOracle.VolSurfacePaused.selector);
        engine.setLinear(BTC, 0.5e18);
        // Increasing a long option is never oracle-free either (its expiry must be checked).
        vm.expectRevert(IVolSurfaceOracle.VolSurfacePaused.selector);
        _setOption(ALICE, BTC, D30, 90_000e18, false, 1e18);
        assertEq(engine.linearOf(ALICE, BTC), 1e18, "unchanged");
    }

    function test_closeAll_clearsOptionsAndLinearWithoutOracle() public {
        _fund(ALICE, 500_000e6);
        vm.startPrank(ALICE);
        engine.setLinear(BTC, -1e18);
        engine.setLinear(ETH, 10e18);
        engine.setOption(BTC, D30, 95_000e18, false, -1e18);
        engine.setOption(ETH, D7, 3_000e18, true, -5e18);
        vm.stopPrank();
        surface.pauseAll(true);
        vm.prank(ALICE);
        engine.closeAll();
        assertEq(engine.optionsOf(ALICE).length, 0, "options closed");
        assertEq(engine.linearOf(ALICE, BTC), 0, "BTC linear closed");
        assertEq(engine.linearOf(ALICE, ETH), 0, "ETH linear closed");
        surface.pauseAll(false);
        assertEq(engine.initialMargin(ALICE), 0, "nothing left to margin");
    }

    function test_settleExpired_unsettledStaysAndLiveUntouched() public {
        _fund(ALICE, 500_000e6);
        _setOption(ALICE, BTC, D7, 100_000e18, true, -1e18);
        _setOption(ALICE, BTC, D30, 100_000e18, true, -1e18);
        vm.warp(D7 + 10);
        assertEq(engine.settleExpired(ALICE), 0, "no settlement price yet: nothing settled");
        assertEq(engine.optionsOf(ALICE).length, 2, "both kept");
        surface.setSettlement(BTC, D7, 104_000e18, D7);
        vm.expectEmit(true, true, false, true);
        emit IOptionsPortfolioMarginEngine.OptionSettled(ALICE, BTC, D7, 100_000e18, true, -1e18, 104_000e18, -4_000e18);
        assertEq(engine.settleExpired(ALICE), 1, "the expired call settled");
        IOptionsPortfolioMarginEngine.OptionPosition[] memory held = engine.optionsOf(ALICE);
        assertEq(held.length, 1, "the live one stays");
        assertEq(uint256(held[0].expiry), uint256(D30), "the live one");
    }

    function test_liquidate_healthyAccountReverts() public {
        _fund(ALICE, 1_000_000e6);
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
        uint256 mm = engine.maintenanceMargin(ALICE);
        vm.prank(KEEPER);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsPortfolioMarginEngine.PortfolioMarginNotLiquidatable.selector, ALICE, uint256(1_000_000e6), mm
            )
        );
        engine.liquidate(ALICE);
        assertFalse(engine.isLiquidatable(ALICE), "healthy");
    }
}
