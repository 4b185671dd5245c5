// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVolSurfaceOracle} from "../../contracts/interfaces/IVolSurfaceOracle.sol";
import {IOptionsPortfolioMarginEngine} from "../../contracts/consumers/IOptionsPortfolioMarginEngine.sol";
import {Black76NormalCdf} from "../../contracts/libraries/Black76NormalCdf.sol";
import {OptionsPortfolioBase, Black76Harness} from "./OptionsPortfolioBase.t.sol";

contract OptionsPortfolioMarginEngineTest is OptionsPortfolioBase {
    // -------------------------------------------------------------------- valuation and margin

    function test_cdf_knownValues() public {
        Black76Harness h = new Black76Harness();
        int256 tol = int256(Black76NormalCdf.MAX_ABS_ERROR_WAD) + 1;
        // N(0) = 0.5, N(1) = 0.841344746068543, N(-2) = 0.022750131948179, N(7) = 1 - 1.3e-12.
        _near(h.cdf(0), 0.5e18, tol, "N(0)");
        _near(h.cdf(1e18), 841344746068542949, tol, "N(1)");
        _near(h.cdf(-2e18), 22750131948179208, tol, "N(-2)");
        _near(h.cdf(7e18), 1e18, tol, "N(7)");
        _near(h.cdf(-7e18), 0, tol, "N(-7)");
    }

    function test_black76_atmCall() public {
        Black76Harness h = new Black76Harness();
        // ATM, s = 0.2: call = F (2 N(0.1) - 1) = 100000 * 0.0796556745 = 7965.567455...; each N is
        // within MAX_ABS_ERROR_WAD, so the value within (F + K) * that = 2e5 * 1.8e-8 USD.
        _near(h.value(0, 0.2e18, 100_000e18, 100_000e18, true), 7965567455405804000000, 4e15, "ATM call");
        // Put-call parity at the money: put = call.
        _near(h.value(0, 0.2e18, 100_000e18, 100_000e18, false), 7965567455405804000000, 4e15, "ATM put");
    }

    function test_margin_longOptionNeedsNone() public view {
        assertEq(_im1(_opt(BTC, D30, 110_000e18, true, 1e18)), 0, "long call IM");
        assertEq(_im1(_opt(BTC, D30, 90_000e18, false, 1e18)), 0, "long put IM");
    }

    function test_margin_shortPutAtLeastItsMark() public view {
        uint256 im = _im1(_opt(BTC, D30, 90_000e18, false, -1e18));
        // Below the 16% crash intrinsic plus vol... and above the OTM put's small mark.
        assertGt(im, 2_000e18, "short put IM above a crash loss floor");
        assertLe(im, 90_000e18, "short put IM below the strike");
    }

    function test_margin_putSpreadBelowNakedShort() public view {
        uint256 naked = _im1(_opt(BTC, D30, 95_000e18, false, -1e18));
        uint256 spread = _im2(_opt(BTC, D30, 95_000e18, false, -1e18), _opt(BTC, D30, 85_000e18, false, 1e18));
        assertGt(naked, spread, "a put spread needs less than the naked short put");
        assertLe(spread, 10_000e18, "a put spread never needs more than its width");
    }

    function test_margin_linearHedgeOffsets() public view {
        IOptionsPortfolioMarginEngine.OptionPosition[] memory options = new IOptionsPortfolioMarginEngine.OptionPosition[](1);
        options[0] = _opt(BTC, D30, 100_000e18, true, -1e18);
        IOptionsPortfolioMarginEngine.LinearPosition[] memory hedge = new IOptionsPortfolioMarginEngine.LinearPosition[](1);
        hedge[0] = IOptionsPortfolioMarginEngine.LinearPosition(BTC, 0.5e18);
        (uint256 naked,) = engine.marginFor(options, new IOptionsPortfolioMarginEngine.LinearPosition[](0));
        (uint256 hedged,) = engine.marginFor(options, hedge);
        (uint256 linearAlone,) = engine.marginFor(new IOptionsPortfolioMarginEngine.OptionPosition[](0), hedge);
        assertGt(naked, hedged, "a delta hedge lowers the short call's margin");
        // Linear alone: |size| * spot * priceMove (the extremes weigh 2x by 1/2 and 3x by 1/3).
        assertEq(linearAlone, 8_000e18, "0.5 BTC * 100k * 16%");
    }

    function test_margin_noNettingAcrossUnderlyings() public view {
        uint256 btc = _im1(_opt(BTC, D30, 95_000e18, false, -1e18));
        uint256 eth = _im1(_opt(ETH, D30, 2_800e18, false, -10e18));
        uint256 both = _im2(_opt(BTC, D30, 95_000e18, false, -1e18), _opt(ETH, D30, 2_800e18, false, -10e18));
        assertEq(both, btc + eth, "underlyings add up");
    }

    function test_margin_maintenanceIsFactorOfInitial() public view {
        IOptionsPortfolioMarginEngine.OptionPosition[] memory options = new IOptionsPortfolioMarginEngine.OptionPosition[](1);
        options[0] = _opt(BTC, D7, 100_000e18, true, -2e18);
        (uint256 im, uint256 mm) = engine.marginFor(options, new IOptionsPortfolioMarginEngine.LinearPosition[](0));
        assertEq(mm, (im * 8 - 1) / 10 + 1, "MM = ceil(0.8 IM)");
    }

    function test_margin_shorterExpiryShocksVolMore() public view {
        // Same moneyness and smile shape would be needed for a clean comparison; check instead that
        // the short straddle's vega scenario binds at 7 days (term factor (30/7)^0.3 = 1.55).
        uint256 straddle7 = _im2(_opt(BTC, D7, 100_000e18, true, -1e18), _opt(BTC, D7, 100_000e18, false, -1e18));
        assertGt(straddle7, 16_000e18, "a short straddle loses at least the 16% move");
    }

    // -------------------------------------------------------------------- trading and collateral

    function test_setOption_opensWithCollateralAndEmits() public {
        uint256 im = _im1(_opt(BTC, D30, 90_000e18, false, -1e18));
        _fund(ALICE, im / 1e12 + 1);
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
        assertEq(engine.initialMargin(ALICE), (im - 1) / 1e12 + 1, "account IM equals the view's, in token units");
        IOptionsPortfolioMarginEngine.OptionPosition[] memory held = engine.optionsOf(ALICE);
        assertEq(held.length, 1, "one option held");
        assertEq(held[0].strike, 90_000e18, "strike stored");
        assertEq(held[0].size, -1e18, "size stored");
        assertEq(uint256(held[0].expiry), uint256(D30), "expiry stored");
    }

    function test_setOption_revertsWithoutCollateral() public {
        _fund(ALICE, 100e6);
        vm.expectRevert();
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
        assertEq(engine.optionsOf(ALICE).length, 0, "nothing opened");
    }

    function test_setOption_reverts_unlistedStrikeSizeExpired() public {
        vm.expectRevert(abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginUnderlyingNotListed.selector, bytes32("SOL")));
        _setOption(ALICE, bytes32("SOL"), D30, 100e18, true, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginInvalidStrike.selector, uint256(0)));
        _setOption(ALICE, BTC, D30, 0, true, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginSizeTooLarge.selector, BTC, int256(1e25 + 1e12)));
        _setOption(ALICE, BTC, D30, 100_000e18, true, 1e25 + 1e12);
        vm.expectRevert(abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginInvalidStrike.selector, uint256(1e25 + 1e12)));
        _setOption(ALICE, BTC, D30, 1e25 + 1e12, true, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginUnrepresentable.selector, uint256(100_000e18 + 1), int256(1e18)));
        _setOption(ALICE, BTC, D30, 100_000e18 + 1, true, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginUnrepresentable.selector, uint256(100_000e18), int256(-1e18 - 1)));
        _setOption(ALICE, BTC, D30, 100_000e18, true, -1e18 - 1);
        vm.expectRevert(abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginOptionExpired.selector, BTC, uint64(T0 - 1)));
        _setOption(ALICE, BTC, T0 - 1, 100_000e18, true, 1e18);
    }

    /// Two options per slot and two linear sizes per slot: extreme representable values read back
    /// exactly, removal moves the last option into the gap, closeAll clears everything but collateral.
    function test_storage_packedPositionsRoundTrip() public {
        _fund(ALICE, 10_000_000e6);
        _setOption(ALICE, BTC, D30, 100_000e18, true, 1e18);
        _setOption(ALICE, BTC, D90, 1e12, false, int256(1e25)); // smallest strike, largest long
        _setOption(ALICE, ETH, D7, 3_000e18 + 1e12, true, -1e12); // smallest short
        vm.prank(ALICE);
        engine.setLinear(BTC, -2e18);
        vm.prank(ALICE);
        engine.setLinear(ETH, 3e18);
        IOptionsPortfolioMarginEngine.OptionPosition[] memory held = engine.optionsOf(ALICE);
        assertEq(held.length, 3, "three options");
        assertEq(held[1].strike, 1e12, "strike");
        assertEq(held[1].size, int256(1e25), "size");
        assertEq(held[1].expiry, D90, "expiry");
        assertEq(held[2].underlying, ETH, "underlying");
        assertEq(held[2].strike, 3_000e18 + 1e12, "strike 2");
        assertEq(held[2].size, -1e12, "size 2");
        assertTrue(held[2].isCall && !held[1].isCall, "isCall");
        assertEq(engine.linearOf(ALICE, BTC), -2e18, "linear BTC");
        assertEq(engine.linearOf(ALICE, ETH), 3e18, "linear ETH");
        _setOption(ALICE, BTC, D30, 100_000e18, true, 0); // the first goes: the last takes its place
        held = engine.optionsOf(ALICE);
        assertEq(held.length, 2, "two options");
        assertEq(held[0].underlying, ETH, "last moved to the gap");
        assertEq(held[0].size, -1e12, "moved size");
        assertEq(held[1].size, int256(1e25), "second kept");
        uint256 collateral = engine.collateralOf(ALICE);
        vm.prank(ALICE);
        engine.closeAll();
        assertEq(engine.optionsOf(ALICE).length, 0, "no options");
        assertEq(engine.linearOf(ALICE, BTC), 0, "no linear");
        assertEq(engine.collateralOf(ALICE), collateral, "collateral kept");
        assertEq(engine.initialMargin(ALICE), 0, "nothing to margin");
    }

    function test_setOption_unknownExpiryReverts() public {
        _fund(ALICE, 1_000_000e6);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnknownExpiry.selector, BTC, uint64(T0 + 60 days)));
        _setOption(ALICE, BTC, T0 + 60 days, 100_000e18, true, 1e18);
    }

    function test_withdraw_keepsInitialMargin() public {
        _fund(ALICE, 50_000e6);
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
        uint256 im = engine.initialMargin(ALICE);
        uint256 free = 50_000e6 - im;
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsPortfolioMarginEngine.PortfolioMarginInsufficientCollateral.selector, ALICE, im - 1, im
            )
        );
        engine.withdraw(free + 1);
        vm.prank(ALICE);
        engine.withdraw(free);
        assertEq(engine.collateralOf(ALICE), im, "withdrew down to the initial margin");
    }

    // -------------------------------------------------------------------- fail closed, reduce risk

    function test_staleSmile_failsClosed() public {
        _fund(ALICE, 100_000e6);
        vm.warp(T0 + MAX_AGE + 1);
        surface.setShocks(BTC, 0.16e18, 0.5e18, 0.25e18, uint64(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceStale.selector, BTC, T0, uint256(MAX_AGE)));
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
    }

    function test_staleShocks_failsClosed() public {
        _fund(ALICE, 100_000e6);
        vm.warp(T0 + MAX_AGE + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginStaleData.selector, BTC, T0, uint256(MAX_AGE))
        );
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
    }

    function test_paused_failsClosedButShortsReduce() public {
        _fund(ALICE, 100_000e6);
        _setOption(ALICE, BTC, D30, 90_000e18, false, -2e18);
        _setOption(ALICE, BTC, D30, 80_000e18, false, 1e18);
        surface.pauseAll(true);
        vm.expectRevert(IVolSurfaceOracle.VolSurfacePaused.selector);
        _setOption(ALICE, BTC, D30, 90_000e18, false, -3e18);
        vm.prank(ALICE);
        vm.expectRevert(IVolSurfaceOracle.VolSurfacePaused.selector);
        engine.withdraw(1);
        // Reducing the long put (a hedge) could raise risk: it needs the oracle.
        vm.expectRevert(IVolSurfaceOracle.VolSurfacePaused.selector);
        _setOption(ALICE, BTC, D30, 80_000e18, false, 0);
        // Reducing the short needs none.
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
        assertEq(engine.optionsOf(ALICE)[0].size, -1e18, "short reduced while paused");
        // Closing everything needs none.
        vm.prank(ALICE);
        engine.closeAll();
        assertEq(engine.optionsOf(ALICE).length, 0, "book closed while paused");
    }

    function test_underlyingPaused_linearReduceWithoutShorts() public {
        _fund(ALICE, 100_000e6);
        vm.prank(ALICE);
        engine.setLinear(BTC, 2e18);
        surface.pauseUnderlying(BTC, true);
        vm.prank(ALICE);
        engine.setLinear(BTC, 1e18);
        assertEq(engine.linearOf(ALICE, BTC), 1e18, "linear reduced while paused");
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnderlyingPaused.selector, BTC));
        engine.setLinear(BTC, 3e18);
    }

    // -------------------------------------------------------------------- liquidation

    function test_liquidate_afterCrash() public {
        uint256 im = _im1(_opt(BTC, D30, 90_000e18, false, -1e18));
        _fund(ALICE, (im - 1) / 1e12 + 1);
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
        vm.prank(KEEPER);
        vm.expectRevert();
        engine.liquidate(ALICE);
        _publishBtc(80_000e18); // a 20% crash: the short put is in the money
        assertTrue(engine.isLiquidatable(ALICE), "liquidatable after the crash");
        uint256 mm = engine.maintenanceMargin(ALICE);
        uint256 collateral = engine.collateralOf(ALICE);
        vm.prank(KEEPER);
        uint256 penalty = engine.liquidate(ALICE);
        assertEq(penalty, mm / 10 > collateral ? collateral : mm / 10, "penalty 10% of MM, capped");
        assertEq(usd.balanceOf(KEEPER), penalty, "keeper paid");
        assertEq(engine.optionsOf(ALICE).length, 0, "book closed");
        assertEq(engine.collateralOf(ALICE), collateral - penalty, "rest stays with the account");
    }

    function test_liquidate_failsClosedOnStaleAndHoldsGraceAfterPause() public {
        uint256 im = _im1(_opt(BTC, D30, 90_000e18, false, -1e18));
        _fund(ALICE, (im - 1) / 1e12 + 1);
        _setOption(ALICE, BTC, D30, 90_000e18, false, -1e18);
        vm.warp(T0 + 10 minutes);
        _publishBtc(80_000e18);
        surface.pauseUnderlying(BTC, true);
        vm.prank(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnderlyingPaused.selector, BTC));
        engine.liquidate(ALICE);
        vm.warp(T0 + 20 minutes);
        surface.pauseUnderlying(BTC, false);
        vm.prank(KEEPER);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsPortfolioMarginEngine.PortfolioMarginLiquidationGrace.selector, ALICE, BTC, uint256(T0 + 20 minutes + GRACE)
            )
        );
        engine.liquidate(ALICE);
        assertFalse(engine.isLiquidatable(ALICE), "in grace");
        vm.warp(T0 + 20 minutes + GRACE);
        _publishBtc(80_000e18);
        vm.prank(KEEPER);
        engine.liquidate(ALICE);
        assertEq(engine.optionsOf(ALICE).length, 0, "liquidated after the grace period");
    }

    // -------------------------------------------------------------------- settlement

    function test_expired_valuedAtSettlementPrice() public {
        _fund(ALICE, 200_000e6);
        _setOption(ALICE, BTC, D7, 100_000e18, false, -1e18);
        vm.warp(D7 + 1);
        _publish();
        // Expired, not yet settled: a margin check over it fails closed.
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceNotSettled.selector, BTC, D7));
        engine.initialMargin(ALICE);
        surface.setSettlement(BTC, D7, 93_000e18, D7);
        // Intrinsic 7,000 USD owed on the short put, unaffected by any scenario.
        assertEq(engine.initialMargin(ALICE), 7_000e6, "IM = the settled intrinsic value");
        vm.prank(BOB);
        assertEq(engine.settleExpired(ALICE), 1, "one option settled");
        assertEq(engine.optionsOf(ALICE).length, 0, "settled option removed");
        assertEq(engine.initialMargin(ALICE), 0, "nothing left");
    }

    // -------------------------------------------------------------------- governance

    function test_maintenanceFactor_bounded() public {
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsPortfolioMarginEngine.PortfolioMarginInvalidMaintenanceFactor.selector, uint256(1e18 + 1))
        );
        engine.setMaintenanceFactor(1e18 + 1);
        vm.prank(ALICE);
        vm.expectRevert();
        engine.setMaintenanceFactor(0.9e18);
        engine.setMaintenanceFactor(0.9e18);
        assertEq(engine.maintenanceFactor(), 0.9e18, "factor set by the owner");
    }

    function _near(int256 a, int256 b, int256 tol, string memory what) internal pure {
        int256 d = a > b ? a - b : b - a;
        if (d > tol) assertEq(a, b, what);
    }
}
