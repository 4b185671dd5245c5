"""The one manifest schema: the bundled manifest passes it unchanged (same hash), every broken field is
refused with one line naming the file, the field and the value, the writer refuses what the loader
would, and a backtest's research bundle is told apart from a served model."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from oracle_node.errors import ModelError
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.manifest import (
    ARTIFACTS_DIR,
    MANIFEST_FILE,
    canonical_bytes,
    load_manifest,
    manifest_hash,
    write_manifest,
)
from oracle_node.models.manifest_schema import FIELDS, SCHEMA_VERSION
from scripts import allow_model

BUNDLED_HASH = "0xc72369f97393178d3e02c3fbb73467b2c951c12b4c73f836b49d6a5ab9bcba8e"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(ARTIFACTS_DIR, out)
    return out


def _doc(directory: Path) -> dict[str, Any]:
    return json.loads((directory / MANIFEST_FILE).read_text())


def _rewrite(directory: Path, doc: dict[str, Any]) -> None:
    (directory / MANIFEST_FILE).write_text(json.dumps(doc, indent=1))


def test_bundled_manifest__schema_1__loads_with_unchanged_hash() -> None:
    m = load_manifest()
    assert m.data["schema_version"] == SCHEMA_VERSION == 1
    assert set(m.data) == set(FIELDS)
    assert m.hash_hex == BUNDLED_HASH  # deploy/local.yaml allow-lists this model by path


def test_load_manifest__directory_or_file__same_manifest(model_dir: Path) -> None:
    by_dir, by_file = load_manifest(model_dir), load_manifest(model_dir / MANIFEST_FILE)
    assert by_dir.hash == by_file.hash and by_dir.directory == by_file.directory == model_dir


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        doc = doc[key]
    if value is _DELETE:
        del doc[last]
    else:
        doc[last] = value


_DELETE = object()
BROKEN: list[tuple[str, Any, str]] = [
    ("schema_version", 2, "field schema_version = 2: this node reads schema version 1"),
    ("schema_version", _DELETE, "field schema_version is missing"),
    ("model", "", "field model = '': must be a non-empty string"),
    ("kind", 7, "field kind = 7: must be a non-empty string"),
    ("artifacts", {}, "field artifacts = {}: must pin at least one file"),
    ("range_tolerance", -0.1, "field range_tolerance = -0.1: must be >= 0"),
    ("range_tolerance", "0.1", "field range_tolerance = '0.1': must be a finite number >= 0"),
    ("quantiles", [0.01, 0.98], "field quantiles = [0.01, 0.98]: must be [alpha, 1 - alpha]"),
    ("features", ["har_d_rel", "har_d_rel"], "must not repeat a name"),
    (
        "feature_range.volume_z",
        [3.0, -3.0],
        "field feature_range['volume_z'] = [3.0, -3.0]: must be [min, max]",
    ),
    ("onnx.file", "other.onnx", "field onnx.file = 'other.onnx': must name a file pinned in 'artifacts'"),
    ("onnx.outputs", ["q_lo"], "field onnx.outputs = ['q_lo']: must be the two output names"),
    ("target.scale_feature", "log_har_m", "must not be one of the model's input features"),
    ("tails.nu", 2.0, "field tails.nu = 2.0: must be > 2"),
    ("tails.es_ratio_lo", 0.9, "field tails.es_ratio_lo = 0.9: must be >= 1"),
    ("baseline.ewma_lambda", 1.0, "field baseline.ewma_lambda = 1.0: must be in (0, 1)"),
    ("baseline.gjr_window", 100, "field baseline.gjr_window = 100: must be an integer >= 250"),
    ("baseline.refit_every_days", 0, "field baseline.refit_every_days = 0: must be an integer >= 1"),
    ("baseline.fit_lag_days", _DELETE, "field baseline.fit_lag_days is missing"),
    ("ensemble.tolerance", 1.0, "field ensemble.tolerance = 1.0: must be in [0, 1)"),
    ("training.test_start", "2021-13-01", "field training.test_start = '2021-13-01': must be a date"),
    (
        "training.data",
        {"x.csv": "nothex"},
        "field training.data['x.csv'] = 'nothex': must be the file's sha256",
    ),
    (
        "training.rows_by_market",
        {"BTC-USD": -1},
        "training.rows_by_market.BTC-USD = -1: must be an integer >= 0",
    ),
    ("metrics", [], "field metrics = []: must be an object"),
    ("by_market", {}, "field by_market = {}: unknown key"),
]


@pytest.mark.parametrize(("field", "value", "message"), BROKEN, ids=[f"{b[0]}={b[1]!r}"[:40] for b in BROKEN])
def test_load_manifest__broken_field__model_error_names_file_field_value(
    model_dir: Path, field: str, value: Any, message: str
) -> None:
    doc = _doc(model_dir)
    _set(doc, field, value)
    _rewrite(model_dir, doc)
    with pytest.raises(ModelError) as err:
        load_manifest(model_dir)
    text = str(err.value)
    assert text.startswith(f"model manifest {model_dir / MANIFEST_FILE}: ") and "\n" not in text
    assert message in text


def test_load_manifest__artifact_outside_directory__refused(model_dir: Path) -> None:
    doc = _doc(model_dir)
    doc["artifacts"] = {"../escape.onnx": "ab" * 32}
    doc["onnx"]["file"] = "../escape.onnx"
    _rewrite(model_dir, doc)
    with pytest.raises(
        ModelError, match=r"field artifacts\['../escape.onnx'\] = '../escape.onnx': must be a plain"
    ):
        load_manifest(model_dir)


def test_load_manifest__nan_in_json__refused_with_file(model_dir: Path) -> None:
    text = (model_dir / MANIFEST_FILE).read_text().replace('"range_tolerance": 0.1', '"range_tolerance": NaN')
    (model_dir / MANIFEST_FILE).write_text(text)
    with pytest.raises(ModelError, match=r"manifest.json: NaN is not a JSON number"):
        load_manifest(model_dir)


def test_load_manifest__research_bundle__says_what_it_is(model_dir: Path) -> None:
    _rewrite(model_dir, {"schema": "mlra-ml-models-1", "by_alpha": {}, "artifacts": {}})
    with pytest.raises(
        ModelError, match=r"research bundle .* not a model the node serves.*oracle-node train"
    ):
        load_manifest(model_dir)


def test_write_manifest__valid__loader_reads_the_same_hash(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(model_dir, out)
    doc = _doc(model_dir)
    doc["metrics"] = {"note": "rewritten"}
    digest = write_manifest(out, doc)
    assert load_manifest(out).hash == digest == manifest_hash(doc)
    assert digest == hashlib.sha256(canonical_bytes(doc)).digest()


def test_write_manifest__invalid__refused_and_previous_file_kept(model_dir: Path) -> None:
    before = (model_dir / MANIFEST_FILE).read_bytes()
    doc = _doc(model_dir)
    doc["tails"]["nu"] = 1.5
    with pytest.raises(ModelError, match=r"field tails.nu = 1.5: must be > 2"):
        write_manifest(model_dir, doc)
    doc["tails"]["nu"] = float("nan")
    with pytest.raises(ModelError, match="NaN or infinity"):
        write_manifest(model_dir, doc)
    assert (model_dir / MANIFEST_FILE).read_bytes() == before


def test_risk_model__unknown_kind__model_error_names_field(model_dir: Path) -> None:
    doc = _doc(model_dir)
    doc["kind"] = "lstm_quantile"
    _rewrite(model_dir, doc)
    with pytest.raises(ModelError) as err:
        RiskModel.load(model_dir)
    assert str(err.value) == (
        f"model manifest {model_dir / MANIFEST_FILE}: field kind = 'lstm_quantile': this node serves ['onnx_quantile']"
    )


def test_allow_model__tampered_artifact__refused_before_any_rpc(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert allow_model.manifest_hash(model_dir) == load_manifest(ARTIFACTS_DIR).hash
    onnx = next(model_dir.glob("*.onnx"))
    onnx.write_bytes(onnx.read_bytes() + b"\x00")
    assert allow_model.main(["status", "--manifest", str(model_dir), "--rpc", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert f"model artifact {onnx}: sha256 mismatch" in err and "Traceback" not in err
