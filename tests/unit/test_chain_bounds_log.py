"""service.observer.ChainBounds logs `bounded_by_dao` with the held-back fields when the bounds cut a step."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from oracle_node.service.observer import ChainBounds
from oracle_node.types import FieldBounds, OnchainBounds, RiskParamsBps

PROFILE = OnchainBounds(
    (
        FieldBounds(1000, 40000, 5000),
        FieldBounds(50, 5000, 5000),
        FieldBounds(60, 6000, 5000),
        FieldBounds(200, 10000, 5000),
        FieldBounds(100, 8000, 5000),
        FieldBounds(1000, 9500, 500),
        FieldBounds(0, 10000, 65535),
        FieldBounds(0, 10000, 65535),
    ),
    relative_mask=0b11111,
)
STORED = RiskParamsBps(6400, 850, 1480, 2180, 1525, 7975, 5000, 7000)


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
