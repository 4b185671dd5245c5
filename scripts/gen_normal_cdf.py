"""Generate contracts/libraries/Black76NormalCdf.sol: the standard normal CDF as a piecewise polynomial.

`python -m scripts.gen_normal_cdf` refits the table, writes the Solidity library and prints the maximum
absolute error of the on-chain arithmetic, emulated exactly here with Python integers (the same
truncating signed division as the EVM's `sdiv`), against a double-precision reference,
`0.5 * erfc(-x / sqrt(2))` (absolute error about 1e-16, eight orders of magnitude below the table's).

Layout: N(x) on [-X_MAX, X_MAX) is cut into intervals of width H (the table covers both signs: no
sign fold); on interval i a polynomial of degree DEGREE in u = x + X_MAX - i*H (least squares on
Chebyshev nodes) is evaluated by Horner's rule on integers with ONE truncating division at the end:
the coefficient of u^k is stored scaled by 1e18 * WAD^(DEGREE - k), so
N = (((C3 u + C2) u + C1) u + C0) / WAD^DEGREE exactly (no intermediate rounding); x is clamped to
[-X_MAX, X_MAX) (N(6.5) = 1 - 4e-11). The coefficients are one byte string (TABLE, one 32-byte
big-endian two's complement word per coefficient) that the margin engine deploys once as a data
contract and copies into memory once per margin check (EXTCODECOPY); an evaluation is branch-free:
clamp, interval index by division, DEGREE + 1 loads, DEGREE multiply-adds, one division.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WAD = 10**18
H = 0.1
DEGREE = 3
X_MAX = 6.5
NODES = 200
OUT = Path(__file__).resolve().parents[1] / "contracts" / "libraries" / "Black76NormalCdf.sol"


def exact_cdf(x: float) -> float:
    """Double-precision reference N(x) (erfc keeps the lower tail accurate)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


SCALE = WAD**DEGREE  # the single final divisor


@dataclass(frozen=True)
class Table:
    h_wad: int
    coeffs: tuple[tuple[int, ...], ...]  # per interval, C0..CDEGREE: c_k * 1e18 * WAD^(DEGREE - k)

    @property
    def offset(self) -> int:
        """X_MAX in WAD: x + offset indexes the table from 0."""
        return len(self.coeffs) * self.h_wad // 2

    @property
    def y_cap(self) -> int:
        """x + offset is clamped to [0, y_cap]: just below X_MAX, where N = 1 - 4e-11."""
        return len(self.coeffs) * self.h_wad - 1

    def to_bytes(self) -> bytes:
        """The coefficients row by row, one 32-byte big-endian two's complement word each."""
        return b"".join(c.to_bytes(32, "big", signed=True) for row in self.coeffs for c in row)


def fit_table() -> Table:
    n = round(2 * X_MAX / H)
    t = np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES)
    u = (t + 1.0) / 2.0 * H
    rows = []
    for i in range(n):
        x0 = -X_MAX + i * H
        y = np.array([exact_cdf(x0 + v) for v in u])
        c = np.polynomial.polynomial.polyfit(u, y, DEGREE)
        rows.append(tuple(round(float(v) * 10 ** (18 + 18 * (DEGREE - k))) for k, v in enumerate(c)))
    return Table(round(H * WAD), tuple(rows))


def _sdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def cdf_fixed(x: int, table: Table) -> int:
    """N(x) exactly as the Solidity library computes it, x and the result in WAD."""
    y = min(max(x + table.offset, 0), table.y_cap)
    i = y // table.h_wad
    u = y - i * table.h_wad
    c = table.coeffs[i]
    p = c[DEGREE]
    for k in range(DEGREE - 1, -1, -1):
        p = p * u + c[k]
    return _sdiv(p, SCALE)


def max_error(table: Table, step: float = 1e-4, span: float = 9.0) -> tuple[float, float]:
    """Largest |cdf_fixed - N| over x in [-span, span] on a grid of `step`, and where it occurs."""
    worst, at = 0.0, 0.0
    for j in range(int(-span / step), int(span / step) + 1):
        x = j * step
        err = abs(cdf_fixed(round(x * WAD), table) / WAD - exact_cdf(x))
        if err > worst:
            worst, at = err, x
    return worst, at


def _clamp_index(var: str, table: Table, indent: str, declare: str) -> list[str]:
    """Yul lines setting y := clamp(var + X_MAX) and c := the row's address: a negative sum reads
    above y_cap as unsigned and sgt(y, 0) is 0 there, so one comparison covers both ends."""
    return [
        f"{indent}{declare}y := add({var}, {table.offset})",
        f"{indent}if gt(y, {table.y_cap}) {{ y := mul({table.y_cap}, sgt(y, 0)) }}",
        f"{indent}let c := add(t, {_row_offset(f'div(y, {table.h_wad})')})",
        f"{indent}y := mod(y, {table.h_wad})",
    ]


