// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {IOptionsMarginEngine} from "../../contracts/consumers/IOptionsMarginEngine.sol";
import {OptionsMarginEngine} from "../../contracts/consumers/OptionsMarginEngine.sol";
import {OptionsMarginEngineBase} from "./OptionsMarginEngineBase.t.sol";

/// @notice Configuration, collateral and position rules, including fail-closed behaviour on stale data.
contract OptionsMarginEngineTest is OptionsMarginEngineBase {
    // ---------------------------------------------------------------- construction and listing

    function test_constructor_zeroOracle_reverts() public {
        vm.expectRevert(IOptionsMarginEngine.OptionsMarginEngineZeroAddress.selector);
        new OptionsMarginEngine(IRiskOracle(address(0)), IERC20(address(usd)), address(this), GRACE);
    }

    function test_constructor_zeroToken_reverts() public {
        IRiskOracle real = oracle.oracle();
        vm.expectRevert(IOptionsMarginEngine.OptionsMarginEngineZeroAddress.selector);
        new OptionsMarginEngine(real, IERC20(address(0)), address(this), GRACE);
    }

    function test_constructor_graceAboveMax_reverts() public {
        uint256 tooLong = engine.MAX_GRACE_PERIOD() + 1;
        IRiskOracle real = oracle.oracle();
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineInvalidGracePeriod.selector, tooLong)
        );
        new OptionsMarginEngine(real, IERC20(address(usd)), address(this), tooLong);
    }

    function test_getters_returnWiring() public view {
        assertEq(address(engine.oracle()), address(oracle.oracle()), "oracle");
        assertEq(engine.liquidationGracePeriod(), GRACE, "grace");
        assertEq(address(engine.collateralToken()), address(usd), "token");
        assertEq(engine.owner(), address(this), "owner");
        assertEq(engine.marketMaxAge(BTC), MAX_AGE, "BTC max age");
        assertEq(engine.marketMaxAge(bytes32("SOL-USD")), 0, "unlisted max age");
    }

    function test_listMarket_notOwner_reverts() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, ALICE));
        engine.listMarket(BTC, 60);
    }

    function test_listMarket_zeroMaxAge_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineInvalidMaxAge.selector, BTC, 0));
        engine.listMarket(BTC, 0);
    }

    function test_listMarket_maxAgeAboveWeek_reverts() public {
        uint32 tooLong = 7 days + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineInvalidMaxAge.selector, BTC, tooLong)
        );
        engine.listMarket(BTC, tooLong);
    }

    function test_listMarket_notListedInOracle_reverts() public {
        bytes32 sol = bytes32("SOL-USD");
        vm.expectRevert(abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineMarketNotInOracle.selector, sol));
        engine.listMarket(sol, 60);
    }

    function test_listMarket_relist_updatesMaxAgeAndEmits() public {
        vm.expectEmit(true, false, false, true);
        emit IOptionsMarginEngine.MarketConfigured(BTC, 120);
        engine.listMarket(BTC, 120);
        assertEq(engine.marketMaxAge(BTC), 120, "max age");
    }

    // ---------------------------------------------------------------- collateral

    function test_deposit_creditsAndTransfers() public {
        usd.mint(ALICE, 1_000e6);
        vm.startPrank(ALICE);
        usd.approve(address(engine), 1_000e6);
        vm.expectEmit(true, false, false, true);
        emit IOptionsMarginEngine.CollateralDeposited(ALICE, 400e6);
        engine.deposit(400e6);
        vm.stopPrank();
        assertEq(engine.collateralOf(ALICE), 400e6, "collateral");
        assertEq(usd.balanceOf(address(engine)), 400e6, "engine balance");
        assertEq(usd.balanceOf(ALICE), 600e6, "alice balance");
    }

    function test_deposit_zero_reverts() public {
        vm.prank(ALICE);
        vm.expectRevert(IOptionsMarginEngine.OptionsMarginEngineZeroAmount.selector);
        engine.deposit(0);
    }

    function test_withdraw_noPositions_paysOutEvenWhenOracleStale() public {
        _fund(ALICE, 500e6);
        vm.warp(T0 + 30 days);
        vm.prank(ALICE);
        engine.withdraw(500e6);
        assertEq(engine.collateralOf(ALICE), 0, "collateral");
        assertEq(usd.balanceOf(ALICE), 500e6, "alice balance");
    }

    function test_withdraw_moreThanCollateral_reverts() public {
        _fund(ALICE, 500e6);
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineWithdrawExceedsCollateral.selector, ALICE, 500e6 + 1, 500e6
            )
        );
        engine.withdraw(500e6 + 1);
    }

    function test_withdraw_zero_reverts() public {
        vm.prank(ALICE);
        vm.expectRevert(IOptionsMarginEngine.OptionsMarginEngineZeroAmount.selector);
        engine.withdraw(0);
    }

    function test_withdraw_downToInitialRequirement_succeeds() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 5_000e6); // IM 10% -> 500e6
        vm.prank(ALICE);
        engine.withdraw(500e6);
        assertEq(engine.collateralOf(ALICE), 500e6, "collateral left");
        assertEq(usd.balanceOf(ALICE), 500e6, "paid out");
    }

    function test_withdraw_belowInitialRequirement_reverts() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 5_000e6);
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineInsufficientCollateral.selector, ALICE, 500e6 - 1, 500e6
            )
        );
        engine.withdraw(500e6 + 1);
    }

    function test_withdraw_staleData_failsClosed() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 1_000e6);
        vm.warp(T0 + MAX_AGE + 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleStaleParams.selector, BTC, T0, MAX_AGE));
        engine.withdraw(1);
    }

    function test_withdraw_exactlyMaxAge_isFresh() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 1_000e6);
        vm.warp(T0 + MAX_AGE);
        vm.prank(ALICE);
        engine.withdraw(1);
        assertEq(engine.collateralOf(ALICE), 1_000e6 - 1, "collateral");
    }

    // ---------------------------------------------------------------- opening and increasing risk

    function test_setPosition_openWithinInitial_recordsAndEmits() public {
        _fund(ALICE, 100e6);
        vm.expectEmit(true, true, false, true);
        emit IOptionsMarginEngine.PositionChanged(ALICE, BTC, 0, -1_000e6);
        _open(ALICE, BTC, -1_000e6); // short, IM 10% -> exactly 100e6
        assertEq(engine.positionOf(ALICE, BTC), -1_000e6, "position");
        assertEq(engine.initialRequirement(ALICE), 100e6, "initial");
        assertEq(engine.maintenanceRequirement(ALICE), 50e6, "maintenance");
        bytes32[] memory markets = engine.marketsOf(ALICE);
        assertEq(markets.length, 1, "market count");
        assertEq(markets[0], BTC, "market");
    }

    function test_setPosition_openBeyondInitial_reverts() public {
        _fund(ALICE, 100e6 - 1);
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineInsufficientCollateral.selector, ALICE, 100e6 - 1, 100e6
            )
        );
        engine.setPosition(BTC, 1_000e6);
    }

    function test_setPosition_unlistedMarket_reverts() public {
        _fund(ALICE, 100e6);
        bytes32 sol = bytes32("SOL-USD");
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineMarketNotListed.selector, sol));
        engine.setPosition(sol, 1);
    }

    function test_setPosition_openOnStaleData_failsClosed() public {
        _fund(ALICE, 1_000e6);
        vm.warp(T0 + MAX_AGE + 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleStaleParams.selector, BTC, T0, MAX_AGE));
        engine.setPosition(BTC, 1);
    }

    function test_setPosition_openNeverPublishedMarket_failsClosed() public {
        bytes32 sol = bytes32("SOL-USD");
        oracle.listMarket(sol, 2000);
        engine.listMarket(sol, MAX_AGE);
        _fund(ALICE, 1_000e6);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleNoData.selector, sol));
        engine.setPosition(sol, 1);
    }

    function test_setPosition_increaseOnStaleData_failsClosed() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 1_000e6);
        vm.warp(T0 + MAX_AGE + 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleStaleParams.selector, BTC, T0, MAX_AGE));
        engine.setPosition(BTC, 1_000e6 + 1);
        assertEq(engine.positionOf(ALICE, BTC), 1_000e6, "unchanged");
    }

    function test_setPosition_flipSideOnStaleData_failsClosed() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 1_000e6);
        vm.warp(T0 + MAX_AGE + 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleStaleParams.selector, BTC, T0, MAX_AGE));
        engine.setPosition(BTC, -1); // smaller |notional| but new short exposure
    }

    function test_setPosition_increaseWhileOtherHeldMarketStale_failsClosed() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 1_000e6);
        _open(ALICE, ETH, 1_000e6);
        vm.warp(T0 + MAX_AGE + 1);
        oracle.publishMargins(ETH, ETH_IM, ETH_MM); // ETH fresh again, BTC stale
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleStaleParams.selector, BTC, T0, MAX_AGE));
        engine.setPosition(ETH, 2_000e6);
    }

    function test_setPosition_reduceOnStaleData_allowed() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, -1_000e6);
        vm.warp(T0 + 30 days);
        _open(ALICE, BTC, -400e6);
        assertEq(engine.positionOf(ALICE, BTC), -400e6, "reduced");
        _open(ALICE, BTC, 0);
        assertEq(engine.positionOf(ALICE, BTC), 0, "closed");
        assertEq(engine.marketsOf(ALICE).length, 0, "no markets");
    }

    function test_setPosition_sameValue_isNoOpWithoutOracleRead() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 1_000e6);
        vm.warp(T0 + 30 days);
        _open(ALICE, BTC, 1_000e6);
        assertEq(engine.positionOf(ALICE, BTC), 1_000e6, "unchanged");
    }

    function test_setPosition_aboveMaxNotional_reverts() public {
        int256 tooBig = int256(uint256(uint128(type(int128).max))) + 1;
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineNotionalTooLarge.selector, BTC, tooBig)
        );
        engine.setPosition(BTC, tooBig);
    }

    function test_setPosition_int256Min_reverts() public {
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineNotionalTooLarge.selector, BTC, type(int256).min
            )
        );
        engine.setPosition(BTC, type(int256).min);
    }

    function test_adjustPosition_addsDelta() public {
        _fund(ALICE, 1_000e6);
        _open(ALICE, ETH, 1_000e6);
        vm.prank(ALICE);
        engine.adjustPosition(ETH, -3_000e6);
        assertEq(engine.positionOf(ALICE, ETH), -2_000e6, "adjusted");
        assertEq(engine.initialRequirement(ALICE), 300e6, "15% of 2,000");
    }

    function test_adjustPosition_hugeDelta_reverts() public {
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineNotionalTooLarge.selector, BTC, type(int256).max
            )
        );
        engine.adjustPosition(BTC, type(int256).max);
    }

    function test_setPosition_seventeenthMarket_reverts() public {
        _fund(ALICE, 1_000e6);
        for (uint256 i; i < 17; ++i) {
            bytes32 id = bytes32(uint256(keccak256(abi.encode("M", i))) << 8);
            oracle.listMarket(id, 2000);
            oracle.publishMargins(id, 100, 50);
            engine.listMarket(id, MAX_AGE);
            if (i < 16) {
                _open(ALICE, id, 1e6);
                continue;
            }
            vm.prank(ALICE);
            vm.expectRevert(
                abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineTooManyMarkets.selector, ALICE, 16)
            );
            engine.setPosition(id, 1e6);
            // Closing one market frees a slot.
            _open(ALICE, engine.marketsOf(ALICE)[3], 0);
            _open(ALICE, id, 1e6);
            assertEq(engine.positionOf(ALICE, id), 1e6, "17th after closing one");
        }
        assertEq(engine.marketsOf(ALICE).length, 16, "market count");
    }

    function test_marketsOf_closeMiddle_keepsListConsistent() public {
        bytes32 sol = bytes32("SOL-USD");
        oracle.listMarket(sol, 2000);
        oracle.publishMargins(sol, 2000, 1000);
        engine.listMarket(sol, MAX_AGE);
        _fund(ALICE, 1_000e6);
        _open(ALICE, BTC, 100e6);
        _open(ALICE, ETH, 200e6);
        _open(ALICE, sol, 300e6);
        _open(ALICE, BTC, 0);
        bytes32[] memory markets = engine.marketsOf(ALICE);
        assertEq(markets.length, 2, "count");
        assertEq(markets[0], sol, "last moved into the hole");
        assertEq(markets[1], ETH, "ETH kept");
        _open(ALICE, sol, 0);
        _open(ALICE, ETH, 0);
        assertEq(engine.marketsOf(ALICE).length, 0, "empty");
        _open(ALICE, sol, 1e6);
        assertEq(engine.marketsOf(ALICE)[0], sol, "reopened");
    }
}
