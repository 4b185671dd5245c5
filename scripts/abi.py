"""`make abi`: refresh the contract ABIs + bytecode shipped in the package from forge's out/.

    python -m scripts.abi [--out-dir out] [--dest oracle_node/chain/abi]

Writes oracle_node/chain/abi/<Name>.json for every contract of the node's stack (`STACK` in
oracle_node/chain/contracts.py): ABI, creation and runtime bytecode only. Commit the result;
tests/unit/test_abi_package.py fails while the committed files differ from `forge build`'s output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oracle_node.chain.artifacts import DEFAULT_OUT_DIR, PACKAGE_ABI_DIR, export_artifacts
from oracle_node.chain.contracts import STACK
from oracle_node.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.abi", description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="forge's output directory")
    p.add_argument("--dest", type=Path, default=PACKAGE_ABI_DIR, help="the package's ABI directory")
    args = p.parse_args(argv)
    try:
        written = export_artifacts(STACK, args.out_dir, args.dest)
    except ConfigError as exc:
        print(f"abi: error: {exc}", file=sys.stderr)
        return 2
    print(f"abi: {len(written)} artifacts -> {args.dest}: {', '.join(p.stem for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