def _horner() -> str:
    p = f"mload(add(c, {32 * DEGREE}))"
    for k in range(DEGREE - 1, 0, -1):
        p = f"add(mul({p}, y), mload(add(c, {32 * k})))"
    return f"sdiv(add(mul({p}, y), mload(c)), {SCALE})"


def _yul_cdf(table: Table, indent: str) -> str:
    """The Yul function `ncdf(x, t) -> p` (WAD in and out, t the table), pasted where it is needed."""
    lines = ["function ncdf(x, t) -> p {"]
    lines += _clamp_index("x", table, "    ", "let ")
    lines += [f"    p := {_horner()}", "}"]
    return "\n".join(indent + line for line in lines)


def _yul_cdf_inline(table: Table, indent: str, var: str) -> str:
    """The same N(x) as a Yul block replacing the variable `var` by N(var) (t is the table pointer);
    inlined in the kernel, where two function calls per scenario cost more than the block."""
    lines = ["{"]
    lines += _clamp_index(var, table, "    ", "let ")
    lines += [f"    {var} := {_horner()}", "}"]
    return "\n".join(indent + line for line in lines)


def _row_offset(index: str) -> str:
    """Byte offset of a table row: a shift when the row size is a power of two."""
    row = 32 * (DEGREE + 1)
    return f"shl({row.bit_length() - 1}, {index})" if row & (row - 1) == 0 else f"mul({index}, {row})"


def solidity(table: Table, error: float) -> str:
    data = table.to_bytes()
    return TEMPLATE.format(
        x_max=X_MAX,
        h=H,
        degree=DEGREE,
        loads=DEGREE + 1,
        intervals=len(table.coeffs),
        words=len(table.coeffs) * (DEGREE + 1),
        size=len(data),
        runtime=len(data) + 1,
        runtime_hex=f"{len(data) + 1:04x}",
        scale=f"1e{18 * DEGREE}",
        error=f"{error:.2e}",
        bound=math.ceil(error * 1e18 * 1.01),
        ncdf=_yul_cdf(table, " " * 12),
        n1=_yul_cdf_inline(table, " " * 20, "n1"),
        n2=_yul_cdf_inline(table, " " * 20, "n2"),
        hex=data.hex(),
    )


TEMPLATE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

// Generated by `python -m scripts.gen_normal_cdf`; do not edit by hand.

