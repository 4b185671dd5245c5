"""`run` says at start-up, once, when the chain will refuse every report of the served model."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from oracle_node.errors import SubmissionError
from oracle_node.service.network_run import _warn_if_model_not_allowed

pytestmark = pytest.mark.unit

MODEL = b"\x11" * 32


class FakeView:
    def __init__(self, allowed: frozenset[bytes] | None) -> None:
        self.allowed = allowed

    def refresh_if_older(self, max_age_s: float) -> SimpleNamespace:
        if self.allowed is None:
            raise SubmissionError("rpc unreachable")
        return SimpleNamespace(allowed_models=self.allowed)


def _observer(allowed: frozenset[bytes] | None) -> SimpleNamespace:
    return SimpleNamespace(model_hash=MODEL, bounds=SimpleNamespace(view=FakeView(allowed)))


def _events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_startup__model_not_allow_listed__error_names_hash(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("ERROR", logger="oracle_node.service.network_run"):
        _warn_if_model_not_allowed(_observer(frozenset({b"\x22" * 32})))  # type: ignore[arg-type]
    (record,) = [r for r in caplog.records if r.getMessage() == "model_not_allowed"]
    assert record.fields["model_hash"] == "0x" + MODEL.hex()  # type: ignore[attr-defined]
    assert "allow_model" in record.fields["hint"]  # type: ignore[attr-defined]


def test_startup__model_allowed_or_chain_down__nothing_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("ERROR", logger="oracle_node.service.network_run"):
        _warn_if_model_not_allowed(_observer(frozenset({MODEL})))  # type: ignore[arg-type]
        _warn_if_model_not_allowed(_observer(None))  # type: ignore[arg-type]
    assert "model_not_allowed" not in _events(caplog)
