// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";

import {IVolSurfaceOracle} from "../interfaces/IVolSurfaceOracle.sol";

/// @title SurfaceSmile
/// @notice The smile word (one raw-SVI slice, its forward and time to expiry in one slot; layout in
///         IVolSurfaceOracle.SurfaceReport) and the maths on it: sigma(K, T), ATM variance, the cheap
///         no-arbitrage sanity checks.
/// @dev Fixed point: SVI parameters are stored in 1e-9 units ("nano"), the forward in 1e-6 quote
///      units, the ATM vol in bp; the maths runs in WAD (1e18). With nano parameters every product below is exact in
///      integers except the documented truncations, which oracle_node/options/onchain_math.py mirrors
///      bit for bit (solady's lnWad ported, floor square roots, divisions truncating toward zero).
///      Quantisation (half a unit per parameter) moves w by at most ~6e-9 for |k - m| <= 3, i.e.
///      sigma by < 1e-5 vol for t >= 1 day and sigma >= 0.3.
library SurfaceSmile {
    uint256 internal constant YEAR = 365 days;
    uint256 internal constant NANO = 1e9;
    uint256 internal constant FORWARD_UNIT = 1e12; // WAD per stored forward unit (1e-6)
    uint256 internal constant UNDERLYING_PAUSED = 1 << 254;
    uint256 internal constant ORACLE_PAUSED = 1 << 255;
    uint256 internal constant ANY_PAUSE = UNDERLYING_PAUSED | ORACLE_PAUSED;

    uint256 private constant B_SHIFT = 34;
    uint256 private constant RHO_SHIFT = 66;
    uint256 private constant M_SHIFT = 97;
    uint256 private constant SIGMA_SHIFT = 130;
    uint256 private constant FORWARD_SHIFT = 163;
    uint256 private constant TAU_SHIFT = 211;
    uint256 private constant ATM_SHIFT = 238;
    uint256 private constant MASK16 = (1 << 16) - 1;
    uint256 private constant MASK27 = (1 << 27) - 1;
    uint256 private constant MASK32 = (1 << 32) - 1;
    uint256 private constant MASK33 = (1 << 33) - 1;
    uint256 private constant MASK48 = (1 << 48) - 1;

    /// @notice Decoded smile word, parameters in nano units, forward in 1e-6 units (the ATM vol field
    ///         is derived: see atmVol / withAtm).
    struct Params {
        int256 a;
        uint256 b;
        int256 rho;
        int256 m;
        uint256 sigma;
        uint256 forward;
        uint256 tau;
    }

    // ------------------------------------------------------------------------------------------
    // Fields
    // ------------------------------------------------------------------------------------------

    function a(uint256 w) internal pure returns (int256) {
        return int256(w << 222) >> 222;
    }

    function b(uint256 w) internal pure returns (uint256) {
        return (w >> B_SHIFT) & MASK32;
    }

    function rho(uint256 w) internal pure returns (int256) {
        return int256((w >> RHO_SHIFT) << 225) >> 225;
    }

    function m(uint256 w) internal pure returns (int256) {
        return int256((w >> M_SHIFT) << 223) >> 223;
    }

    function sigma(uint256 w) internal pure returns (uint256) {
        return (w >> SIGMA_SHIFT) & MASK33;
    }

    function forward(uint256 w) internal pure returns (uint256) {
        return (w >> FORWARD_SHIFT) & MASK48;
    }

    function tau(uint256 w) internal pure returns (uint256) {
        return (w >> TAU_SHIFT) & MASK27;
    }

    /// @notice The published ATM vol in bp: floor(1e4 sqrt(atmVariance / 1e18)), checked on write.
    function atmVol(uint256 w) internal pure returns (uint256) {
        return (w >> ATM_SHIFT) & MASK16;
    }

    function decode(uint256 w) internal pure returns (Params memory p) {
        p = Params(a(w), b(w), rho(w), m(w), sigma(w), forward(w), tau(w));
    }

    /// @notice The word for `p` (fields must fit; used by tests and governance paths, not reports).
    function encode(Params memory p) internal pure returns (uint256 w) {
        w = (uint256(p.a) & ((1 << 34) - 1)) | (p.b << B_SHIFT) | ((uint256(p.rho) & ((1 << 31) - 1)) << RHO_SHIFT)
            | ((uint256(p.m) & MASK33) << M_SHIFT) | (p.sigma << SIGMA_SHIFT) | (p.forward << FORWARD_SHIFT)
            | (p.tau << TAU_SHIFT);
    }

    /// @notice `w` with its ATM vol field set from its parameters (unchanged if tau is 0 or no 16-bit
    ///         value fits: such a word is refused on submission).
    function withAtm(uint256 w) internal pure returns (uint256) {
        if (tau(w) == 0) return w;
        uint256 guess = FixedPointMathLib.sqrt(atmVariance(w) / 1e10);
        uint256 clear = w & ~(MASK16 << ATM_SHIFT);
        for (uint256 bp = guess > 2 ? guess - 2 : 0; bp <= guess + 2 && bp <= MASK16; ++bp) {
            uint256 candidate = clear | (bp << ATM_SHIFT);
            if (atmConsistent(candidate)) return candidate;
        }
        return w;
    }

    /// @notice Whether the atmVol field bp is the ATM vol in whole bp: with P = a 1e18 + b (rho x / 1e9)
    ///         and R = sqrt(x^2 + sigma^2) (x = -m, all WAD; R exact, not rounded), so that
    ///         w(0) 1e9 = P + b R, it holds that bp^2 1e19 tau <= (P + b R) 365 days < (bp + 1)^2 1e19 tau,
    ///         i.e. bp = floor(1e4 sqrt(w(0) / t)). Tested without a square root: b R Y is compared
    ///         with each bound by squaring both sides (Y = 365 days).
    /// @dev Unchecked bounds: |P Y| < 8.5e35, bound terms < 5.8e36, squares < 4.5e73;
    ///      (b Y)^2 (x^2 + sigma^2) < 1.7e72.
    function atmConsistent(uint256 w) internal pure returns (bool) {
        unchecked {
            int256 x = -(m(w) * int256(NANO));
            uint256 s = sigma(w) * NANO;
            uint256 bY = b(w) * YEAR;
            uint256 bbS = bY * bY * (uint256(x * x) + s * s);
            // The truncated rho x / 1e9 is the one totalVariance uses (mirrored in Python), on purpose.
            // slither-disable-next-line divide-before-multiply
            int256 pY = (a(w) * 1e18 + int256(b(w)) * ((rho(w) * x) / int256(NANO))) * int256(YEAR);
            uint256 t = tau(w);
            uint256 bp = atmVol(w);
            int256 upper = int256((bp + 1) * (bp + 1) * 1e19 * t) - pY;
            if (upper <= 0 || bbS >= uint256(upper) * uint256(upper)) return false;
            if (bp == 0) return true;
            int256 lower = int256(bp * bp * 1e19 * t) - pY;
            return lower <= 0 || uint256(lower) * uint256(lower) <= bbS;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Maths
    // ------------------------------------------------------------------------------------------

    /// @notice Total variance w(k) in WAD at log-moneyness `k` (WAD):
    ///         x = k - m; r = floor(sqrt(x^2 + sigma^2)); w = a + b (rho x / 1e18 + r) / 1e18,
    ///         products of nano parameters rescaled with divisions truncating toward zero.
    /// @dev Unchecked: the fields are bounded by their bit widths and |k| < 136e18 (lnWad's range), so
    ///      |x| < 1.5e20, x^2 + sigma^2 < 2.4e40, |rho x| < 1.6e29, |b (rho x + r)| < 2.6e30.
    function totalVariance(uint256 w, int256 k) internal pure returns (int256 tv) {
        unchecked {
            int256 x = k - m(w) * int256(NANO);
            uint256 s = sigma(w) * NANO;
            uint256 r = FixedPointMathLib.sqrt(uint256(x * x) + s * s);
            int256 inner = (rho(w) * x) / int256(NANO) + int256(r);
            tv = a(w) * int256(NANO) + (int256(b(w)) * inner) / int256(NANO);
        }
    }

    /// @notice sigma(K, T) in WAD for `strike` (WAD): sqrt(w(ln(K / F)) / t), t = tau / 365 days;
    ///         0 where rounding makes w <= 0 (the published minimum variance is >= 0).
    function impliedVol(uint256 w, uint256 strike) internal pure returns (uint256) {
        // Checked: an absurd strike overflows (reverts) rather than wraps.
        uint256 ratio = (strike * 1e18) / (forward(w) * FORWARD_UNIT);
        if (ratio == 0 || ratio > uint256(type(int256).max)) revert IVolSurfaceOracle.VolSurfaceInvalidStrike(strike);
        int256 tv = totalVariance(w, FixedPointMathLib.lnWad(int256(ratio)));
        if (tv <= 0) return 0;
        unchecked {
            // tv < 2.7e31, so tv * 365 days * 1e18 < 8.6e56; tau >= 1 for any listed smile.
            return FixedPointMathLib.sqrt((uint256(tv) * YEAR * 1e18) / tau(w));
        }
    }

    /// @notice floor(sqrt(x)) in WAD for a WAD `x` (a variance to a vol).
    function sqrtWad(uint256 x) internal pure returns (uint256) {
        return FixedPointMathLib.sqrt(x * 1e18);
    }

    /// @notice ATM (K = F) implied variance per year in WAD: w(0) * 365 days / tau (0 if w(0) <= 0),
    ///         i.e. totalVariance(w, 0) * 365 days / tau, written out for the report's hot loop.
    function atmVariance(uint256 w) internal pure returns (uint256 v) {
        unchecked {
            // Bounds as in totalVariance with k = 0.
            int256 x = -((int256((w >> M_SHIFT) << 223) >> 223) * int256(NANO));
            uint256 s = ((w >> SIGMA_SHIFT) & MASK33) * NANO;
            uint256 r = FixedPointMathLib.sqrt(uint256(x * x) + s * s);
            int256 inner = ((int256((w >> RHO_SHIFT) << 225) >> 225) * x) / int256(NANO) + int256(r);
            int256 tv = (int256(w << 222) >> 222) * int256(NANO) + (int256((w >> B_SHIFT) & MASK32) * inner) / int256(NANO);
            if (tv > 0) v = (uint256(tv) * YEAR) / ((w >> TAU_SHIFT) & MASK27);
        }
    }

    /// @notice 0 if the smile passes the cheap checks, else the reason code of
    ///         IVolSurfaceOracle.VolSurfaceInvalidSmile (1 |rho| >= 1, 2 sigma = 0, 3 minimum total
    ///         variance < 0, 4 Lee's wing bound, 5 forward = 0, 6 tau = 0, 7 pause bits set).
    /// @dev Exact integer tests, no square root:
    ///      - a + b sigma sqrt(1 - rho^2) >= 0  <=>  a >= 0 or a^2 1e36 <= b^2 sigma^2 (1e18 - rho^2);
    ///      - b (1 + |rho|) <= 4 / t            <=>  b (1e9 + |rho|) tau <= 4e18 * 365 days.
    function check(uint256 w) internal pure returns (uint8) {
        unchecked {
            if (w & ANY_PAUSE != 0) return 7;
            uint256 t = (w >> TAU_SHIFT) & MASK27;
            if (t == 0) return 6;
            if ((w >> FORWARD_SHIFT) & MASK48 == 0) return 5;
            uint256 s = (w >> SIGMA_SHIFT) & MASK33;
            if (s == 0) return 2;
            int256 r = int256((w >> RHO_SHIFT) << 225) >> 225;
            uint256 absRho = uint256(r < 0 ? -r : r);
            if (absRho >= NANO) return 1;
            uint256 bb = (w >> B_SHIFT) & MASK32;
            int256 aa = int256(w << 222) >> 222;
            // |a| < 2^33: a^2 1e36 < 2^186; b < 2^32, sigma < 2^33 and 1e18 - rho^2 <= 1e18: < 2^189.
            if (aa < 0 && uint256(aa * aa) * 1e36 > bb * bb * s * s * (1e18 - absRho * absRho)) return 3;
            // b < 2^32, 1e9 + |rho| < 2^31, tau < 2^27: < 2^90.
            if (bb * (NANO + absRho) * t > 4e18 * YEAR) return 4;
            return 0;
        }
    }
}
