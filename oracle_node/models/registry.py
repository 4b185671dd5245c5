"""Models by name. Statistical models share arch's shape: Model(**params).fit(returns) -> result,
result.forecast() -> Forecast, result.update(new_returns) -> result. ML models are built from a
verified manifest, keyed by the manifest's `kind`. Walk-forward backtests and new models (issue 5)
register here instead of being wired by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from oracle_node.errors import ModelError
from oracle_node.models.ewma import EwmaModel
from oracle_node.models.forecast import Forecast
from oracle_node.models.gjr import GjrGarchT
from oracle_node.models.manifest import MANIFEST_FILE, Manifest
from oracle_node.models.quantile_onnx import OnnxQuantileModel


class FitResult(Protocol):
    def forecast(self, alpha: float = ...) -> Forecast: ...

    def update(self, returns: object) -> FitResult: ...


class ReturnModel(Protocol):
    name: str

    def fit(self, returns: object) -> FitResult: ...


RETURN_MODELS: dict[str, Callable[..., ReturnModel]] = {
    EwmaModel.name: EwmaModel,
    GjrGarchT.name: GjrGarchT,
}
ML_KINDS: dict[str, Callable[[Manifest], Any]] = {
    "onnx_quantile": OnnxQuantileModel,
}


def register_return_model(name: str, factory: Callable[..., ReturnModel]) -> None:
    if name in RETURN_MODELS:
        raise ModelError(f"model {name!r} is already registered")
    RETURN_MODELS[name] = factory


def create_return_model(name: str, **params: Any) -> ReturnModel:
    try:
        factory = RETURN_MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; registered: {sorted(RETURN_MODELS)}") from None
    return factory(**params)


def create_ml_model(manifest: Manifest) -> OnnxQuantileModel:
    kind = manifest.data["kind"]
    try:
        factory = ML_KINDS[kind]
    except KeyError:
        raise ModelError(
            f"model manifest {manifest.directory / MANIFEST_FILE}: field kind = {kind!r}: "
            f"this node serves {sorted(ML_KINDS)}"
        ) from None
    return factory(manifest)
