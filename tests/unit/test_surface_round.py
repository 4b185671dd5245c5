"""What a follower signs in a surface round (network.surface_round): the comparison with its own fit,
and the wire format of a surface report."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from oracle_node.network.chain_view import UnderlyingState
from oracle_node.network.errors import PeerMessageError
from oracle_node.network.surface_round import (
    SurfaceCosignRequest,
    SurfaceTolerance,
    clip_shocks,
    differences,
    parse_cosign_request,
    parse_report,
    refusal,
    report_to_json,
    without,
)
from oracle_node.options import onchain
from oracle_node.options.surface import Surface, SurfaceSlice
from oracle_node.options.svi import SviParams

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
OBSERVED = int(NOW.timestamp())
YEAR = 365 * 86_400


def surface(vol_bump: float = 0.0, days: tuple[int, ...] = (7, 30, 90), forward: float = 90_000.0) -> Surface:
    """A smile per expiry with ATM vol near 50 % (+ vol_bump as a level shift of total variance)."""
    slices = []
    for d in days:
        t = d * 86_400 / YEAR
        a = (0.5 + vol_bump) ** 2 * t - 0.1 * 0.2 * t
        params = SviParams(a=a, b=0.1 * t, rho=-0.3, m=0.0, sigma=0.2)
        slices.append(SurfaceSlice(NOW + timedelta(days=d), t, forward * (1 + 0.0001 * d), params))
    return Surface("BTC", forward, tuple(slices))


def report(s: Surface, shocks: onchain.Shocks | None = None, **header: object) -> onchain.SurfaceReport:
    fields: dict[str, object] = dict(epoch=1, round=7, observed_at=OBSERVED, deadline=OBSERVED + 60,
                                     model_hash=b"\x01" * 32, inputs_hash=b"\x02" * 32)  # fmt: skip
    fields.update(header)
    return onchain.build_report([s], {"BTC": shocks or onchain.Shocks(1600, 5000, 2500)}, **fields)  # type: ignore[arg-type]


TOL = SurfaceTolerance()


def test_differences__same_fit_or_within_band__none() -> None:
    mine = report(surface())
    assert differences(mine, mine, TOL) == []
    # another node fitted a slightly different chain: 0.5 vol points, 0.1 % forward, 100 bp shocks
    theirs = report(
        surface(vol_bump=0.005, forward=90_090.0), onchain.Shocks(1700, 5100, 2400), inputs_hash=b"\x09" * 32
    )
    assert differences(theirs, mine, TOL) == []


def test_differences__vols_two_points_off__refused_naming_expiry_and_k() -> None:
    bad = differences(report(surface(vol_bump=0.02)), report(surface()), TOL)
    assert len(bad) == 3 and all("vol at k=" in b and "vol pts" in b for b in bad)


def test_differences__expiries_forward_spot_shocks_header__each_named() -> None:
    mine = report(surface())
    assert "expiries" in differences(report(surface(days=(7, 30))), mine, TOL)[0]
    assert any("forward" in b for b in differences(report(surface(forward=91_000.0)), mine, TOL))
    assert any(
        "vol_up" in b for b in differences(report(surface(), onchain.Shocks(1600, 6000, 2500)), mine, TOL)
    )
    assert differences(report(surface(), round=8), mine, TOL) == ["round 8 != own 7"]
    assert "model_hash" in differences(report(surface(), model_hash=b"\x03" * 32), mine, TOL)[0]
    eth = dataclasses.replace(surface(), underlying="ETH")
    other = onchain.build_report([eth], {"ETH": onchain.Shocks(1600, 5000, 2500)}, epoch=1, round=7,
                                 observed_at=OBSERVED, deadline=OBSERVED + 60, model_hash=b"\x01" * 32,
                                 inputs_hash=b"\x02" * 32)  # fmt: skip
    assert "underlyings" in differences(other, mine, TOL)[0]


def test_wire__round_trip_and_malformed_fields_named() -> None:
    r = report(surface())
    assert parse_report(report_to_json(r)) == r
    request = SurfaceCosignRequest(7, 1, r)
    assert parse_cosign_request(request.to_json()) == request
    body = report_to_json(r)
    with pytest.raises(PeerMessageError, match="'smiles'"):
        parse_report(body | {"smiles": ["-1"]})
    with pytest.raises(PeerMessageError, match="'round'"):
        parse_report(body | {"round": str(1 << 64)})
    with pytest.raises(PeerMessageError, match="smiles"):
        parse_report(body | {"smiles": body["smiles"][:-1]})  # the words announce more smiles
    with pytest.raises(PeerMessageError, match="modelHash"):
        parse_report(body | {"modelHash": "0x12"})


LIMITS = {
    "atm_vol_floor": 1000, "atm_vol_ceiling": 30000, "atm_vol_max_change": 5000, "price_move_floor": 500,
    "price_move_ceiling": 5000, "vol_up_floor": 1000, "vol_up_ceiling": 20000, "vol_down_floor": 500,
    "vol_down_ceiling": 9000, "min_interval": 60, "spot_max_change": 3000,
}  # fmt: skip
LISTED = 1 << 234


def two_underlyings() -> onchain.SurfaceReport:
    eth = dataclasses.replace(surface(forward=3_000.0), underlying="ETH")
    shocks = {"BTC": onchain.Shocks(1600, 5000, 2500), "ETH": onchain.Shocks(1600, 5000, 2500)}
    return onchain.build_report([surface(), eth], shocks, epoch=1, round=7, observed_at=OBSERVED,
                                deadline=OBSERVED + 60, model_hash=b"\x01" * 32, inputs_hash=b"\x02" * 32)  # fmt: skip


def stored(
    spot: float, observed: int, smiles: dict[int, int] | None = None, extra: int = 0
) -> UnderlyingState:
    """A published underlying: spot (1e-8 units), observedAt, round 5, lag 2 s."""
    word = round(spot * 1e8) | observed << 112 | 5 << 144 | 2 << 208 | LISTED | extra
    return UnderlyingState(word, LIMITS, smiles or {})


def test_refusal__each_chain_rule_named__none_when_publishable() -> None:
    r = two_underlyings()
    now, earlier = OBSERVED + 1, OBSERVED - 600
    assert refusal(r, 0, stored(90_000.0, earlier), now) is None
    assert refusal(r, 0, UnderlyingState(0, LIMITS, {}), now) == "not listed on the surface oracle"
    assert refusal(r, 0, stored(90_000.0, earlier, extra=1 << 235), now) == "paused"
    assert "min_interval" in (refusal(r, 0, stored(90_000.0, OBSERVED - 30), now) or "")
    assert "spot" in (refusal(r, 0, stored(60_000.0, earlier), now) or "")  # +50 % > 30 %
    assert refusal(r, 0, stored(70_000.0, earlier), now) is None  # +28.6 %: within
    first = r.surfaces()["BTC"][0]
    expiry = r.observed_at + first.tau
    atm = r.smiles[0] >> onchain.ATM_SHIFT & 0xFFFF
    doubled = (atm // 2) << onchain.ATM_SHIFT  # the stored ATM vol was half: +100 % > 50 %
    assert f"expiry {expiry}: ATM vol" in (
        refusal(r, 0, stored(90_000.0, earlier, {expiry: doubled}), now) or ""
    )
    tight = UnderlyingState(stored(90_000.0, earlier).state, LIMITS | {"vol_up_ceiling": 4000}, {})
    assert "vol_up 5000 bp outside" in (refusal(r, 0, tight, now) or "")


def test_without__drops_one_underlying_and_keeps_the_others_smiles() -> None:
    r = two_underlyings()
    only_eth = without(r, {0})
    assert only_eth is not None and list(only_eth.surfaces()) == ["ETH"]
    assert only_eth.surfaces()["ETH"] == r.surfaces()["ETH"]
    assert without(r, {0, 1}) is None


def test_clip_shocks__into_the_chains_floors_and_ceilings() -> None:
    r = two_underlyings()  # shocks 1600 / 5000 / 2500 on both
    btc, eth = r.underlyings
    limits = {btc: LIMITS | {"vol_up_ceiling": 4000}, eth: LIMITS | {"price_move_floor": 2000}}
    clipped = clip_shocks(r, limits)
    assert onchain.unpack_underlying_word(clipped.underlying_words[0])[1] == onchain.Shocks(1600, 4000, 2500)
    assert onchain.unpack_underlying_word(clipped.underlying_words[1])[1] == onchain.Shocks(2000, 5000, 2500)
    assert clipped.smiles == r.smiles and clip_shocks(r, dict.fromkeys(r.underlyings, LIMITS)) == r
