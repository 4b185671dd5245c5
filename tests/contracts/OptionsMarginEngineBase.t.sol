// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {OptionsMarginEngine} from "../../contracts/consumers/OptionsMarginEngine.sol";
import {TestUSD} from "../../contracts/mocks/TestUSD.sol";
import {TestBase} from "./mocks/TestBase.sol";
import {RealOracleDriver} from "./utils/RealOracleDriver.sol";

/// @notice Shared fixture: a real RiskOracle (driven through signed reports) with BTC and ETH
///         published, TestUSD, and the engine with a 30-minute liquidation grace period.
abstract contract OptionsMarginEngineBase is TestBase {
    bytes32 internal constant BTC = bytes32("BTC-USD");
    bytes32 internal constant ETH = bytes32("ETH-USD");
    uint32 internal constant T0 = 1_750_000_000;
    uint32 internal constant MAX_AGE = 1 hours;
    uint256 internal constant GRACE = 30 minutes;
    uint16 internal constant BTC_IM = 1000;
    uint16 internal constant BTC_MM = 500;
    uint16 internal constant BTC_MM_CEILING = 2000;
    uint16 internal constant ETH_IM = 1500;
    uint16 internal constant ETH_MM = 750;
    uint16 internal constant ETH_MM_CEILING = 3000;

    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant KEEPER = address(0xCA401);

    RealOracleDriver internal oracle;
    TestUSD internal usd;
    OptionsMarginEngine internal engine;

    function setUp() public virtual {
        vm.warp(T0);
        oracle = new RealOracleDriver();
        oracle.listMarket(BTC, BTC_MM_CEILING);
        oracle.listMarket(ETH, ETH_MM_CEILING);
        oracle.publishMargins(BTC, BTC_IM, BTC_MM);
        oracle.publishMargins(ETH, ETH_IM, ETH_MM);
        usd = new TestUSD(address(this));
        engine = new OptionsMarginEngine(oracle.oracle(), IERC20(address(usd)), address(this), GRACE);
        engine.listMarket(BTC, MAX_AGE);
        engine.listMarket(ETH, MAX_AGE);
    }

    function _fund(address account, uint256 amount) internal {
        usd.mint(account, amount);
        vm.startPrank(account);
        usd.approve(address(engine), amount);
        engine.deposit(amount);
        vm.stopPrank();
    }

    function _open(address account, bytes32 marketId, int256 notional) internal {
        vm.prank(account);
        engine.setPosition(marketId, notional);
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function _ceilBps(uint256 weighted) internal pure returns (uint256) {
        return (weighted + 9_999) / 10_000;
    }

    /// @dev Refresh both markets' data at the current block time with unchanged margins.
    function _refresh() internal {
        oracle.publishMargins(BTC, BTC_IM, BTC_MM);
        oracle.publishMargins(ETH, ETH_IM, ETH_MM);
    }
}
