"""The VolSurfaceOracle's fixed-point maths in Python, bit for bit (contracts/libraries/SurfaceSmile.sol).

Integers throughout: SVI parameters in 1e-9 units ("nano"), the forward in 1e-6 units, the ATM vol in
bp, everything else WAD (1e18). Solidity's signed division truncates toward zero (`_sdiv`), square roots are floors
(`math.isqrt`, as solady's `sqrt`), and `ln_wad` is solady 0.1.26's `lnWad` transcribed with EVM
word semantics (256-bit wrapping `mul`, arithmetic `sar`, truncating `sdiv`). The differential tests
hold the contract to exact equality with this module.
"""

from __future__ import annotations

import math

YEAR = 365 * 86400
NANO = 10**9
WAD = 10**18
FORWARD_UNIT = 10**12  # WAD per stored forward unit (1e-6)
SPOT_UNIT = 10**10  # WAD per stored spot unit (1e-8)
_U256 = 1 << 256
_S_MAX = (1 << 255) - 1


def _s(x: int) -> int:
    """A 256-bit word as a signed integer."""
    x %= _U256
    return x - _U256 if x >> 255 else x


def _mul(a: int, b: int) -> int:
    return (a * b) % _U256


def _sar(n: int, x: int) -> int:
    return (_s(x) >> n) % _U256


def _sdiv(a: int, b: int) -> int:
    """Signed division truncating toward zero (EVM SDIV, Solidity `/` on int256)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _byte(n: int, x: int) -> int:
    return (x >> (8 * (31 - n))) & 0xFF


def ln_wad(x: int) -> int:
    """solady FixedPointMathLib.lnWad: ln(x / 1e18) * 1e18 for 0 < x < 2**255 (ValueError otherwise)."""
    if not 0 < x <= _S_MAX:
        raise ValueError(f"lnWad is undefined for {x}")
    r = (x > 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF) << 7
    r |= ((x >> r) > 0xFFFFFFFFFFFFFFFF) << 6
    r |= ((x >> r) > 0xFFFFFFFF) << 5
    r |= ((x >> r) > 0xFFFF) << 4
    r |= ((x >> r) > 0xFF) << 3
    r ^= _byte(
        (0x8421084210842108CC6318C6DB6D54BE >> (x >> r)) & 0x1F,
        0xF8F9F9FAF9FDFAFBF9FDFCFDFAFBFCFEF9FAFDFAFCFCFBFEFAFAFCFBFFFFFFFF,
    )
    x = ((x << r) % _U256) >> 159
    p = _sar(96, _mul(3273285459638523848632254066296 + x, x))
    p = _sar(96, _mul(24828157081833163892658089445524 + p, x))
    p = (_sar(96, _mul(43456485725739037958740375743393 + p, x)) - 11111509109440967052023855526967) % _U256
    p = (_sar(96, _mul(p, x)) - 45023709667254063763336534515857) % _U256
    p = (_sar(96, _mul(p, x)) - 14706773417378608786704636184526) % _U256
    p = (_mul(p, x) - (795164235651350426258249787498 << 96)) % _U256
    q = (5573035233440673466300451813936 + x) % _U256
    for c in (
        71694874799317883764090561454958,
        283447036172924575727196451306956,
        401686690394027663651624208769553,
        204048457590392012362485061816622,
        31853899698501571402653359427138,
        909429971244387300277376558375,
    ):
        q = (c + _sar(96, _mul(x, q))) % _U256
    p = _sdiv(_s(p), _s(q)) % _U256
    p = _mul(1677202110996718588342820967067443963516166, p)
    p = (_mul(16597577552685614221487285958193947469193820559219878177908093499208371, 159 - r) + p) % _U256
    p = (600920179829731861736702779321621459595472258049074101567377883020018308 + p) % _U256
    return _s(p) >> 174


def total_variance(a: int, b: int, rho: int, m: int, sigma: int, k: int) -> int:
    """w(k) in WAD from nano parameters at log-moneyness k (WAD), as SurfaceSmile.totalVariance."""
    x = k - m * NANO
    s = sigma * NANO
    r = math.isqrt(x * x + s * s)
    inner = _sdiv(rho * x, NANO) + r
    return a * NANO + _sdiv(b * inner, NANO)


def implied_vol(a: int, b: int, rho: int, m: int, sigma: int, forward: int, tau: int, strike: int) -> int:
    """sigma(K, T) in WAD at `strike` (WAD), as SurfaceSmile.impliedVol (0 where w rounds to <= 0)."""
    ratio = strike * WAD // (forward * FORWARD_UNIT)
    if ratio == 0 or ratio > _S_MAX:
        raise ValueError(f"strike {strike} is outside the domain (K/F rounds to {ratio})")
    tv = total_variance(a, b, rho, m, sigma, ln_wad(ratio))
    if tv <= 0:
        return 0
    return math.isqrt(tv * YEAR * WAD // tau)


def atm_variance(a: int, b: int, rho: int, m: int, sigma: int, tau: int) -> int:
    """ATM implied variance per year in WAD, as SurfaceSmile.atmVariance."""
    tv = total_variance(a, b, rho, m, sigma, 0)
    return 0 if tv <= 0 else tv * YEAR // tau


def atm_consistent(a: int, b: int, rho: int, m: int, sigma: int, tau: int, bp: int) -> bool:
    """SurfaceSmile.atmConsistent: bp^2 1e19 tau <= (P + b R) Y < (bp + 1)^2 1e19 tau with
    P = a 1e18 + b trunc(rho x / 1e9), R = sqrt(x^2 + sigma^2) exact, x = -m (WAD), Y = 365 days."""
    x = -m * NANO
    s = sigma * NANO
    bbs = (b * YEAR) ** 2 * (x * x + s * s)
    p_y = (a * 10**18 + b * _sdiv(rho * x, NANO)) * YEAR
    upper = (bp + 1) ** 2 * 10**19 * tau - p_y
    if upper <= 0 or bbs >= upper * upper:
        return False
    if bp == 0:
        return True
    lower = bp * bp * 10**19 * tau - p_y
    return lower <= 0 or lower * lower <= bbs


def atm_vol_bp(a: int, b: int, rho: int, m: int, sigma: int, tau: int) -> int:
    """The smile word's atmVol field: the bp that atm_consistent accepts (floor(1e4 sqrt(w(0)/t)))."""
    guess = math.isqrt(atm_variance(a, b, rho, m, sigma, tau) // 10**10)
    for bp in range(max(guess - 2, 0), guess + 3):
        if atm_consistent(a, b, rho, m, sigma, tau, bp):
            return bp
    raise ValueError(f"no ATM vol in bp fits the smile (estimate {guess})")


def check(a: int, b: int, rho: int, sigma: int, forward: int, tau: int) -> int:
    """0 if the smile passes the contract's cheap checks, else its reason code (SurfaceSmile.check)."""
    if tau == 0:
        return 6
    if forward == 0:
        return 5
    if sigma == 0:
        return 2
    if abs(rho) >= NANO:
        return 1
    if a < 0 and a * a * 10**36 > b * b * sigma * sigma * (10**18 - rho * rho):
        return 3
    if b * (NANO + abs(rho)) * tau > 4 * WAD * YEAR:
        return 4
    return 0
