"""Attributor: the attribution record of every market a round publishes (record.py), from the model
that produced its forecast.

Per market: the ML model's observed feature row, the log-return quantiles it served (explain/served.py:
the ensemble's own rows, exact on partial days too), SHAP contributions per output from the method of
the model's kind (`METHODS`: onnx_quantile -> TreeSHAP of the ONNX trees; another kind, e.g. a
gradient method for a served LSTM, registers its own `MlExplainer`), the baseline's forecast and the
ensemble's floor, and per published field which branch set it: "ml" (the ML value was published),
"baseline_floor" ((1 - tolerance) x baseline was), "fallback_baseline" (the ML model did not serve
the market), or "other" (below the floor: the ensemble combined them another way; the record still
carries the numbers). An attribution failure never stops a round: the record then says why
(`ml.error`) and is bound like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from oracle_node.errors import DataError, ModelError
from oracle_node.explain.covers import load_for
from oracle_node.explain.record import FIELDS, SCHEMA, encode, num
from oracle_node.explain.served import Served, evaluate
from oracle_node.explain.treeshap import METHOD, Attribution, TreeShap
from oracle_node.features.build import latest_features
from oracle_node.features.history import MarketHistory
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.forecast import Flag, Forecast
from oracle_node.models.quantile_onnx import OnnxQuantileModel
from oracle_node.models.tails import std_t_quantile


class MlExplainer(Protocol):
    method: str
    library: str
    artifact_sha256: str

    def explain(self, rows: np.ndarray) -> Attribution: ...


class OnnxTreeExplainer:
    """TreeSHAP of an onnx_quantile model; the explain artifact beside its ONNX file."""

    method = METHOD

    def __init__(self, ml: OnnxQuantileModel) -> None:
        self.ml = ml
        ensembles, covers = load_for(ml.manifest)
        self.artifact_sha256 = covers.sha256
        self.shap = TreeShap(ensembles, covers.covers)
        self.library = self.shap.library

    def explain(self, rows: np.ndarray) -> Attribution:
        z = self.ml.predict(rows)
        return self.shap.attribute(rows, dict(zip(self.ml.output_names, z.T, strict=True)))


METHODS: dict[type, Callable[[object], MlExplainer]] = {OnnxQuantileModel: OnnxTreeExplainer}  # type: ignore[dict-item]


def artifact_sha256(model: RiskModel) -> str:
    """The sha256 of the model's explain artifact, checked against the served trees without loading
    shap (`oracle-node check`); ModelError when missing, wrong, or the kind has no method."""
    if not isinstance(model.ml, OnnxQuantileModel):
        raise ModelError(f"no attribution method for {type(model.ml).__name__}")
    return load_for(model.ml.manifest)[1].sha256


class Attributor:
    """Builds attribution records for a RiskModel; the explainer is made once (shap's import: ~2 s)."""

    def __init__(self, model: RiskModel) -> None:
        self.model = model
        self.explainer: MlExplainer | None = None
        self.unavailable: str | None = None
        make = METHODS.get(type(model.ml))
        if make is None:
            self.unavailable = f"no attribution method for {type(model.ml).__name__}"
            return
        try:
            self.explainer = make(model.ml)
        except ModelError as exc:
            self.unavailable = str(exc)

    def records(
        self, histories: Sequence[MarketHistory], published: Mapping[str, Forecast]
    ) -> dict[str, bytes]:
        """{market: canonical record} for each history whose market has a published forecast."""
        hs = [h for h in histories if h.market in published]
        if not hs:
            return {}
        served = [h for h in hs if Flag.FALLBACK_BASELINE not in published[h.market].flags]
        ml_docs = dict(zip([h.market for h in served], self._ml_docs(served), strict=True))
        return {h.market: encode(self._doc(h, published[h.market], ml_docs.get(h.market))) for h in hs}

    def _ml_docs(self, hs: Sequence[MarketHistory]) -> list[dict[str, object]]:
        ml = self.model.ml
        if not isinstance(ml, OnnxQuantileModel):  # another kind without a method: say so, bind anyway
            return [{"method": None, "error": self.unavailable, "outputs": None} for _ in hs]
        if not hs:
            return []
        names = (*ml.features, ml.scale_feature)
        observed = np.array([latest_features(h).last_row(names) for h in hs], dtype=np.float64)
        evals = evaluate(ml, hs, observed)
        base = {"method": getattr(self.explainer, "method", None), "error": self.unavailable}
        att = None
        if self.explainer is not None:
            base |= {"library": self.explainer.library, "explain_sha256": self.explainer.artifact_sha256}
            try:
                att = self.explainer.explain(np.vstack([e.rows[: e.head, :-1] for e in evals]))
            except (ModelError, DataError) as exc:
                base["error"] = str(exc)
        x32 = observed[:, :-1].astype(np.float32).astype(np.float64)
        docs, at = [], 0
        for i, e in enumerate(evals):
            doc = dict(base)
            doc["features"] = {n: num(float(v)) for n, v in zip(ml.features, x32[i], strict=True)}
            doc["scale"] = {ml.scale_feature: num(float(observed[i, -1]))}
            doc["rows"], doc["elapsed"] = len(e.rows), num(e.w)
            doc["anchor_factor"] = dict(zip(ml.output_names, map(num, e.factor.tolist()), strict=True))
            doc["outputs"] = None if att is None else self._outputs(att, e, slice(at, at + e.head))
            at += e.head
            docs.append(doc)
        return docs

    def _outputs(self, att: Attribution, e: Served, rows: slice) -> dict[str, object]:
        """Per served log-return quantile and for sigma_1d: expected + contributions = value, exactly."""
        names, (lo, hi) = self.model.ml.features, self.model.ml.output_names
        parts = {}
        for k, o in enumerate((lo, hi)):
            parts[o] = (*e.split(k, att.expected[o], att.contributions[o][rows]), float(e.q[k]))
        div = 2.0 * abs(std_t_quantile(self.model.ml.alpha, self.model.ml.nu))  # as OnnxQuantileModel
        (e_lo, c_lo, v_lo), (e_hi, c_hi, v_hi) = parts[lo], parts[hi]
        parts["sigma_1d"] = ((e_hi - e_lo) / div, (c_hi - c_lo) / div, (v_hi - v_lo) / div)  # linear in q
        return {o: _output(names, ev, v, c) for o, (ev, c, v) in parts.items()}

    def _doc(
        self, h: MarketHistory, published: Forecast, ml_doc: dict[str, object] | None
    ) -> dict[str, object]:
        base = self.model.baseline.forecast(h)
        tol = self.model.tolerance
        fallback = ml_doc is None
        fields = {f: _field(f, published, base, tol, fallback) for f in FIELDS}
        branches = {v["branch"] for v in fields.values()}
        if ml_doc is not None:
            ml_doc["explains_published"] = _explains(ml_doc, published, fields["sigma_1d"]["branch"])
        return {
            "schema": SCHEMA,
            "market": h.market,
            "ts": int(h.ts[-1]),
            "model": self.model.manifest.model,
            "model_hash": self.model.manifest.hash_hex,
            "tolerance": num(tol),
            "baseline": base.model,
            "branch": branches.pop() if len(branches) == 1 else "mixed",
            "fields": fields,
            "flags": sorted(published.flags),
            "ml": ml_doc,
        }


def _explains(ml_doc: dict[str, object], published: Forecast, sigma_branch: object) -> bool | None:
    """Whether the attributed sigma_1d is the published one (when the ML branch set it): False would
    mean the ensemble served something explain/served.py does not reproduce (its rule changed)."""
    outputs = ml_doc.get("outputs")
    if not isinstance(outputs, dict) or sigma_branch != "ml":
        return None
    value = float(outputs["sigma_1d"]["value"])
    return abs(value - published.sigma_1d) <= 1e-8 * published.sigma_1d


def _field(name: str, published: Forecast, base: Forecast, tol: float, fallback: bool) -> dict[str, object]:
    """published = max(ML, floor): equal to the floor, the floor set it; above it, the ML model did."""
    value, b = getattr(published, name), getattr(base, name)
    floor = (1.0 - tol) * b
    if fallback:
        branch = "fallback_baseline"
    elif value == floor:
        branch = "baseline_floor"
    elif value > floor:
        branch = "ml"
    else:
        branch = "other"
    return {
        "published": num(value),
        "baseline": num(b),
        "floor": num(floor),
        "branch": branch,
    }


def _output(names: Sequence[str], expected: float, value: float, phi: np.ndarray) -> dict[str, object]:
    return {
        "expected": num(expected),
        "value": num(value),
        "contributions": {n: num(float(p)) for n, p in zip(names, phi, strict=True)},
    }
