"""What a follower signs in a surface round (network.surface_round): the comparison with its own fit,
and the wire format of a surface report."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from oracle_node.network.errors import PeerMessageError
from oracle_node.network.surface_round import (
    SurfaceCosignRequest,
    SurfaceTolerance,
    differences,
    parse_cosign_request,
    parse_report,
    report_to_json,
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