/// @title Black76NormalCdf
/// @notice The standard normal CDF N(x) in 18-decimal fixed point and the Black-76 revaluation kernel
///         of the portfolio margin engine built on it.
/// @dev N(x): piecewise polynomial on [-{x_max}, {x_max}) in {intervals} intervals of width {h}, degree {degree}
///      in u = x + {x_max} - i*{h} (least squares on Chebyshev nodes); x is clamped to that range
///      (N(-6.5) = 4e-11, N(6.5) = 1 - 4e-11). The table covers both signs, so there is no sign fold.
///      Horner's rule on integers with one truncating division at the end: the coefficient of u^k
///      is stored times 1e18 * 1e18^({degree} - k), so N = (((C3 u + C2) u + C1) u + C0) / {scale}
///      (every intermediate below 2^240: no overflow and no intermediate rounding).
///      TABLE holds the {words} coefficients ({size} bytes, one 32-byte word each, row by row). The
///      margin engine deploys it once as a data contract (`deployTable`) and copies it into memory
///      once per margin check (`tableAt`, EXTCODECOPY: about 2,600 + 3 per word + memory);
///      `table()` copies it from the calling contract's own code (for single calls and tests).
///      An evaluation is branch-free (clamp, index by division, {loads} loads, {degree} multiply-adds,
///      one division), about 120 gas.
///      Maximum absolute error {error} (measured by the generator on a 1e-4 grid over [-9, 9] against
///      0.5 erfc(-x / sqrt 2), with this exact integer arithmetic emulated).
///      Assembly: the margin check evaluates N 30 times per option; the Solidity version of the same
///      arithmetic spent more than twice the gas (tests/contracts/OptionsPortfolioGas.t.sol measures).
///      Inputs are bounded by the callers (|x| < 2^200, values below 2^188), so nothing overflows.
library Black76NormalCdf {{
    /// @notice Largest |N_onchain(x) - N(x)| over all x, in WAD (rounded up from the measured error).
    uint256 internal constant MAX_ABS_ERROR_WAD = {bound};

    /// @notice Byte length of TABLE.
    uint256 internal constant TABLE_BYTES = {size};

    /// @notice The coefficients C0..C{degree} of each interval, 32-byte big-endian two's complement words.
    bytes internal constant TABLE =
        hex"{hex}";

    /// @notice The data contract could not be created.
    error Black76NormalCdfTableNotDeployed();

    /// @notice Deploy TABLE as a data contract: runtime code 0x00 (STOP: a call does nothing) then TABLE.
    function deployTable() internal returns (address data) {{
        // Init code: PUSH2 len, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN.
        bytes memory init = abi.encodePacked(hex"61{runtime_hex}80600a3d393df300", TABLE);
        assembly ("memory-safe") {{
            data := create(0, add(init, 0x20), mload(init))
        }}
        if (data == address(0)) revert Black76NormalCdfTableNotDeployed();
    }}

    /// @notice Copy the table from a `deployTable()` contract into fresh memory; returns its address.
    function tableAt(address data) internal view returns (uint256 t) {{
        assembly ("memory-safe") {{
            t := mload(0x40)
            mstore(0x40, add(t, {size}))
            extcodecopy(data, t, 1, {size})
        }}
    }}

    /// @notice Copy TABLE from the calling contract's code into fresh memory; returns its address.
    function table() internal pure returns (uint256 t) {{
        bytes memory words = TABLE;
        assembly ("memory-safe") {{
            t := add(words, 0x20)
        }}
    }}

    /// @notice N(x) for x in WAD; the result lies in [0, 1e18]. Builds the table: for single calls.
    function cdf(int256 input) internal pure returns (int256) {{
        return cdfWith(input, table());
    }}

    /// @notice N(x) for x in WAD with a table from `table()` or `tableAt()`.
    function cdfWith(int256 input, uint256 coefficients) internal pure returns (int256 r) {{
        assembly ("memory-safe") {{
{ncdf}
            r := ncdf(input, coefficients)
        }}
    }}

    /// @notice acc[j] += size * value(i_j) for the 15 scenarios j = 0..14 of ScenarioGrid: i_j = j at
    ///         total standard deviation q[1] for j < 9 (unchanged vol), i_j = 9, 10, 11 at q[2] for
    ///         j = 9..11 (vol up) and at q[3] for j = 12..14 (vol down). value(i) is the undiscounted
    ///         Black-76 value (floored at 0) at forward F_i = pairs[2i + 1] and log-moneyness
    ///         ln(F_i / K) = pairs[2i] - k; every standard deviation is > 0.
    /// @param pairs 12 pairs (ln(1 + x), F (1 + x)): the price moves 0..8, then 2, 4, 6 again for the
    ///        vol rows (ScenarioGrid.term builds them).
    /// @param q [k, s, sUp, sDown, strike, isPut (1 or 0), size, table], in memory: the stack is too
    ///        shallow for them.
    function addOption(int256[15] memory acc, int256[24] memory pairs, int256[8] memory q) internal pure {{
        assembly ("memory-safe") {{
            let t := mload(add(q, 0xe0))
            let k := mload(q)
            let strike := mload(add(q, 0x80))
            let isPut := mload(add(q, 0xa0))
            let size := mload(add(q, 0xc0))
            let out := acc
            // Rows: moves 0..8 at q[1], then moves 2, 4, 6 at q[2] and at q[3].
            for {{ let row := 1 }} lt(row, 4) {{ row := add(row, 1) }} {{
                let s := mload(add(q, shl(5, row)))
                let half := sdiv(s, 2)
                let end := add(out, shl(5, add(3, mul(6, eq(row, 1)))))
                for {{ let ptr := add(pairs, mul(576, gt(row, 1))) }} lt(out, end) {{
                    out := add(out, 0x20)
                    ptr := add(ptr, 0x40)
                }} {{
                    let n1 := add(sdiv(mul(sub(mload(ptr), k), 1000000000000000000), s), half)
                    let n2 := sub(n1, s)
{n1}
{n2}
                    let f := mload(add(ptr, 0x20))
                    let v := sdiv(sub(mul(f, n1), mul(strike, n2)), 1000000000000000000)
                    // A put by parity (isPut = 1), then floored at zero.
                    v := add(v, mul(isPut, sub(strike, f)))
                    v := mul(v, sgt(v, 0))
                    mstore(out, add(mload(out), mul(size, v)))
                }}
            }}
        }}
    }}
}}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fit the piecewise-polynomial normal CDF and emit Solidity.")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    table = fit_table()
    error, at = max_error(table)
    args.out.write_text(solidity(table, error), encoding="utf-8")
    print(f"max |N_fixed - N| = {error:.3e} at x = {at:+.4f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
