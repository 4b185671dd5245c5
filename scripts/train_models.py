"""Regenerate the bundled ML model artifacts (ONNX + manifest.json) from the real data.

    .venv/bin/python scripts/train_models.py --data ../shared/data [--out oracle_node/models/artifacts]
    .venv/bin/python scripts/train_models.py --test-start 2020-03-01 --out oracle_node/models/artifacts/demo_cut_2020_03_01

BTC daily (2015-2026) and ETH hourly (2017-2021, as daily closes) from the shared data set, trained
before the documented test start (oracle_node/research/training/train.py) through the same function
as `oracle-node train` (train_run.train_served_model: one writer, one manifest schema). ONNX is
verified against scikit-learn, the written model is loaded back as the node loads it, and the in- and
out-of-sample coverage of the 1 % and 99 % quantiles is printed. `--test-start 2020-03-01` trains the
same recipe on the days before the March 2020 crash: the model `make demo` replays that crash with
(out of sample; the served model's cut is 2021-01-01). Regenerating changes the bundled
model hash (a new model): deploy/local.yaml allow-lists it by path, the docs quote it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oracle_node.errors import OracleNodeError
from oracle_node.models.manifest import manifest_hash
from oracle_node.research.training.train import TEST_START, artifact_dir_default
from oracle_node.research.training.train_run import format_report, run_training


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    parser.add_argument("--out", type=Path, default=artifact_dir_default())
    parser.add_argument("--test-start", default=TEST_START, help="first out-of-sample day (YYYY-MM-DD)")
    parser.add_argument("--no-walk-forward", action="store_true", help="skip the out-of-sample ensemble run")
    args = parser.parse_args(argv)
    try:
        data = run_training(args.data, args.out, walk=not args.no_walk_forward, test_start=args.test_start)
    except OracleNodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_report(data))
    print(f"wrote {args.out}  model hash 0x{manifest_hash(data).hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
