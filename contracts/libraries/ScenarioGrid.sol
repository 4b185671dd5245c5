// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {Black76} from "./Black76.sol";
import {Black76NormalCdf} from "./Black76NormalCdf.sol";

/// @title ScenarioGrid
/// @notice The portfolio-margin scenario grid of one underlying and the revaluation of a book on it.
/// @dev 9 price moves p = 0..8: x_p = {-3, -2, -1, -1/2, 0, 1/2, 1, 2, 3} * priceMove (down moves
///      stop at MAX_DOWN_MOVE). 15 scenarios s:
///        s = 0..8    move p = s at unchanged vol (s = 4 is the base, V_0);
///        s = 9..11   moves p = 2, 4, 6 (-1, 0, +1 priceMove) at vol up;
///        s = 12..14  moves p = 2, 4, 6 at vol down.
///      Loss weights: 1/3 for s = 0, 8 (3 * priceMove), 1/2 for s = 1, 7 (2 * priceMove), 1 otherwise.
///      Accumulators hold sum(size * value) in 1e36 (WAD size times WAD USD).
///      Vol multipliers, per expiry, Deribit's term scaling with T = max(expiry - now, 1 day):
///        up = 1 + volUp (30d / T)^0.3,   down = max(1 - volDown (30d / T)^0.13, 0.1).
///      oracle_node/options/portfolio_margin.py is the float64 reference of all of this.
library ScenarioGrid {
    int256 internal constant WAD = 1e18;
    uint256 internal constant SCENARIOS = 15;
    uint256 internal constant MOVES = 9;
    uint256 internal constant BASE = 4;
    /// @notice Largest down move of the grid (-95 %): 1 + x stays positive for any priceMove.
    int256 internal constant MAX_DOWN_MOVE = 0.95e18;
    /// @notice Smallest vol multiplier of the down shock.
    int256 internal constant MIN_DOWN_MULT = 0.1e18;
    /// @notice Shortest time to expiry the term scaling uses.
    uint256 internal constant MIN_TERM = 1 days;
    uint256 internal constant REFERENCE_TERM = 30 days;
    int256 internal constant UP_POWER = 0.3e18;
    int256 internal constant DOWN_POWER = 0.13e18;

    /// @notice Per-underlying constants: the N(x) table, the price moves, 1 + x and ln(1 + x) (WAD),
    ///         and `q`, the kernel's parameter words (see Black76NormalCdf.addOption), reused by every option.
    struct Moves {
        uint256 cdfTable;
        int256[8] q;
        int256[9] move;
        int256[9] lnMult;
        int256[9] mult;
    }

    /// @notice Per-expiry constants: the smile, the pairs (ln(1 + x_p), F (1 + x_p)) of the price moves
    ///         p = 0..8, 2, 4, 6 (Black76NormalCdf.addOption's `pairs`), the variance rescale and the
    ///         term-scaled vol multipliers.
    struct Expiry {
        int256 a;
        int256 b;
        int256 rho;
        int256 m;
        int256 sigma;
        int256 forward;
        int256[24] pairs;
        int256 varRatio;
        int256 upMult;
        int256 downMult;
    }

    /// @notice The moves for a published priceMove (WAD, < 1e18, checked by the caller); `cdfTable`
    ///         is the N(x) table in memory (Black76NormalCdf.tableAt or table), copied once per margin check.
    function moves(uint256 priceMove, uint256 cdfTable) internal pure returns (Moves memory mv) {
        mv.cdfTable = cdfTable;
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 half = int256(priceMove) / 2;
        int256[9] memory move = mv.move;
        int256[9] memory mult = mv.mult;
        int256[9] memory lnMult = mv.lnMult;
        unchecked {
            // priceMove < 1e18 (checked by the caller): every product is tiny.
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 pm = int256(priceMove);
            (move[0], move[1], move[2], move[3]) = (-3 * pm, -2 * pm, -pm, -half);
            (move[5], move[6], move[7], move[8]) = (half, pm, 2 * pm, 3 * pm);
            for (uint256 p; p < MOVES; ++p) {
                int256 x = move[p];
                if (x < -MAX_DOWN_MOVE) (x, move[p]) = (-MAX_DOWN_MOVE, -MAX_DOWN_MOVE);
                mult[p] = WAD + x;
                if (x != 0) lnMult[p] = FixedPointMathLib.lnWad(WAD + x);
            }
        }
    }

    /// @notice Term-scaled vol multipliers and the variance rescale of one live expiry.
    /// @param timeLeft expiry - now (> 0); @param fitTerm expiry - observedAt of the smile (>= timeLeft).
    function term(Expiry memory e, Moves memory mv, uint256 timeLeft, uint256 fitTerm, uint256 volUp, uint256 volDown)
        internal
        pure
    {
        // forge-lint: disable-next-line(unsafe-typecast)
        e.varRatio = int256(timeLeft * 1e18 / fitTerm);
        uint256 t = timeLeft < MIN_TERM ? MIN_TERM : timeLeft;
        // Unchecked below: t >= 1 day, volUp/volDown are oracle-bounded fractions (< 2^64), the term
        // factors below 31, forward <= 1e30 and mult <= 4e18.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 lnR = FixedPointMathLib.lnWad(int256(REFERENCE_TERM * 1e18 / t));
            // forge-lint: disable-next-line(unsafe-typecast)
            e.upMult = WAD + int256(volUp) * FixedPointMathLib.expWad(lnR * UP_POWER / WAD) / WAD;
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 down = WAD - int256(volDown) * FixedPointMathLib.expWad(lnR * DOWN_POWER / WAD) / WAD;
            e.downMult = down < MIN_DOWN_MULT ? MIN_DOWN_MULT : down;
        }
        _pairs(e.pairs, mv.lnMult, mv.mult, e.forward);
    }

    /// @dev For i = 0..11, pairs[2i], pairs[2i + 1] = ln(1 + x_p), forward (1 + x_p) with p = i for
    ///      i < 9 and p = 2, 4, 6 for i = 9, 10, 11 (the moves of the vol rows). Unrolled: constant
    ///      indices need no bounds checks (a loop cost four times the gas, measured).
    function _pairs(int256[24] memory pairs, int256[9] memory lnMult, int256[9] memory mult, int256 forward)
        private
        pure
    {
        unchecked {
            // forward <= 1e30 and mult <= 4e18: the products fit.
            (pairs[0], pairs[1]) = (lnMult[0], forward * mult[0] / WAD);
            (pairs[2], pairs[3]) = (lnMult[1], forward * mult[1] / WAD);
            (pairs[4], pairs[5]) = (lnMult[2], forward * mult[2] / WAD);
            (pairs[6], pairs[7]) = (lnMult[3], forward * mult[3] / WAD);
            (pairs[8], pairs[9]) = (lnMult[4], forward * mult[4] / WAD);
            (pairs[10], pairs[11]) = (lnMult[5], forward * mult[5] / WAD);
            (pairs[12], pairs[13]) = (lnMult[6], forward * mult[6] / WAD);
            (pairs[14], pairs[15]) = (lnMult[7], forward * mult[7] / WAD);
            (pairs[16], pairs[17]) = (lnMult[8], forward * mult[8] / WAD);
            (pairs[18], pairs[19], pairs[20]) = (pairs[4], pairs[5], pairs[8]);
            (pairs[21], pairs[22], pairs[23]) = (pairs[9], pairs[12], pairs[13]);
        }
    }

    /// @notice Add size * value of one live option under every scenario to `acc`.
    function addOption(
        int256[15] memory acc,
        Moves memory mv,
        Expiry memory e,
        int256 strike,
        bool isCall,
        int256 size
    ) internal pure {
        // k = ln(K / F); strike and forward are positive and below 2^96 * 1e18 by the engine's checks.
        int256 k = FixedPointMathLib.lnWad(strike * WAD / e.forward);
        int256 s = Black76.totalStd(Black76.sviTotalVariance(e.a, e.b, e.rho, e.m, e.sigma, k), e.varRatio);
        // |size| < 2^96, |value| < 2^160: each product and the sums over <= 2^16 options fit int256.
        int256[8] memory q = mv.q;
        unchecked {
            // s < 2^128 and the multipliers below 2^70: no overflow.
            (q[0], q[1], q[2], q[3]) = (k, s, _floorStd(s * e.upMult / WAD), _floorStd(s * e.downMult / WAD));
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        (q[4], q[5], q[6], q[7]) = (strike, isCall ? int256(0) : int256(1), size, int256(mv.cdfTable));
        Black76NormalCdf.addOption(acc, e.pairs, q);
    }

    function _floorStd(int256 s) private pure returns (int256) {
        return s < Black76.MIN_TOTAL_STD ? Black76.MIN_TOTAL_STD : s;
    }

    /// @notice Add a constant value (e.g. an expired option's settled intrinsic value times its size,
    ///         scaled 1e36) to every scenario.
    function addConstant(int256[15] memory acc, int256 scaledValue) internal pure {
        unchecked {
            // |scaledValue| < 2^190 and at most 2^16 of them: no overflow.
            for (uint256 s; s < SCENARIOS; ++s) {
                acc[s] += scaledValue;
            }
        }
    }

    /// @notice Add a linear position's P&L size * spot * x under every scenario.
    function addLinear(int256[15] memory acc, Moves memory mv, int256 size, int256 spot) internal pure {
        int256[9] memory move = mv.move;
        unchecked {
            // |size| <= 1e27, spot <= 1e30, |x| <= 3e18: |size * spot * x| <= 3e75 < 2^255.
            int256 sizeSpot = size * spot;
            for (uint256 p; p < MOVES; ++p) {
                acc[p] += sizeSpot * move[p] / WAD;
            }
            // The vol rows' moves 2, 4, 6 (x = 0 at 4 adds nothing), as moveOf maps them.
            (int256 down, int256 up) = (sizeSpot * move[2] / WAD, sizeSpot * move[6] / WAD);
            (acc[9], acc[11], acc[12], acc[14]) = (acc[9] + down, acc[11] + up, acc[12] + down, acc[14] + up);
        }
    }

    /// @notice The price-move index of scenario s.
    function moveOf(uint256 s) internal pure returns (uint256) {
        unchecked {
            if (s < 9) return s;
            return s < 12 ? 2 * s - 16 : 2 * s - 22;
        }
    }

    /// @notice requirement = max(0, max_s(w_s (V_0 - V_s)) - V_0) in WAD USD, rounded up.
    /// @dev Unrolled (the base s = 4 has no loss): constant indices need no bounds checks.
    function requirement(int256[15] memory acc) internal pure returns (uint256) {
        int256 v0 = acc[BASE];
        int256 worst = 0;
        int256 loss;
        unchecked {
            // |acc| < 2^250 (see addOption): v0 - acc[s] does not overflow.
            loss = (v0 - acc[0]) / 3;
            if (loss > worst) worst = loss;
            loss = (v0 - acc[1]) / 2;
            if (loss > worst) worst = loss;
            loss = v0 - acc[2];
            if (loss > worst) worst = loss;
            loss = v0 - acc[3];
            if (loss > worst) worst = loss;
            loss = v0 - acc[5];
            if (loss > worst) worst = loss;
            loss = v0 - acc[6];
            if (loss > worst) worst = loss;
            loss = (v0 - acc[7]) / 2;
            if (loss > worst) worst = loss;
            loss = (v0 - acc[8]) / 3;
            if (loss > worst) worst = loss;
            loss = v0 - acc[9];
            if (loss > worst) worst = loss;
            loss = v0 - acc[10];
            if (loss > worst) worst = loss;
            loss = v0 - acc[11];
            if (loss > worst) worst = loss;
            loss = v0 - acc[12];
            if (loss > worst) worst = loss;
            loss = v0 - acc[13];
            if (loss > worst) worst = loss;
            loss = v0 - acc[14];
            if (loss > worst) worst = loss;
        }
        int256 r = worst - v0;
        if (r <= 0) return 0;
        // forge-lint: disable-next-line(unsafe-typecast)
        return (uint256(r) - 1) / 1e18 + 1;
    }
}
