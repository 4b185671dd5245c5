// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOptionsPortfolioMarginEngine} from "../../contracts/consumers/IOptionsPortfolioMarginEngine.sol";
import {OptionsPortfolioBase} from "./OptionsPortfolioBase.t.sol";

contract OptionsPortfolioFuzzTest is OptionsPortfolioBase {
    function _randomOption(uint256 seed) internal pure returns (IOptionsPortfolioMarginEngine.OptionPosition memory) {
        uint64[4] memory expiries = [D7, D30, D90, D180];
        bool btc = seed % 2 == 0;
        uint256 spot = btc ? BTC_SPOT : ETH_SPOT;
        uint64 expiry = btc ? expiries[(seed >> 1) % 4] : expiries[(seed >> 1) % 2];
        uint256 strike = spot * (50 + (seed >> 8) % 101) / 100;
        // A whole number of the engine's STORAGE_UNIT (1e12): stored positions are fixed-decimal.
        int256 size = int256(1e16 + (seed >> 32) % 5e18) / 1e12 * 1e12;
        if ((seed >> 96) % 2 == 0) size = -size;
        return _opt(btc ? BTC : ETH, expiry, strike, (seed >> 128) % 2 == 0, size);
    }

    /// A combined book never needs more than its parts (no netting loss; 2 wei for rounding).
    function testFuzz_margin_subadditive(uint256 seedA, uint256 seedB) public view {
        IOptionsPortfolioMarginEngine.OptionPosition memory a = _randomOption(seedA);
        IOptionsPortfolioMarginEngine.OptionPosition memory b = _randomOption(seedB);
        assertLe(_im2(a, b), _im1(a) + _im1(b) + 2, "IM(A + B) <= IM(A) + IM(B)");
    }

    /// A long option's hedge: adding a long never raises the margin; an exact offset leaves none.
    function testFuzz_margin_longsNeverAddAndOffsetsCancel(uint256 seed) public view {
        IOptionsPortfolioMarginEngine.OptionPosition memory a = _randomOption(seed);
        // A copy, not an alias of `a` (memory structs are references).
        IOptionsPortfolioMarginEngine.OptionPosition memory hedge = _opt(a.underlying, a.expiry, a.strike, a.isCall, 0);
        uint256 alone = _im1(a);
        hedge.size = a.size < 0 ? -a.size : a.size;
        assertLe(_im2(a, hedge), alone + 1, "adding a long never raises IM");
        hedge.size = -a.size;
        assertEq(_im2(a, hedge), 0, "a position and its exact opposite need nothing");
    }

    /// MM <= IM, and MM is the factor times IM rounded up.
    function testFuzz_margin_maintenanceBelowInitial(uint256 seedA, uint256 seedB) public view {
        IOptionsPortfolioMarginEngine.OptionPosition[] memory options = new IOptionsPortfolioMarginEngine.OptionPosition[](2);
        options[0] = _randomOption(seedA);
        options[1] = _randomOption(seedB);
        (uint256 im, uint256 mm) = engine.marginFor(options, new IOptionsPortfolioMarginEngine.LinearPosition[](0));
        assertLe(mm, im, "MM <= IM");
        assertEq(mm, im == 0 ? 0 : (im * MM_FACTOR - 1) / 1e18 + 1, "MM = ceil(factor * IM)");
    }

    /// A short option's margin covers at least its mark and grows with its size.
    function testFuzz_margin_shortScalesWithSize(uint256 seed) public view {
        IOptionsPortfolioMarginEngine.OptionPosition memory a = _randomOption(seed);
        if (a.size > 0) a.size = -a.size;
        uint256 one = _im1(a);
        a.size *= 2;
        uint256 two = _im1(a);
        assertLe(one, two, "more short, more margin");
        assertLe(two, 2 * one + 2, "the margin of twice the short is twice the margin");
        assertLe(2 * one, two + 2, "(positively homogeneous)");
    }

    /// Reducing a short is allowed while the surface is paused, for any book and any reduction.
    function testFuzz_reduceShort_whilePaused(uint256 seed, uint256 keep) public {
        IOptionsPortfolioMarginEngine.OptionPosition memory a = _randomOption(seed);
        if (a.size > 0) a.size = -a.size;
        _fund(ALICE, 10_000_000e6);
        _setOption(ALICE, a.underlying, a.expiry, a.strike, a.isCall, a.size);
        surface.pauseAll(true);
        int256 newSize = -int256(bound(keep, 0, uint256(-a.size)) / 1e12 * 1e12);
        _setOption(ALICE, a.underlying, a.expiry, a.strike, a.isCall, newSize);
        IOptionsPortfolioMarginEngine.OptionPosition[] memory held = engine.optionsOf(ALICE);
        assertEq(held.length, newSize == 0 ? 0 : 1, "position kept or closed");
        if (newSize != 0) assertEq(held[0].size, newSize, "short reduced");
    }
}
