// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IVolSurfaceOracle} from "../../contracts/interfaces/IVolSurfaceOracle.sol";
import {IOptionsPortfolioMarginEngine} from "../../contracts/consumers/IOptionsPortfolioMarginEngine.sol";
import {OptionsPortfolioMarginEngine} from "../../contracts/consumers/OptionsPortfolioMarginEngine.sol";
import {Black76NormalCdf} from "../../contracts/libraries/Black76NormalCdf.sol";
import {Black76} from "../../contracts/libraries/Black76.sol";
import {TestUSD} from "../../contracts/mocks/TestUSD.sol";
import {TestBase} from "./mocks/TestBase.sol";
import {MockVolSurfaceOracle} from "./mocks/MockVolSurfaceOracle.sol";

/// @notice Exposes the Black-76 library for the Python differential test of N(x) and prices.
contract Black76Harness {
    function cdf(int256 x) external pure returns (int256) {
        return Black76NormalCdf.cdf(x);
    }

    function cdfMany(int256[] calldata xs) external pure returns (int256[] memory out) {
        out = new int256[](xs.length);
        uint256 table = Black76NormalCdf.table();
        for (uint256 i; i < xs.length; ++i) {
            out[i] = Black76NormalCdf.cdfWith(xs[i], table);
        }
    }

    function value(int256 lnFK, int256 s, int256 forward, int256 strike, bool isCall) external pure returns (int256) {
        return Black76.value(lnFK, s, forward, strike, isCall);
    }
}

/// @notice Shared fixture: a mock surface oracle with BTC (4 expiries) and ETH (2 expiries), TestUSD
///         and the engine (maintenance factor 0.8, grace 30 minutes, max age 1 hour).
abstract contract OptionsPortfolioBase is TestBase {
    bytes32 internal constant BTC = bytes32("BTC");
    bytes32 internal constant ETH = bytes32("ETH");
    uint64 internal constant T0 = 1_750_000_000;
    uint64 internal constant D7 = T0 + 7 days;
    uint64 internal constant D30 = T0 + 30 days;
    uint64 internal constant D90 = T0 + 90 days;
    uint64 internal constant D180 = T0 + 180 days;
    uint32 internal constant MAX_AGE = 1 hours;
    uint256 internal constant GRACE = 30 minutes;
    uint256 internal constant MM_FACTOR = 0.8e18;
    uint256 internal constant BTC_SPOT = 100_000e18;
    uint256 internal constant ETH_SPOT = 3_000e18;

    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant KEEPER = address(0xCA401);

    MockVolSurfaceOracle internal surface;
    TestUSD internal usd;
    OptionsPortfolioMarginEngine internal engine;

    function setUp() public virtual {
        vm.warp(T0);
        surface = new MockVolSurfaceOracle();
        usd = new TestUSD(address(this));
        engine = new OptionsPortfolioMarginEngine(
            IVolSurfaceOracle(address(surface)), IERC20(address(usd)), address(this), GRACE, MM_FACTOR
        );
        _publish();
        engine.listUnderlying(BTC, MAX_AGE);
        engine.listUnderlying(ETH, MAX_AGE);
    }

    /// @dev Publish every smile, the shocks and the spots at the current block time.
    function _publish() internal {
        _publishBtc(BTC_SPOT);
        uint64 now_ = uint64(block.timestamp);
        surface.setShocks(ETH, 0.2e18, 0.5e18, 0.25e18, now_);
        surface.setSpot(ETH, ETH_SPOT, now_);
        surface.setSmile(ETH, D7, _smile(0.0012e18, 0.02e18, -0.2e18, 0, 0.06e18, ETH_SPOT, D7));
        surface.setSmile(ETH, D30, _smile(0.012e18, 0.06e18, -0.25e18, 0.01e18, 0.1e18, 3_010e18, D30));
    }

    function _publishBtc(uint256 spot) internal {
        uint64 now_ = uint64(block.timestamp);
        surface.setShocks(BTC, 0.16e18, 0.5e18, 0.25e18, now_);
        surface.setSpot(BTC, spot, now_);
        surface.setSmile(BTC, D7, _smile(0.001e18, 0.015e18, -0.3e18, 0, 0.05e18, spot, D7));
        surface.setSmile(BTC, D30, _smile(0.01e18, 0.05e18, -0.3e18, 0.02e18, 0.1e18, spot * 1002 / 1000, D30));
        surface.setSmile(BTC, D90, _smile(0.03e18, 0.08e18, -0.35e18, 0.03e18, 0.15e18, spot * 1006 / 1000, D90));
        surface.setSmile(BTC, D180, _smile(0.06e18, 0.1e18, -0.4e18, 0.05e18, 0.2e18, spot * 1012 / 1000, D180));
    }

    function _smile(int256 a, uint256 b, int256 rho, int256 m, uint256 sigma, uint256 forward, uint64 expiry)
        internal
        view
        returns (IVolSurfaceOracle.Smile memory)
    {
        return IVolSurfaceOracle.Smile(a, b, rho, m, sigma, forward, expiry, uint64(block.timestamp));
    }

    function assertGt(uint256 a, uint256 b, string memory what) internal pure {
        if (a <= b) assertEq(a, b + 1, string.concat(what, " (expected a > b)"));
    }

    function _fund(address account, uint256 amount) internal {
        usd.mint(account, amount);
        vm.startPrank(account);
        usd.approve(address(engine), amount);
        engine.deposit(amount);
        vm.stopPrank();
    }

    function _opt(bytes32 u, uint64 expiry, uint256 strike, bool isCall, int256 size)
        internal
        pure
        returns (IOptionsPortfolioMarginEngine.OptionPosition memory)
    {
        return IOptionsPortfolioMarginEngine.OptionPosition(u, expiry, strike, isCall, size);
    }

    function _im(IOptionsPortfolioMarginEngine.OptionPosition[] memory options) internal view returns (uint256 im) {
        (im,) = engine.marginFor(options, new IOptionsPortfolioMarginEngine.LinearPosition[](0));
    }

    function _im1(IOptionsPortfolioMarginEngine.OptionPosition memory o) internal view returns (uint256) {
        IOptionsPortfolioMarginEngine.OptionPosition[] memory options = new IOptionsPortfolioMarginEngine.OptionPosition[](1);
        options[0] = o;
        return _im(options);
    }

    function _im2(IOptionsPortfolioMarginEngine.OptionPosition memory a, IOptionsPortfolioMarginEngine.OptionPosition memory b)
        internal
        view
        returns (uint256)
    {
        IOptionsPortfolioMarginEngine.OptionPosition[] memory options = new IOptionsPortfolioMarginEngine.OptionPosition[](2);
        options[0] = a;
        options[1] = b;
        return _im(options);
    }

    function _setOption(address account, bytes32 u, uint64 expiry, uint256 strike, bool isCall, int256 size) internal {
        vm.prank(account);
        engine.setOption(u, expiry, strike, isCall, size);
    }
}
