"""The dashboard's state builders without a browser or a chain: bounds proximity, flags, rounds, peers,
smiles, the page skeleton and the `dashboard:` config section."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle_node.config import load_config
from oracle_node.errors import ConfigError
from oracle_node.options.onchain import SmileWord
from oracle_node.service.dashboard.server import finite, page
from oracle_node.service.dashboard.state import (
    AcceptedRound,
    MarketStatus,
    accepted_rows,
    field_rows,
    market_flags,
    missed_rounds,
    observation_summary,
    peer_rows,
    smile_rows,
)
from oracle_node.types import RISK_FIELDS, FieldBounds, OnchainBounds, RiskParamsBps

IM, LT = RISK_FIELDS.index("initial_margin"), RISK_FIELDS.index("liquidation_threshold")
A, B, C = (
    "0xAaAa000000000000000000000000000000000001",
    "0xbbbb000000000000000000000000000000000002",
    "0xCC00000000000000000000000000000000000003",
)


def _params(**fields: int) -> RiskParamsBps:
    base = dict.fromkeys(RISK_FIELDS, 5000) | {"initial_margin": 1000, "liquidation_threshold": 8000}
    return RiskParamsBps(**(base | fields))


def _bounds(relative_mask: int = 1 << IM) -> OnchainBounds:
    fields = [FieldBounds(0, 10_000, 10_000) for _ in RISK_FIELDS]
    fields[IM] = FieldBounds(500, 1500, 5000)  # +-50 % of the stored value per update
    fields[LT] = FieldBounds(5000, 9500, 500)  # +-500 bp per update
    return OnchainBounds(tuple(fields), relative_mask)


def _row(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if r["field"] == name)


def test_field_rows__relative_field_wanted_beyond_the_step__position_step_and_held_back() -> None:
    rows = field_rows(_params(), _params(initial_margin=1600), _params(initial_margin=1500), _bounds())
    im = _row(rows, "initial_margin")
    assert im["position_pct"] == 50.0  # 1000 of 500..1500
    assert im["wanted_pct"] == 110.0  # above the ceiling
    assert (im["step_bp"], im["step_lo"], im["step_hi"]) == (500, 500, 1500)
    assert im["step_used_pct"] == 120.0 and im["held_back"] and im["relative"]
    assert im["signed"] == 1500 and im["near"] is None


def test_field_rows__absolute_field_within_step__not_held_and_near_the_ceiling_flagged() -> None:
    rows = field_rows(
        _params(liquidation_threshold=9200), _params(liquidation_threshold=9450), None, _bounds()
    )
    lt = _row(rows, "liquidation_threshold")
    assert lt["step_bp"] == 500 and not lt["relative"]
    assert lt["step_used_pct"] == 50.0 and not lt["held_back"]
    assert lt["position_pct"] == round(100 * 4200 / 4500, 2) and lt["near"] == "ceiling"
    assert lt["signed"] is None


def test_field_rows__nothing_stored_yet__no_step_and_only_the_floor_ceiling_hold_back() -> None:
    rows = field_rows(None, _params(initial_margin=400), None, _bounds())
    im = _row(rows, "initial_margin")
    assert im["onchain"] is None and im["position_pct"] is None and im["step_bp"] is None
    assert (im["step_lo"], im["step_hi"]) == (500, 1500) and im["held_back"]
    assert not _row(rows, "volatility")["held_back"]


@given(
    stored=st.integers(500, 1500),
    wanted=st.integers(500, 1500),
    change=st.integers(1, 10_000),
)
def test_field_rows__any_value_inside_the_bounds__held_back_exactly_when_the_move_exceeds_the_step(
    stored: int, wanted: int, change: int
) -> None:
    fields = [FieldBounds(0, 10_000, 10_000) for _ in RISK_FIELDS]
    fields[IM] = FieldBounds(500, 1500, change)
    bounds = OnchainBounds(tuple(fields), 1 << IM)
    im = _row(
        field_rows(_params(initial_margin=stored), _params(initial_margin=wanted), None, bounds),
        "initial_margin",
    )
    step = stored * change // 10_000
    assert im["step_bp"] == step
    assert im["held_back"] == (abs(wanted - stored) > step)
    assert 0.0 <= im["position_pct"] <= 100.0
    if step > 0 and not im["held_back"]:
        assert im["step_used_pct"] <= 100.0


def test_market_flags__pipeline_and_derived_flags__sorted_and_named() -> None:
    rows = field_rows(_params(initial_margin=510), _params(initial_margin=2000), None, _bounds())
    status = MarketStatus(frozenset({"model_disagreement"}), "market paused", breaker_open=True, drift=True)
    assert market_flags(rows, status) == [
        "bounded_by_dao", "breaker_open", "drift", "market_paused", "model_disagreement", "near_floor:initial_margin",
    ]  # fmt: skip
    calm = field_rows(_params(), _params(), None, _bounds())
    assert market_flags(calm, MarketStatus()) == []


def _accepted(round_: int, bitmap: int, leader: str = A, block_time: int = 0) -> AcceptedRound:
    return AcceptedRound(
        round_, 1, bitmap, 100 + round_, block_time, f"0x{round_:064x}", leader, 60_000 + round_
    )


def test_accepted_rows__bitmap_and_times__signers_leader_and_both_latencies() -> None:
    slot = lambda r: 1000.0 + 10 * r  # noqa: E731
    rows = accepted_rows(
        [_accepted(3, 0b101, leader=A.lower(), block_time=1032), _accepted(4, 0b010, leader=B, block_time=1041)],
        [A, B, C], slot, me=A, included_at={3: 1030.75},
    )  # fmt: skip
    assert [r["round"] for r in rows] == [4, 3]
    four, three = rows
    assert three["signers"] == [A, C] and three["signer_count"] == 2 and three["leader_is_me"]
    assert three["latency_s"] == 0.75 and three["block_latency_s"] == 2.0
    assert four["signers"] == [B] and not four["leader_is_me"] and four["latency_s"] is None
    assert four["gas_used"] == 60_004


def test_missed_rounds__due_rounds_without_an_accepted_report__only_those_already_over() -> None:
    assert missed_rounds(due=[3, 4, 5, 7, 8], accepted=[4, 7], newest_accepted=7) == [3, 5]
    assert missed_rounds(due=[3], accepted=[], newest_accepted=0) == []


def test_peer_rows__signed_recently_observed_only_and_silent__ok_lagging_silent() -> None:
    accepted = [_accepted(r, 0b011) for r in range(10, 21)]  # A and B co-sign every round up to 20
    observations = {c.lower(): {"round": 12, "observed_at": 0, "markets": {}} for c in (C,)}
    rows = peer_rows([A, B, C, "0x" + "d" * 40], B, accepted, observations, {A.lower(): "http://a"})
    by = {r["address"]: r for r in rows}
    assert by[A]["health"] == "ok" and by[A]["last_signed_round"] == 20 and by[A]["url"] == "http://a"
    assert by[B]["me"] and by[B]["health"] == "ok"
    assert by[C]["health"] == "lagging" and by[C]["last_observation"]["round"] == 12
    assert by["0x" + "d" * 40]["health"] == "silent"


def test_observation_summary__stored_observation__params_words_decoded_per_market() -> None:
    p = _params(initial_margin=1234, maintenance_margin=987, liquidation_threshold=8100, confidence=7000)
    obs = {"round": 9, "observedAt": 1700, "markets": ["BTC-USD"], "params": [str(p.pack())], "signer": A}
    assert observation_summary(obs) == {
        "round": 9, "observed_at": 1700,
        "markets": {"BTC-USD": {"initial_margin": 1234, "maintenance_margin": 987, "liquidation_threshold": 8100,
                                "confidence": 7000}},
    }  # fmt: skip


def test_smile_rows__svi_word__atm_vol_params_and_the_curve_through_it() -> None:
    tau = 30 * 86400
    word = SmileWord(a=2_000_000, b=40_000_000, rho=-300_000_000, m=10_000_000, sigma=100_000_000,
                     forward=90_000_000_000, tau=tau)  # fmt: skip
    (btc,) = smile_rows({"BTC": [word]})
    (e,) = btc["expiries"]
    assert btc["underlying"] == "BTC" and e["tau_days"] == 30.0 and e["forward"] == 90_000.0
    assert (e["a"], e["b"], e["rho"]) == (0.002, 0.04, -0.3)
    at_the_money = dict((k, v) for k, v in e["curve"])[0.0]
    assert e["atm_vol"] == word.atm_vol_bp() / 10_000
    assert at_the_money == pytest.approx(e["atm_vol"], abs=1e-4)
    vols = [v for _, v in e["curve"]]
    assert vols[0] > at_the_money < vols[-1]  # a smile: both wings above the money


def test_finite__nan_and_infinity__become_null() -> None:
    assert finite({"a": [1.0, math.nan], "b": math.inf, "c": "x", "d": (2, -math.inf)}) == {
        "a": [1.0, None], "b": None, "c": "x", "d": [2, None],
    }  # fmt: skip


def test_page__node_name_with_markup__escaped_and_refresh_in_ms() -> None:
    html = page("<b>node</b>", 1.5)
    assert "&lt;b&gt;node&lt;/b&gt;" in html and "<b>node" not in html
    assert 'data-refresh-ms="1500"' in html and "/dashboard/static/dashboard.js" in html
    assert "http" not in html.replace("http://www.w3.org", "")  # no CDN, nothing off the node


@pytest.fixture
def _no_oracle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("ORACLE_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("_no_oracle_env")
def test_dashboard_config__defaults_and_bad_port__off_on_loopback_and_one_line_naming_the_field(
    tmp_path: Path,
) -> None:
    cfg = load_config(None, {})
    assert not cfg.dashboard.enabled and cfg.dashboard.host == "127.0.0.1"
    path = tmp_path / "node.yaml"
    path.write_text("dashboard:\n  enabled: true\n  port: 70000\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    (line,) = err.value.lines()
    assert line.startswith(f"{path}:3: dashboard.port = 70000")
