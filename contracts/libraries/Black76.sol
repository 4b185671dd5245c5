// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {Black76NormalCdf} from "./Black76NormalCdf.sol";

/// @title Black76
/// @notice Black-76 on the forward (undiscounted, as oracle_node/options/black76.py) and raw-SVI
///         total variance, in 18-decimal fixed point (WAD), for on-chain option revaluation.
/// @dev ln, exp and sqrt come from Solady's FixedPointMathLib; N(x) from Black76NormalCdf (maximum
///      absolute error Black76NormalCdf.MAX_ABS_ERROR_WAD, about 1.8e-8).
///      Notation: k = ln(K / F), s = sigma * sqrt(T) the total standard deviation,
///      d1 = ln(F / K) / s + s / 2, d2 = d1 - s, call = F N(d1) - K N(d2), put = call - F + K.
library Black76 {
    int256 internal constant WAD = 1e18;
    /// @notice Smallest total standard deviation used (1e-6): a zero-variance smile point prices
    ///         at (almost exactly) intrinsic value instead of dividing by zero.
    int256 internal constant MIN_TOTAL_STD = 1e12;

    /// @notice Raw SVI total variance w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)), WAD.
    function sviTotalVariance(int256 a, int256 b, int256 rho, int256 m, int256 sigma, int256 k)
        internal
        pure
        returns (int256)
    {
        unchecked {
            // Oracle-bounded inputs (|a|, b, |rho|, |m|, sigma < 2^64 in WAD, |k| < 200e18): no overflow.
            int256 km = k - m;
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 root = int256(FixedPointMathLib.sqrt(uint256(km * km + sigma * sigma)));
            return a + (b * ((rho * km) / WAD + root)) / WAD;
        }
    }

    /// @notice Total standard deviation s = sqrt(w * ratio) floored at MIN_TOTAL_STD, where ratio
    ///         (WAD) rescales the smile's total variance from its fit time to now.
    function totalStd(int256 w, int256 ratio) internal pure returns (int256 s) {
        if (w <= 0) return MIN_TOTAL_STD;
        // w < 2^100 (bounded SVI), ratio <= 1e18: the product fits.
        // forge-lint: disable-next-line(unsafe-typecast)
        s = int256(FixedPointMathLib.sqrt(uint256(w) * uint256(ratio)));
        if (s < MIN_TOTAL_STD) s = MIN_TOTAL_STD;
    }

    /// @notice Undiscounted Black-76 value per unit (WAD USD), floored at 0.
    /// @param lnFK ln(F / K), WAD.
    /// @param s Total standard deviation, WAD, >= MIN_TOTAL_STD.
    /// @param forward F, WAD.
    /// @param strike K, WAD.
    function value(int256 lnFK, int256 s, int256 forward, int256 strike, bool isCall) internal pure returns (int256 v) {
        unchecked {
            // |lnFK| < 200e18 (ln of WAD ratios of numbers below 2^96), s >= 1e12: d1 < 2e26;
            // forward, strike < 2^128 so F N(d1) and K N(d2) stay below 2^188.
            int256 d1 = (lnFK * WAD) / s + s / 2;
            v = (forward * Black76NormalCdf.cdf(d1) - strike * Black76NormalCdf.cdf(d1 - s)) / WAD;
            if (!isCall) v = v + strike - forward;
            if (v < 0) v = 0;
        }
    }

    /// @notice Intrinsic value per unit at `price` (WAD).
    function intrinsic(uint256 price, uint256 strike, bool isCall) internal pure returns (uint256) {
        if (isCall) return price > strike ? price - strike : 0;
        return strike > price ? strike - price : 0;
    }
}
