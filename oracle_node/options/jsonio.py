"""surface.json: write (atomically: temp file in the same directory, then rename) and read back.

Format (documented in docs/surfaces.md):
{"observed_at": ISO-8601, "source": file name, "fit_ms": ms,
 "surfaces": [{"underlying", "spot", "fit_ms", "arbitrage": {...}, "skipped": [...],
   "expiries": [{"expiry": ISO-8601, "t", "forward", "forward_source", "parity_forward",
                 "parity_gap_bp", "svi": {"a", "b", "rho", "m", "sigma"}, "rmse_vol_pts", "quotes",
                 "inside_spread", "fit_ms", "atm_vol", "min_g", "calendar_gap_next"}]}]}
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from oracle_node.errors import DataError
from oracle_node.options.build import ChainFit, ExpiryResult, UnderlyingFit
from oracle_node.options.surface import Surface, SurfaceSlice
from oracle_node.options.svi import SviParams


def _expiry(e: ExpiryResult) -> dict[str, Any]:
    fwd = e.smile.forward
    return {
        "expiry": e.slice.expiry.isoformat(),
        "t": e.slice.t,
        "forward": e.slice.forward,
        "forward_source": fwd.source,
        "parity_forward": fwd.parity,
        "parity_gap_bp": fwd.parity_gap_bp,
        "svi": e.slice.params.as_dict(),
        "rmse_vol_pts": e.quality.rmse_vol_pts,
        "quotes": e.quality.quotes,
        "inside_spread": e.quality.inside_spread,
        "fit_ms": e.fit_ms,
        "atm_vol": float(e.slice.params.implied_vol(0.0, e.slice.t)),
        "min_g": e.check.min_g,
        "calendar_gap_next": None if e.calendar_next is None else e.calendar_next.min_gap,
    }


def _underlying(u: UnderlyingFit) -> dict[str, Any]:
    return {
        "underlying": u.surface.underlying,
        "spot": u.surface.spot,
        "fit_ms": u.fit_ms,
        "arbitrage": {"k_range": list(u.k_range), "grid_step": 0.001, "violations": u.violations},
        "skipped": list(u.skipped),
        "expiries": [_expiry(e) for e in u.expiries],
    }


def surface_document(fit: ChainFit) -> dict[str, Any]:
    return {
        "observed_at": fit.observed_at.isoformat(),
        "source": Path(fit.path).name,
        "fit_ms": fit.fit_ms,
        "surfaces": [_underlying(u) for u in fit.underlyings],
    }


def write_atomic(path: Path, text: str) -> None:
    """Write text to path via a temp file in the same directory and a rename (old file kept on crash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_surface_json(fit: ChainFit, path: Path) -> None:
    write_atomic(path, json.dumps(surface_document(fit), indent=1) + "\n")


def _slice(path: str, raw: dict[str, Any]) -> SurfaceSlice:
    svi = raw["svi"]
    params = SviParams(*(float(svi[name]) for name in ("a", "b", "rho", "m", "sigma")))
    return SurfaceSlice(datetime.fromisoformat(raw["expiry"]), float(raw["t"]), float(raw["forward"]), params)


def read_surfaces(path: Path) -> list[Surface]:
    """Surfaces from a surface.json written by `write_surface_json`."""
    if not path.is_file():
        raise DataError(str(path), None, None, str(path), "no such file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return [
            Surface(s["underlying"], float(s["spot"]), tuple(_slice(str(path), e) for e in s["expiries"]))
            for s in doc["surfaces"]
        ]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(str(path), None, None, type(exc).__name__, f"not a surface.json ({exc})") from None
