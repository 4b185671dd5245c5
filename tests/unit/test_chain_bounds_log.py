"""service.observer.ChainBounds logs `bounded_by_dao` with the held-back fields when the bounds cut a step."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from oracle_node.service.observer import ChainBounds
from oracle_node.types import RiskParamsBps
from tests.unit.test_risk_project import CALM, PROFILE

STORED = CALM  # the bounds profile and calm params of the projection's own tests


class _View:
    def __init__(self) -> None:
        state = SimpleNamespace(params=STORED)
        self.latest = SimpleNamespace(
            usable=lambda _m: True, markets={"BTC-USD": state}, bounds={"BTC-USD": PROFILE}
        )

    def refresh_if_older(self, _age: float) -> None:
        pass


def _fit(wanted: RiskParamsBps, caplog: pytest.LogCaptureFixture) -> tuple[RiskParamsBps | None, list]:
    with caplog.at_level("INFO", logger="oracle_node.service.observer"):
        out = ChainBounds(_View()).fit("BTC-USD", wanted)  # type: ignore[arg-type]
    return out, [r for r in caplog.records if r.getMessage() == "bounded_by_dao"]


def test_fit__crash_step_beyond_max_change__logged_with_held_back_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wanted = RiskParamsBps(15280, 2500, 4200, 5565, 3896, 5600, 9700, 6000)
    out, records = _fit(wanted, caplog)
    assert out is not None and out.initial_margin == 3270 and out.liquidation_threshold == 7475
    (record,) = records
    assert {"initial_margin", "liquidation_threshold"} <= set(record.fields["fields"])  # type: ignore[attr-defined]


def test_fit__within_bounds__not_logged(caplog: pytest.LogCaptureFixture) -> None:
    out, records = _fit(STORED, caplog)
    assert out == STORED and records == []
