"""RiskSettings: documented defaults, and one clear error per invalid value."""

from __future__ import annotations

import pydantic
import pytest

from oracle_node.risk.params import RiskSettings


def test_risk_settings__defaults__documented_values() -> None:
    s = RiskSettings()
    assert (s.margin_period_days, s.mm_fraction, s.liquidation_buffer_bp) == (2.0, 0.7, 500)
    assert (s.extreme_multiple, s.extreme_cover, s.liquidity_addon) == (2.0, 0.35, 0.0025)
    assert s.price_multiples[0] == -1.0 and s.price_multiples[-1] == 1.0 and len(s.price_multiples) == 7


def test_risk_settings__assignment__rejected_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        RiskSettings().mm_fraction = 0.9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"margin_period_days": 0.5}, "margin_period_days"),
        ({"mm_fraction": 1.2}, "mm_fraction"),
        ({"price_multiples": (-0.5, 0.0, 1.0)}, "include both -1 and 1"),
        ({"vol_shocks_price_down": (1.5, 2.0)}, "include 1.0"),
        ({"confidence_flag_factors": {"fallback_baseline": 1.5}}, "must be <= 1"),
        ({"default_nu": 2.0}, "default_nu"),
        ({"unknown_knob": 1}, "unknown_knob"),
    ],
)
def test_risk_settings__invalid_value__validation_error_names_it(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        RiskSettings(**kwargs)  # type: ignore[arg-type]


def test_risk_settings__price_multiples_unsorted__sorted_and_deduplicated() -> None:
    assert RiskSettings(price_multiples=(1.0, 0.0, -1.0, 0.0)).price_multiples == (-1.0, 0.0, 1.0)
