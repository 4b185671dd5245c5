// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {IOptionsMarginEngine} from "../../contracts/consumers/IOptionsMarginEngine.sol";
import {OptionsMarginEngine} from "../../contracts/consumers/OptionsMarginEngine.sol";
import {TestUSD} from "../../contracts/mocks/TestUSD.sol";
import {MockRiskOracle} from "./mocks/MockRiskOracle.sol";
import {TestBase} from "./mocks/TestBase.sol";

/// @notice The engine against oracle failures a real RiskOracle cannot produce (an unknown revert,
///         a read that burns all gas): the only engine tests that keep MockRiskOracle.
contract OptionsMarginEngineOracleFailuresTest is TestBase {
    bytes32 internal constant BTC = bytes32("BTC-USD");
    address internal constant ALICE = address(0xA11CE);
    address internal constant KEEPER = address(0xCA401);

    MockRiskOracle internal oracle;
    TestUSD internal usd;
    OptionsMarginEngine internal engine;

    function setUp() public {
        vm.warp(1_750_000_000);
        oracle = new MockRiskOracle();
        oracle.listMarket(BTC, 2000);
        oracle.publishMargins(BTC, 1000, 500);
        usd = new TestUSD(address(this));
        engine = new OptionsMarginEngine(IRiskOracle(address(oracle)), IERC20(address(usd)), address(this), 1800);
        engine.listMarket(BTC, 1 hours);
        usd.mint(ALICE, 1_000e6);
        vm.startPrank(ALICE);
        usd.approve(address(engine), 1_000e6);
        engine.deposit(1_000e6);
        engine.setPosition(BTC, 1_000e6);
        vm.stopPrank();
    }

    function test_setPosition_reduceWhenOracleBroken_allowed() public {
        oracle.setFailure(BTC, MockRiskOracle.Failure.UnknownError);
        vm.prank(ALICE);
        engine.setPosition(BTC, 1e6);
        assertEq(engine.positionOf(ALICE, BTC), 1e6, "reduced without reading the oracle");
    }

    function test_maintenance_unknownOracleError_reverts() public {
        oracle.setFailure(BTC, MockRiskOracle.Failure.UnknownError);
        bytes memory reason = abi.encodeWithSelector(MockRiskOracle.MockRiskOracleBroken.selector, BTC);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineOracleReadFailed.selector, BTC, reason)
        );
        engine.maintenanceRequirement(ALICE);
    }

    function test_liquidate_oracleOutOfGas_revertsInsteadOfFallback() public {
        oracle.setFailure(BTC, MockRiskOracle.Failure.OutOfGas);
        vm.prank(KEEPER);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionsMarginEngine.OptionsMarginEngineOracleReadFailed.selector, BTC, "")
        );
        engine.liquidate{gas: 2_000_000}(ALICE);
        assertEq(engine.positionOf(ALICE, BTC), 1_000e6, "positions kept");
    }
}
