"""Attribution records: canonical bytes, which branch set each published field, what happens without an
explain artifact or when TreeSHAP fails, and how they bind into the inputs document and the store."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from eth_utils import keccak

from oracle_node.errors import ModelError
from oracle_node.explain.attribute import Attributor, artifact_sha256
from oracle_node.explain.record import SCHEMA, num, parse, top_drivers
from oracle_node.features.history import MarketHistory
from oracle_node.models.ensemble import RiskModel, combine
from oracle_node.models.forecast import Flag, Forecast
from oracle_node.models.manifest import ARTIFACTS_DIR
from oracle_node.reports.inputs import MarketInputs, attribution_hashes, canonical_inputs
from oracle_node.sources.history import load_history
from oracle_node.store import BoundInputs, EquivocationError, NodeStore

CRASH_DAY = 1583971200.0 + 86400  # history up to the close of 2020-03-12


@pytest.fixture(scope="module")
def model() -> RiskModel:
    return RiskModel.load()


@pytest.fixture(scope="module")
def attributor(model: RiskModel) -> Attributor:
    return Attributor(model)


@pytest.fixture(scope="module")
def btc() -> MarketHistory:
    return load_history("BTC-USD", "bundled:binance_btcusdt_spot_1h", until_ts=CRASH_DAY)


def _strings_only(node: object) -> bool:
    """No JSON number but the integers ts and rows: every measured value is a fixed string."""
    if isinstance(node, dict):
        return all(_strings_only(v) for k, v in node.items() if k not in ("ts", "rows"))
    if isinstance(node, list):
        return all(_strings_only(v) for v in node)
    return node is None or isinstance(node, str | bool)


def test_record__crash_day__canonical_strings_and_additive_contributions(
    model: RiskModel, attributor: Attributor, btc: MarketHistory
) -> None:
    published = model.forecast_many([btc])
    raw = attributor.records([btc], published)["BTC-USD"]
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    doc = parse(raw)
    assert doc["schema"] == SCHEMA and doc["market"] == "BTC-USD" and doc["ts"] == int(btc.ts[-1])
    assert doc["model_hash"] == model.manifest.hash_hex
    assert _strings_only(doc)
    for out in ("q_lo", "q_hi", "sigma_1d"):
        o = doc["ml"]["outputs"][out]
        total = float(o["expected"]) + sum(float(v) for v in o["contributions"].values())
        assert total == pytest.approx(float(o["value"]), rel=1e-6)
    sigma = doc["ml"]["outputs"]["sigma_1d"]
    assert (
        doc["fields"]["sigma_1d"]["branch"] == "ml"
    )  # the crash day's close: the ML model is above the floor
    assert float(sigma["value"]) == pytest.approx(published["BTC-USD"].sigma_1d, rel=1e-7)
    assert doc["ml"]["explains_published"] is True  # a complete day: the attributed row is the one served


def _partial(h: MarketHistory, hours: float, move: float) -> MarketHistory:
    """`h` plus a partial day `hours` after its last close at close x exp(move) (the node's rounds)."""
    assert h.volume is not None
    return MarketHistory(h.market, np.append(h.ts, h.ts[-1] + hours * 3600.0),
                         np.append(h.close, h.close[-1] * np.exp(move)), volume=np.append(h.volume, h.volume[-1]))  # fmt: skip


@pytest.mark.parametrize(("hours", "move"), [(3.0, -0.08), (13.0, 0.02), (23.0, -0.15)])
def test_record__partial_day__contributions_add_up_to_the_served_ml_quantiles(
    model: RiskModel, attributor: Attributor, btc: MarketHistory, hours: float, move: float
) -> None:
    h = _partial(btc, hours, move)
    published = model.forecast_many([h])
    doc = parse(attributor.records([h], published)["BTC-USD"])
    ml = doc["ml"]
    assert ml["rows"] == 33 and float(ml["elapsed"]) == pytest.approx(hours / 24)
    assert float(ml["anchor_factor"]["q_lo"]) != 1.0  # the pull towards the previous close is recorded
    for out in ("q_lo", "q_hi", "sigma_1d"):
        o = ml["outputs"][out]
        total = float(o["expected"]) + sum(float(v) for v in o["contributions"].values())
        assert total == pytest.approx(float(o["value"]), rel=1e-6)
    ref = model.ml.to_forecast(
        float(ml["outputs"]["q_lo"]["value"]), float(ml["outputs"]["q_hi"]["value"]), 1.0
    )
    assert ref is not None
    for field in ("sigma_1d", "var99", "var99_short"):
        if doc["fields"][field]["branch"] == "ml":  # the served ML value is the one attributed
            assert getattr(ref, field) == pytest.approx(getattr(published["BTC-USD"], field), rel=1e-7)
    assert ml["explains_published"] in (True, None)


def test_record__same_histories_twice__same_bytes_and_hash(
    model: RiskModel, attributor: Attributor, btc: MarketHistory
) -> None:
    eth = load_history("ETH-USD", "bundled:binance_ethusdt_spot_1h", until_ts=CRASH_DAY)
    published = model.forecast_many([btc, eth])
    first = attributor.records([btc, eth], published)
    again = Attributor(model).records([eth, btc], published)
    assert first == again and set(first) == {"BTC-USD", "ETH-USD"}
    assert keccak(first["BTC-USD"]) != keccak(first["ETH-USD"])


def test_branch__ml_below_the_floor__every_field_set_by_the_baseline_floor(
    model: RiskModel, attributor: Attributor, btc: MarketHistory
) -> None:
    base = model.baseline.forecast(btc)
    low_ml = Forecast("qgbm", 0.001, 0.001, 0.002, 0.001, 0.002)
    high_ml = Forecast("qgbm", 0.9, 0.5, 0.6, 0.5, 0.6)
    floored = parse(attributor.records([btc], {"BTC-USD": combine(low_ml, base, model.tolerance)})["BTC-USD"])
    assert floored["branch"] == "baseline_floor"
    var = floored["fields"]["var99"]
    assert var["published"] == var["floor"] == num((1 - model.tolerance) * base.var99)
    assert var["baseline"] == num(base.var99)
    above = parse(attributor.records([btc], {"BTC-USD": combine(high_ml, base, model.tolerance)})["BTC-USD"])
    assert above["branch"] == "ml" and above["fields"]["es99"]["published"] == num(0.6)


def test_branch__fallback_forecast__record_says_baseline_and_has_no_ml_part(
    model: RiskModel, attributor: Attributor, btc: MarketHistory
) -> None:
    base = model.baseline.forecast(btc)
    fallback = replace(base, flags=base.flags | {Flag.OUT_OF_TRAINING_RANGE, Flag.FALLBACK_BASELINE})
    doc = parse(attributor.records([btc], {"BTC-USD": fallback})["BTC-USD"])
    assert doc["branch"] == "fallback_baseline" and doc["ml"] is None
    assert Flag.OUT_OF_TRAINING_RANGE in doc["flags"]


def test_attributor__model_without_explain_artifact__records_say_why_and_still_bind(
    tmp_path: Path, btc: MarketHistory
) -> None:
    for name in ("manifest.json", "qgbm_har_v1.onnx"):
        shutil.copy(ARTIFACTS_DIR / name, tmp_path / name)
    model = RiskModel.load(tmp_path)
    attributor = Attributor(model)
    assert attributor.explainer is None and "qgbm_har_v1.explain.json is missing" in str(
        attributor.unavailable
    )
    doc = parse(attributor.records([btc], model.forecast_many([btc]))["BTC-USD"])
    assert doc["ml"]["outputs"] is None and "is missing" in doc["ml"]["error"]
    assert set(doc["ml"]["features"]) == set(model.ml.features)


def test_attributor__treeshap_fails__record_carries_the_error(
    model: RiskModel, btc: MarketHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    attributor = Attributor(model)

    def broken(rows: object) -> None:
        raise ModelError("TreeSHAP of q_lo: expected value + contributions differ from the model by 0.5")

    monkeypatch.setattr(attributor.explainer, "explain", broken)
    doc = parse(attributor.records([btc], model.forecast_many([btc]))["BTC-USD"])
    assert doc["ml"]["outputs"] is None and "differ from the model by 0.5" in doc["ml"]["error"]


def test_top_drivers__ranked_by_absolute_contribution_with_shares(
    model: RiskModel, attributor: Attributor, btc: MarketHistory
) -> None:
    doc = parse(attributor.records([btc], model.forecast_many([btc]))["BTC-USD"])
    drivers = top_drivers(doc, "q_lo", 3)
    assert len(drivers) == 3
    assert abs(drivers[0].contribution) >= abs(drivers[1].contribution) >= abs(drivers[2].contribution)
    everything = top_drivers(doc, "q_lo", 99)
    assert sum(d.share for d in everything) == pytest.approx(1.0)
    assert top_drivers(doc, "no_such_output", 3) == []


def test_parse__not_a_record__model_error() -> None:
    with pytest.raises(ModelError, match="not JSON"):
        parse(b"{nope")
    with pytest.raises(ModelError, match="schema None"):
        parse(b'{"market": "BTC-USD"}')


def test_inputs__attribution_hash__in_the_document_and_changes_the_hash() -> None:
    plain = MarketInputs("BTC-USD", 7937.3, (("binance_spot", 1.0, 7937.3),))
    bound = replace(plain, attribution=keccak(b"record"))
    doc = canonical_inputs([bound])
    h = keccak(b"record").hex().encode()
    assert (
        doc
        == b'[{"attribution":"0x'
        + h
        + b'","market":"BTC-USD","price":7937.3,"sources":[["binance_spot",1.0,7937.3]]}]'
    )
    assert json.loads(doc)[0]["attribution"] == "0x" + keccak(b"record").hex()
    assert attribution_hashes(doc) == {"BTC-USD": "0x" + keccak(b"record").hex()}
    assert keccak(doc) != keccak(canonical_inputs([plain]))
    assert keccak(doc) != keccak(canonical_inputs([replace(plain, attribution=keccak(b"record2"))]))
    assert b"attribution" not in canonical_inputs([plain])  # the version-1 format, byte for byte
    with pytest.raises(ValueError, match="attribution hash must be 32 bytes"):
        canonical_inputs([replace(plain, attribution=b"short")])


D1, D2 = b"\x11" * 32, b"\x22" * 32


def test_store__sign_once_with_bound_inputs__document_and_records_stored_with_the_intent(
    tmp_path: Path,
) -> None:
    doc = b'[{"attribution":"0x' + keccak(b"r-btc").hex().encode() + b'","market":"BTC-USD"}]'
    bound = BoundInputs(doc, {"BTC-USD": b"r-btc"})
    with NodeStore.open(tmp_path / "s.sqlite") as store:
        store.sign_once(7, D1, "0xAbc", lambda d: b"\x01" * 65, "observation", bound)
        row = store.bound_inputs(7)
        assert (
            row is not None and row.document.encode() == doc and row.inputs_hash == "0x" + keccak(doc).hex()
        )
        assert row.digest == "0x" + D1.hex()
        rec = store.attribution(7, "BTC-USD")
        assert rec is not None and rec.record == "r-btc" and rec.record_hash == "0x" + keccak(b"r-btc").hex()
        assert store.attribution_rounds("BTC-USD") == [7] and store.attribution(7, "ETH-USD") is None
        other = BoundInputs(b"[]", {"BTC-USD": b"r-other"})
        with pytest.raises(EquivocationError):
            store.sign_once(7, D2, "0xAbc", lambda d: b"\x02" * 65, "observation", other)
        kept = store.attribution(7, "BTC-USD")
        assert kept is not None and kept.record == "r-btc"  # the refused digest's records rolled back
    with NodeStore.open(tmp_path / "s.sqlite") as store:  # durable across a reopen
        again = store.bound_inputs(7)
        assert again is not None and again.document.encode() == doc


def test_artifact_sha256__bundled_model_verified__missing_artifact_model_error(
    model: RiskModel, tmp_path: Path
) -> None:
    expected = hashlib.sha256((ARTIFACTS_DIR / "qgbm_har_v1.explain.json").read_bytes()).hexdigest()
    assert artifact_sha256(model) == expected
    for name in ("manifest.json", "qgbm_har_v1.onnx"):
        shutil.copy(ARTIFACTS_DIR / name, tmp_path / name)
    with pytest.raises(ModelError, match=r"qgbm_har_v1\.explain\.json is missing"):
        artifact_sha256(RiskModel.load(tmp_path))


def test_attributor__ml_kind_without_a_method__records_say_so_and_still_bind(
    model: RiskModel, btc: MarketHistory
) -> None:
    published = model.forecast_many([btc])
    other = copy.copy(model)
    other.ml = object()  # e.g. a served LSTM before its gradient method is registered
    doc = parse(Attributor(other).records([btc], published)["BTC-USD"])
    assert doc["ml"] == {"method": None, "error": "no attribution method for object", "outputs": None,
                         "explains_published": None}  # fmt: skip
    assert doc["fields"]["var99"]["published"] == num(published["BTC-USD"].var99)
