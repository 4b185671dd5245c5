"""`oracle-node surface` / `greeks` on a synthetic chain: happy path, surface.json format, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from oracle_node.cli import main
from oracle_node.options import black76, jsonio
from oracle_node.options.build import fit_chain
from oracle_node.options.chain import REQUIRED, read_chain
from oracle_node.options.svi import SviParams

COLUMNS = [*REQUIRED, "implied_volatility", "delta", "vega", "volume"]
SPOTS = {"BTC": 90_000.0, "ETH": 3_000.0}
TS = (0.05, 0.2, 0.5)
SHAPE = SviParams(a=0.15, b=0.4, rho=-0.3, m=0.02, sigma=0.3)  # total variance per year of T


def true_params(t: float) -> SviParams:
    return SviParams(SHAPE.a * t, SHAPE.b * t, SHAPE.rho, SHAPE.m, SHAPE.sigma)


def _rows(ccy: str, spot: float, t: float, with_bids: bool) -> list[dict[str, object]]:
    f = spot * np.exp(0.05 * t)
    p = true_params(t)
    rows = []
    for k in np.linspace(-2.5, 2.5, 21) * np.sqrt(p.total_variance(0.0)):
        s = float(np.sqrt(p.total_variance(k)))
        for kind in ("call", "put"):
            price = float(black76.norm_price(k, s, kind == "call"))
            half = 0.01 * price + 2e-5
            rows.append(
                {
                    "timestamp": "2026-01-01T00:00:00+00:00",
                    "instrument_name": f"{ccy}-{t}-{round(f * np.exp(k))}-{kind[0].upper()}",
                    "underlying": f,
                    "option_type": kind,
                    "strike": f * np.exp(k),
                    "expiry_datetime": f"2026-{int(1 + t * 12):02d}-15T08:00:00+00:00",
                    "time_to_maturity": t,
                    "bid_price": max(price - half, 1e-6) if with_bids else "",
                    "ask_price": price + half,
                    "mark_price": price,
                    "futures_price": f,
                    "open_interest": 10.0,
                    "currency": ccy,
                    "index_price": spot,
                    "implied_volatility": s / np.sqrt(t),
                    "delta": float(black76.delta(f, f * np.exp(k), t, s / np.sqrt(t), kind == "call")),
                    "vega": 1.0,
                    "volume": 1.0,
                }
            )
    return rows


def write_chain(
    path: Path, eth_bids: bool = True, mutate: dict[str, object] | None = None, drop: str | None = None
) -> Path:
    rows = [
        r for ccy, spot in SPOTS.items() for t in TS for r in _rows(ccy, spot, t, eth_bids or ccy == "BTC")
    ]
    if mutate:
        rows[3].update(mutate)  # line 5 of the file (header is line 1)
    columns = [c for c in COLUMNS if c != drop]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_fit_chain__synthetic_svi_chain__recovers_smiles_without_arbitrage(tmp_path: Path) -> None:
    fit = fit_chain(read_chain(write_chain(tmp_path / "chain.csv")))
    assert [u.surface.underlying for u in fit.underlyings] == ["BTC", "ETH"]
    for u in fit.underlyings:
        assert u.violations == {"butterfly": 0, "calendar": 0, "parameters": 0}
        for e in u.expiries:
            assert e.quality.rmse_vol_pts < 0.05
            assert e.quality.inside_spread == 1.0
            k = np.linspace(-0.3, 0.3, 7)
            np.testing.assert_allclose(
                e.slice.params.total_variance(k), true_params(e.slice.t).total_variance(k), rtol=2e-3
            )


def test_surface_cli__happy_path__writes_documented_json_html_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = write_chain(tmp_path / "chain.csv")
    assert main(["surface", "--chain", str(chain), "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "surface.json").read_text())
    assert doc["observed_at"] == "2026-01-01T00:00:00+00:00"
    surface = doc["surfaces"][0]
    assert {"underlying", "spot", "expiries"} <= surface.keys()
    assert surface["underlying"] == "BTC" and surface["spot"] == 90_000.0
    expiry = surface["expiries"][0]
    assert {"expiry", "t", "forward", "svi", "rmse_vol_pts", "quotes", "inside_spread"} <= expiry.keys()
    assert set(expiry["svi"]) == {"a", "b", "rho", "m", "sigma"}
    assert expiry["quotes"] == 21 and expiry["inside_spread"] == 1.0
    html = (tmp_path / "out" / "surface.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # smiles + term structure per underlying
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith(("BTC 2026", "ETH 2026")) for line in out) == 6


def test_greeks_cli__from_surface_json__prints_one_line_per_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = write_chain(tmp_path / "chain.csv")
    assert main(["surface", "--chain", str(chain), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    rc = main(
        ["greeks", "--surface", str(tmp_path / "surface.json"), "--underlying", "eth", "--strike", "3000"]
    )
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert len(lines) == 1 + 2 * len(TS)  # header, then call and put per expiry
    assert all(line.startswith("ETH") for line in lines[1:])


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_file", "no such file"),
        ("missing_column", "field 'strike'"),
        ("non_numeric", ":5: field 'strike' value 'abc': not a number"),
        ("no_usable_quotes", "field 'currency' value 'ETH': no usable quotes"),
        ("bad_type", "field 'option_type' value 'straddle'"),
    ],
)
def test_surface_cli__bad_input__one_error_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, expected: str
) -> None:
    path = tmp_path / "chain.csv"
    if case == "missing_column":
        write_chain(path, drop="strike")
    elif case == "non_numeric":
        write_chain(path, mutate={"strike": "abc"})
    elif case == "no_usable_quotes":
        write_chain(path, eth_bids=False)
    elif case == "bad_type":
        write_chain(path, mutate={"option_type": "straddle"})
    rc = main(["surface", "--chain", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert expected in err
    assert str(path) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "surface.json").exists()


def test_write_atomic__crash_before_rename__keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "surface.json"
    target.write_text("old")

    def boom(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(jsonio.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        jsonio.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["surface.json"]
