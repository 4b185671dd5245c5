"""`oracle-node retrain-policy`: run the study on a price file and write OUT/ (the CLI only parses)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from oracle_node.research.retrain.policy import PolicyPath
from oracle_node.research.retrain.report import recommendation, write_study
from oracle_node.research.retrain.run import StudyConfig, load_rows, run_study
from oracle_node.research.training.ml_data import data_hashes


def run_info(prices: Path, asset: str, funding: Path | None) -> dict[str, Any]:
    """metrics.json `run`: the inputs and their hashes (also per market of `--markets`)."""
    return {
        "asset": asset, "prices": str(prices), "funding": str(funding) if funding else None,
        "data_sha256": data_hashes({"prices": prices, "funding": funding}),
        "units": "1-day log returns; VaR/ES positive losses; breach when return < -VaR",
    }  # fmt: skip


def retrain_policy(args: Any) -> int:
    given = {k: getattr(args, k) for k in ("alpha", "start", "valid_end") if getattr(args, k) is not None}
    cfg = StudyConfig(**given)  # flags not given: StudyConfig's defaults
    rows = load_rows(args.prices, args.asset, args.funding)

    def progress(label: str, path: PolicyPath) -> None:
        print(f"{label:16s} {len(path.fit_rows):4d} fits  {path.fit_seconds:6.1f} s fitting", file=sys.stderr)

    study = run_study(rows, cfg, progress)
    write_study(args.out, study, run_info(args.prices, args.asset, args.funding))
    for label in study.chosen.values():
        s = study.evaluation[label]
        print(f"{label:16s} breaches {s['breaches']:3d}/{s['expected']:.1f}  kupiec_p {s['kupiec_p']:.3f}  "
              f"cc_p {s['christoffersen_cc_p']:.3f}  fz0 {s['fz0']:.4f}  retrains {s['retrains']}")  # fmt: skip
    print(recommendation(study))
    print(f"wrote {args.out}/metrics.json, report.md, forecasts.csv in {study.wall_seconds:.1f} s")
    return 0
