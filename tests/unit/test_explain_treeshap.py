"""TreeSHAP of the served ONNX trees: the trees read back from ONNX predict what onnxruntime does, the
shap library's values add up to onnxruntime's output and equal a brute-force Shapley computation in
plain NumPy, and the explain artifact is refused when it does not fit the model."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from oracle_node.errors import ModelError
from oracle_node.explain.covers import explain_path, load_covers
from oracle_node.explain.trees import Ensemble, Tree, predict, read_ensembles
from oracle_node.explain.treeshap import TreeShap
from oracle_node.models.manifest import load_manifest
from oracle_node.models.quantile_onnx import OnnxQuantileModel

MANIFEST = load_manifest()
ONNX = MANIFEST.artifact_path("qgbm_har_v1.onnx")
ONNX_SHA = MANIFEST.data["artifacts"]["qgbm_har_v1.onnx"]


@pytest.fixture(scope="module")
def served() -> tuple[OnnxQuantileModel, dict[str, Ensemble], TreeShap]:
    ensembles = read_ensembles(ONNX.read_bytes(), str(ONNX))
    covers = load_covers(explain_path(ONNX), ONNX_SHA, ensembles)
    return OnnxQuantileModel(MANIFEST), ensembles, TreeShap(ensembles, covers.covers)


def _rows(n: int, seed: int) -> np.ndarray:
    lo, hi = MANIFEST.feature_bounds()
    return lo + (hi - lo) * np.random.default_rng(seed).random((n, lo.size))


def test_trees__read_back_from_onnx__predict_what_onnxruntime_does(served) -> None:  # type: ignore[no-untyped-def]
    ml, ensembles, _ = served
    x = _rows(500, 1)
    z = ml.predict(x)
    assert_allclose(predict(ensembles["q_lo"], x), z[:, 0], rtol=1e-6, atol=1e-6)
    assert_allclose(predict(ensembles["q_hi"], x), z[:, 1], rtol=1e-6, atol=1e-6)
    assert len(ensembles["q_lo"].trees) == 150


def test_treeshap__random_rows__expected_plus_contributions_equal_onnxruntime(served) -> None:  # type: ignore[no-untyped-def]
    ml, _, shap = served
    x = _rows(200, 2)
    z = ml.predict(x)
    att = shap.attribute(x, {"q_lo": z[:, 0], "q_hi": z[:, 1]})
    for i, out in enumerate(("q_lo", "q_hi")):
        assert_allclose(att.expected[out] + att.contributions[out].sum(axis=1), z[:, i], rtol=1e-5, atol=1e-5)
        assert np.abs(att.contributions[out]).max() > 0.05  # the features do move the output


def _cond_expectation(tree: Tree, cover: np.ndarray, x: np.ndarray, known: set[int], node: int = 0) -> float:
    """E[tree(x) | x_S], path-dependent: follow x on known features, cover-weighted otherwise."""
    if tree.is_leaf[node]:
        return float(tree.leaf_value[node])
    a, b = int(tree.left[node]), int(tree.right[node])
    if int(tree.feature[node]) in known:
        return _cond_expectation(
            tree, cover, x, known, a if x[tree.feature[node]] <= tree.threshold[node] else b
        )
    ea, eb = _cond_expectation(tree, cover, x, known, a), _cond_expectation(tree, cover, x, known, b)
    return (cover[a] * ea + cover[b] * eb) / cover[node]


def _brute_force_shapley(ens: Ensemble, covers: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    m = x.size
    value = {
        s: sum(_cond_expectation(t, c, x, set(s)) for t, c in zip(ens.trees, covers, strict=True))
        for r in range(m + 1)
        for s in itertools.combinations(range(m), r)
    }
    phi = np.zeros(m)
    for i in range(m):
        for s, v in value.items():
            if i not in s:
                w = math.factorial(len(s)) * math.factorial(m - len(s) - 1) / math.factorial(m)
                phi[i] += w * (value[tuple(sorted((*s, i)))] - v)
    return phi


def test_treeshap__shap_library__equals_brute_force_shapley_in_numpy(served) -> None:  # type: ignore[no-untyped-def]
    ml, ensembles, shap = served
    covers = load_covers(explain_path(ONNX), ONNX_SHA, ensembles).covers
    x = _rows(3, 3).astype(np.float32).astype(np.float64)
    z = ml.predict(x)
    att = shap.attribute(x, {"q_lo": z[:, 0], "q_hi": z[:, 1]})
    for row in range(3):
        ref = _brute_force_shapley(ensembles["q_lo"], covers["q_lo"], x[row])
        assert_allclose(att.contributions["q_lo"][row], ref, rtol=1e-9, atol=1e-9)


def test_treeshap__outputs_of_another_model__model_error(served) -> None:  # type: ignore[no-untyped-def]
    ml, _, shap = served
    x = _rows(4, 4)
    z = ml.predict(x)
    with pytest.raises(ModelError, match="TreeSHAP of q_hi: expected value \\+ contributions differ"):
        shap.attribute(x, {"q_lo": z[:, 0], "q_hi": z[:, 1] + 0.01})


def _tampered(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    doc = json.loads(explain_path(ONNX).read_bytes())
    edit(doc)
    path = tmp_path / "qgbm_har_v1.explain.json"
    path.write_text(json.dumps(doc))
    return path


def test_covers__bundled_artifact__every_tree_holds_every_training_row() -> None:
    ensembles = read_ensembles(ONNX.read_bytes(), str(ONNX))
    covers = load_covers(explain_path(ONNX), ONNX_SHA, ensembles)
    assert covers.training_rows == MANIFEST.data["training"]["rows_train"] == 3363
    assert all(c[0] == 3363 for out in covers.covers.values() for c in out)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["covers"]["q_lo"][7].__setitem__(1, d["covers"]["q_lo"][7][1] + 1),
            "covers.q_lo\\[7\\] do not fit tree 7",
        ),
        (lambda d: d.__setitem__("onnx_sha256", "00" * 32), "field 'onnx_sha256'"),
        (lambda d: d["covers"].pop("q_hi"), "field 'covers' must have the outputs"),
        (lambda d: d.__setitem__("training_rows", 0), "field 'training_rows' = 0"),
    ],
)
def test_covers__tampered_artifact__model_error_names_the_field(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    ensembles = read_ensembles(ONNX.read_bytes(), str(ONNX))
    with pytest.raises(ModelError, match=message):
        load_covers(_tampered(tmp_path, edit), ONNX_SHA, ensembles)


def test_covers__missing_or_not_json__model_error(tmp_path: Path) -> None:
    ensembles = read_ensembles(ONNX.read_bytes(), str(ONNX))
    with pytest.raises(ModelError, match="is missing"):
        load_covers(tmp_path / "none.explain.json", ONNX_SHA, ensembles)
    (tmp_path / "bad.explain.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot be read"):
        load_covers(tmp_path / "bad.explain.json", ONNX_SHA, ensembles)


def test_read_ensembles__not_onnx__model_error() -> None:
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        read_ensembles(b"\x01\x02garbage", "x.onnx")
