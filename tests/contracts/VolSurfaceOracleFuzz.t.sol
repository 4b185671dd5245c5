// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";

import {IVolSurfaceOracle} from "../../contracts/interfaces/IVolSurfaceOracle.sol";
import {SurfaceSmile} from "../../contracts/libraries/SurfaceSmile.sol";
import {VolSurfaceOracleFixture} from "./VolSurfaceOracleFixture.t.sol";

/// @notice Properties: the smile word round-trips every in-range field, and sigma(K, T) read from a
///         published smile is sane (sigma^2 t is the SVI total variance within rounding, never below the
///         minimum variance, convex in log-strike, monotone on the side the skew says, flat when b = 0).
contract VolSurfaceOracleFuzzTest is VolSurfaceOracleFixture {
    uint256 internal constant TAU_MIN = 1 hours;

    function testFuzz_smileWord_roundTripsEveryField(
        int256 a,
        uint256 b,
        int256 rho,
        int256 m,
        uint256 sigma,
        uint256 fwd,
        uint256 tau
    ) public pure {
        a = _boundInt(a, -(int256(1) << 33), (int256(1) << 33) - 1);
        b = bound(b, 0, (1 << 32) - 1);
        rho = _boundInt(rho, -(int256(1) << 30), (int256(1) << 30) - 1);
        m = _boundInt(m, -(int256(1) << 32), (int256(1) << 32) - 1);
        sigma = bound(sigma, 0, (1 << 33) - 1);
        fwd = bound(fwd, 0, (1 << 48) - 1);
        tau = bound(tau, 0, (1 << 27) - 1);
        uint256 w = SurfaceSmile.encode(SurfaceSmile.Params(a, b, rho, m, sigma, fwd, tau));
        SurfaceSmile.Params memory p = SurfaceSmile.decode(w);
        assertTrue(p.a == a && p.rho == rho && p.m == m, "signed fields");
        assertEq(p.b, b, "b");
        assertEq(p.sigma, sigma, "sigma");
        assertEq(p.forward, fwd, "forward");
        assertEq(p.tau, tau, "tau");
        assertEq(w >> 238, 0, "no field reaches the ATM field or the pause bits");
    }

    /// @dev A random smile that passes the contract's checks, published on ETH (wide bounds).
    function _publishRandom(uint256 seed) internal returns (uint256 w, uint64 expiry) {
        w = _randomWord(seed);
        vm.assume(SurfaceSmile.check(w) == 0);
        vm.assume(SurfaceSmile.atmVariance(w) <= 42e18); // ATM vol <= 648% (the uint16 bp field)
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UETH, new uint256[](1), 1);
        r.smiles[0] = w;
        _ssubmit(r);
        expiry = uint64(r.observedAt + SurfaceSmile.tau(w));
    }

    function _randomWord(uint256 seed) internal pure returns (uint256) {
        uint256 tau = bound(seed % (2 * 365 days), TAU_MIN, 2 * 365 days);
        uint256 bMax = (4e18 * SurfaceSmile.YEAR) / (2e9 * tau); // b (1 + |rho|) <= 4 / t with |rho| < 1
        uint256 b = bound(uint256(keccak256(abi.encode(seed, 1))), 0, bMax < 2e9 ? bMax : 2e9);
        int256 rho = int256(bound(uint256(keccak256(abi.encode(seed, 2))), 0, 1.98e9)) - 0.99e9;
        uint256 sigma = bound(uint256(keccak256(abi.encode(seed, 4))), 1e6, 3e9);
        int256 a = _feasibleLevel(seed, b, rho, sigma, tau);
        int256 m = int256(bound(uint256(keccak256(abi.encode(seed, 3))), 0, 3e9)) - 1.5e9;
        return _word(a, b, rho, m, sigma, 3000e6, tau);
    }

    /// @dev a = -b sigma sqrt(1 - rho^2) + a margin, in nano units (rounded up to stay feasible).
    function _feasibleLevel(uint256 seed, uint256 b, int256 rho, uint256 sigma, uint256 tau)
        internal
        pure
        returns (int256)
    {
        uint256 absRho = uint256(rho < 0 ? -rho : rho);
        uint256 floorNano = (b * sigma * FixedPointMathLib.sqrt(1e18 - absRho * absRho)) / 1e18 + 1;
        uint256 margin = bound(uint256(keccak256(abi.encode(seed, 5))), 0, (2e8 * tau) / SurfaceSmile.YEAR + 1e5);
        return int256(margin) - int256(floorNano);
    }

    function _vol(uint64 expiry, int256 k) internal view returns (uint256) {
        uint256 strike = (3000e18 * uint256(FixedPointMathLib.expWad(k))) / 1e18;
        return surf.impliedVol(UETH, expiry, strike);
    }

    function testFuzz_impliedVol_isTheSviVarianceAndAboveItsMinimum(uint256 seed, int256 k) public {
        (uint256 w, uint64 expiry) = _publishRandom(seed);
        k = _boundInt(k, -2e18, 2e18);
        uint256 strike = (3000e18 * uint256(FixedPointMathLib.expWad(k))) / 1e18;
        uint256 vol = surf.impliedVol(UETH, expiry, strike);
        int256 tv = SurfaceSmile.totalVariance(w, FixedPointMathLib.lnWad(int256((strike * 1e18) / 3000e18)));
        uint256 tau = SurfaceSmile.tau(w);
        // vol = floor(sqrt(tv * YEAR * 1e18 / tau)): back to total variance within one ulp of the sqrt.
        uint256 back = (vol * vol * tau) / (SurfaceSmile.YEAR * 1e18);
        uint256 backUp = ((vol + 1) * (vol + 1) * tau) / (SurfaceSmile.YEAR * 1e18) + 1;
        uint256 want = tv > 0 ? uint256(tv) : 0;
        assertLe(back, want, "vol^2 t above w");
        assertLe(want, backUp, "vol^2 t below w");
        // Never below the minimum total variance a + b sigma sqrt(1 - rho^2) (in WAD, 1e-9 slack per unit).
        int256 rho = SurfaceSmile.rho(w);
        uint256 absRho = uint256(rho < 0 ? -rho : rho);
        int256 minVar = SurfaceSmile.a(w) * 1e9
            + int256((SurfaceSmile.b(w) * SurfaceSmile.sigma(w) * FixedPointMathLib.sqrt(1e18 - absRho * absRho)) / 1e9);
        assertTrue(int256(want) + 1e9 >= minVar, "below the minimum variance");
    }

    function testFuzz_impliedVol_totalVarianceConvexInLogStrike(uint256 seed, int256 k, uint256 h) public {
        (uint256 w,) = _publishRandom(seed);
        k = _boundInt(k, -2e18, 2e18);
        int256 step = int256(bound(h, 1e15, 5e17));
        int256 left = SurfaceSmile.totalVariance(w, k - step);
        int256 mid = SurfaceSmile.totalVariance(w, k);
        int256 right = SurfaceSmile.totalVariance(w, k + step);
        // Raw SVI with b >= 0 is convex in k; rounding is a few wei per evaluation.
        assertTrue(2 * mid <= left + right + 8, "not convex");
    }

    function testFuzz_impliedVol_monotoneOnTheSkewSide(uint256 seed, int256 k1, int256 k2) public {
        (uint256 w, uint64 expiry) = _publishRandom(seed);
        int256 m = SurfaceSmile.m(w) * 1e9;
        int256 rho = SurfaceSmile.rho(w);
        // w'(k) = b (rho + (k - m) / r): <= 0 for k <= m when rho <= 0, >= 0 for k >= m when rho >= 0.
        if (rho <= 0) {
            k1 = _boundInt(k1, -2e18, m);
            k2 = _boundInt(k2, k1, m);
            assertLe(_vol(expiry, k2), _vol(expiry, k1) + 2, "falls toward m");
        } else {
            k1 = _boundInt(k1, m, 2e18);
            k2 = _boundInt(k2, k1, 2e18);
            assertLe(_vol(expiry, k1), _vol(expiry, k2) + 2, "rises beyond m");
        }
    }

    function testFuzz_impliedVol_flatWhenBIsZero(uint256 level, uint256 tau, int256 k) public {
        tau = bound(tau, TAU_MIN, 2 * 365 days);
        uint256 volBp = bound(level, 1000, 20000); // a = vol^2 t < 8.59 (int34 nano) up to 2 years
        // a = vol^2 t in nano units.
        int256 a = int256((volBp * volBp * 1e10 * tau) / SurfaceSmile.YEAR / 1e9);
        vm.assume(a > 0);
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UETH, new uint256[](1), 1);
        r.smiles[0] = _word(a, 0, 0, 0, 1e8, 3000e6, tau);
        _ssubmit(r);
        uint64 expiry = uint64(r.observedAt + tau);
        k = _boundInt(k, -3e18, 3e18);
        uint256 expected = FixedPointMathLib.sqrt((uint256(a) * 1e9 * SurfaceSmile.YEAR * 1e18) / tau);
        assertEq(_vol(expiry, k), expected, "flat smile");
    }

    function _boundInt(int256 x, int256 lo, int256 hi) internal pure returns (int256) {
        uint256 span = uint256(hi - lo);
        return lo + int256(uint256(x) % (span + 1));
    }
}
