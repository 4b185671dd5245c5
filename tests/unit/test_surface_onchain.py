"""Surface words, the fixed-point mirror and the SurfaceReport encoder (no chain: see
tests/integration/test_vol_surface_onchain.py for the contract side)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.chain.deploy import SurfaceBoundsConfig, SurfaceOracleConfig
from oracle_node.errors import DataError
from oracle_node.options import onchain
from oracle_node.options import onchain_math as om
from oracle_node.options.surface import Surface, SurfaceSlice
from oracle_node.options.svi import SviParams

ORACLE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
T0 = 1_767_115_875  # 2025-12-30T17:31:15Z


def _int(bits: int, signed: bool) -> st.SearchStrategy[int]:
    return (
        st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else st.integers(0, (1 << bits) - 1)
    )


words = st.builds(
    onchain.SmileWord,
    **{name: _int(bits, signed) for name, (_, bits, signed) in onchain.SMILE_FIELDS.items()},
)


@given(words)
def test_smile_word__any_in_range_fields__round_trip_and_keep_pause_bits_clear(
    word: onchain.SmileWord,
) -> None:
    packed = word.pack_fields()
    assert packed >> onchain.ATM_SHIFT == 0
    assert onchain.SmileWord.unpack(packed) == word
    assert onchain.SmileWord.unpack(packed | (3 << 254)) == word  # the contract's mirrors are ignored


@pytest.mark.parametrize(("field", "value"), [("rho", 1 << 30), ("b", -1), ("tau", 1 << 27), ("a", 1.5)])
def test_smile_word__out_of_range_field__data_error_names_it(field: str, value: object) -> None:
    fields = dict.fromkeys(onchain.SMILE_FIELDS, 1) | {field: value}
    with pytest.raises(DataError, match=field):
        onchain.SmileWord(**fields)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.integers(1, (1 << 255) - 1))
def test_ln_wad__any_positive_word__matches_float_log(x: int) -> None:
    got = om.ln_wad(x) / 1e18
    want = math.log(x) - math.log(1e18)
    assert got == pytest.approx(want, abs=1e-12)


def test_ln_wad__exact_points_and_domain() -> None:
    assert om.ln_wad(10**18) == 0
    assert abs(om.ln_wad(2 * 10**18) - 693147180559945309) <= 1
    assert om.ln_wad(1) == -41446531673892822313  # solady's documented lnWad(1)
    with pytest.raises(ValueError, match="undefined"):
        om.ln_wad(0)


def _valid(draw: st.DrawFn) -> onchain.SmileWord:
    tau = draw(st.integers(3600, 2 * om.YEAR))
    t = tau / om.YEAR
    b = draw(st.floats(0.0, min(2.0, 3.9 / t) / 1.99))
    rho = draw(st.floats(-0.99, 0.99))
    sigma = draw(st.floats(0.001, 3.0))
    a = -b * sigma * math.sqrt(1 - rho * rho) + draw(st.floats(1e-6, 0.5)) * t
    return onchain.SmileWord(
        round(a * 1e9),
        round(b * 1e9),
        round(rho * 1e9),
        round(draw(st.floats(-1.5, 1.5)) * 1e9),
        round(sigma * 1e9),
        round(draw(st.floats(0.05, 2e5)) * 1e6),
        tau,
    )


@settings(max_examples=300)
@given(st.data())
def test_implied_vol__fixed_point_mirror__within_1e_9_vol_or_1e_15_variance_of_float_maths(
    data: st.DataObject,
) -> None:
    word = _valid(data.draw)
    k = data.draw(st.floats(-3.0, 3.0))
    strike = round(word.forward * 1e12 * math.exp(k))
    x = math.log(strike / (word.forward * 1e12)) - word.m / 1e9
    w = word.a / 1e9 + word.b / 1e9 * (word.rho / 1e9 * x + math.sqrt(x * x + (word.sigma / 1e9) ** 2))
    t = word.tau / om.YEAR
    want = math.sqrt(max(w, 0.0) / t)
    got = word.implied_vol_wad(strike) / 1e18
    # Within 1e-9 vol; except where w(k) is within a few wei of zero (a smile touching zero at
    # one-hour expiry), where sqrt(w / t) turns a 1e-18 rounding of w into ~1e-7 of vol: there the
    # total variance itself must agree to 1e-15 (30,000 draws: worst 1.0e-16).
    assert abs(got - want) <= 1e-9 or abs(got * got * t - max(w, 0.0)) <= 1e-15, (got, want, w)


@settings(max_examples=200)
@given(st.data())
def test_pack__atm_vol_field__is_the_one_bp_the_contract_accepts(data: st.DataObject) -> None:
    word = _valid(data.draw)
    atm_float = math.sqrt(word.atm_variance_wad() / 1e18) * 1e4
    if atm_float > 65_000:
        return
    bp = word.pack() >> onchain.ATM_SHIFT
    args = (*word.params, word.tau)
    assert om.atm_consistent(*args, bp)
    assert not om.atm_consistent(*args, bp + 1)
    assert bp == 0 or not om.atm_consistent(*args, bp - 1)
    assert abs(bp - atm_float) <= 1.0


def test_pack__atm_vol_above_16_bits__data_error() -> None:
    huge = onchain.SmileWord(8 * 10**9, 0, 0, 0, 100_000_000, 10**8, 3600)
    with pytest.raises(DataError, match="atm_vol"):
        huge.pack()


def test_check__each_doctored_smile__names_the_contract_reason() -> None:
    ok = onchain.SmileWord(10_000_000, 100_000_000, 0, 0, 100_000_000, 10**8, 30 * 86400)
    assert ok.check() == 0
    bad = {
        1: {"rho": 10**9},
        2: {"sigma": 0},
        3: {"a": -20_000_000},
        4: {"b": 2 * 10**9, "rho": 5 * 10**8, "tau": 2 * om.YEAR},
        5: {"forward": 0},
        6: {"tau": 0},
    }
    for reason, change in bad.items():
        fields = {n: getattr(ok, n) for n in onchain.SMILE_FIELDS} | change
        assert onchain.SmileWord(**fields).check() == reason, change


def _report(**changes: object) -> onchain.SurfaceReport:
    base = {
        "epoch": 1,
        "round": 9,
        "observed_at": T0,
        "deadline": T0 + 600,
        "model_hash": b"\x11" * 32,
        "inputs_hash": b"\x22" * 32,
        "underlyings": (onchain.underlying_id("BTC"),),
        "underlying_words": (
            onchain.pack_underlying_word(88_524_21000000, onchain.Shocks(1600, 5000, 2500), 2),
        ),
        "smiles": (1 << 227, 2 << 227),
    }
    return onchain.SurfaceReport(**(base | changes))  # type: ignore[arg-type]


def test_digest__equals_eth_account_typed_data_encoder() -> None:
    report = _report()
    signable = encode_typed_data(full_message=onchain.typed_data(report, 31337, ORACLE))
    assert signable.body == onchain.hash_struct(report)
    assert signable.header == onchain.domain_separator(31337, ORACLE)
    sig = onchain.co_sign(report, 31337, ORACLE, {0: ANVIL_KEYS[1]})[0]
    parity, s = int.from_bytes(sig.vs, "big") >> 255, int.from_bytes(sig.vs, "big") & ((1 << 255) - 1)
    recovered = Account._recover_hash(
        onchain.report_digest(report, 31337, ORACLE), vrs=(parity + 27, int.from_bytes(sig.r, "big"), s)
    )
    assert recovered == Account.from_key(ANVIL_KEYS[1]).address


def test_report__counts_that_do_not_add_up__data_error() -> None:
    with pytest.raises(DataError, match="announce 2 smiles"):
        _report(smiles=(1 << 227,))
    with pytest.raises(DataError, match="underlyings"):
        _report(underlyings=())


def _surface(t_basis_days: float) -> Surface:
    """Two slices fitted on a `t_basis_days`-day year (Deribit: 365.25)."""
    slices = []
    for days, (a, b) in ((7, (0.001, 0.02)), (30, (0.004, 0.05))):
        expiry = datetime.fromtimestamp(T0 + days * 86400, UTC)
        t = days * 86400 / (t_basis_days * 86400)
        slices.append(SurfaceSlice(expiry, t, 88_600.0 + days, SviParams(a, b, -0.2, 0.01, 0.1)))
    return Surface("BTC", 88_524.21, tuple(slices))


def test_build_report__fit_on_365_25_day_years__published_vols_unchanged() -> None:
    surface = _surface(365.25)
    report = onchain.build_report(
        [surface],
        {"BTC": onchain.Shocks.from_fractions(0.16, 0.5, 0.25)},
        epoch=1,
        round=1,
        observed_at=T0,
        deadline=T0 + 600,
        model_hash=b"\x00" * 32,
        inputs_hash=b"\x00" * 32,
    )
    spot, shocks, n = onchain.unpack_underlying_word(report.underlying_words[0])
    assert (spot, shocks, n) == (8_852_421_000_000, onchain.Shocks(1600, 5000, 2500), 2)
    for sl, word in zip(surface.slices, report.surfaces()["BTC"], strict=True):
        assert word.tau == int(sl.expiry.timestamp()) - T0
        for k in (-0.5, 0.0, 0.4):
            strike = sl.forward * math.exp(k)
            assert word.implied_vol(strike) == pytest.approx(
                float(surface.implied_vol(strike, sl.t)), abs=2e-6
            )


def test_build_report__bad_inputs__data_errors_name_the_problem() -> None:
    kwargs = {"epoch": 1, "round": 1, "deadline": T0, "model_hash": b"\0" * 32, "inputs_hash": b"\0" * 32}
    shocks = {"BTC": onchain.Shocks(1600, 5000, 2500)}
    with pytest.raises(DataError, match="no shocks"):
        onchain.build_report([_surface(365)], {}, observed_at=T0, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="unexpired expiries"):
        onchain.build_report([_surface(365)], shocks, observed_at=T0 + 40 * 86400, **kwargs)  # type: ignore[arg-type]
    later = onchain.build_report([_surface(365)], shocks, observed_at=T0 + 10 * 86400, **kwargs)  # type: ignore[arg-type]
    assert len(later.smiles) == 1  # the 7-day expiry has passed: left to the contract to settle
    with pytest.raises(DataError, match="ASCII"):
        onchain.underlying_id("BTC\u20ac")


def test_deploy_config__surface_bounds_floor_above_ceiling__refused_naming_the_field() -> None:
    fields = {
        "atm_vol_floor": 1000,
        "atm_vol_ceiling": 30000,
        "atm_vol_max_change": 5000,
        "price_move_floor": 500,
        "price_move_ceiling": 5000,
        "vol_up_floor": 1000,
        "vol_up_ceiling": 20000,
        "vol_down_floor": 500,
        "vol_down_ceiling": 9000,
        "min_interval": 60,
        "spot_max_change": 3000,
    }
    ok = SurfaceBoundsConfig(**fields)
    assert ok.bounds().to_abi() == tuple(fields.values())
    with pytest.raises(ValidationError, match="vol_up: floor 25000 is above ceiling 20000"):
        SurfaceBoundsConfig(**(fields | {"vol_up_floor": 25000}))
    with pytest.raises(ValidationError, match="ASCII"):
        SurfaceOracleConfig(max_report_age=3600, underlyings={"BTC\u20ac": ok})
