"""`python -m oracle_node.research...` entry points: bad input is one line and exit 2, as in the CLI."""

from __future__ import annotations

import sys
from collections.abc import Callable

from oracle_node.errors import OracleNodeError

EXIT_ERROR = 2


def run_script(name: str, main: Callable[[], object]) -> int:
    """Run `main`; an OracleNodeError (a file, field or value the input got wrong) becomes
    `<name>: error: <message>` on stderr and exit 2, without a traceback."""
    try:
        main()
    except OracleNodeError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0
