"""`make demo`: the oracle network (3 nodes, k = 2) on a local chain through the 2020-03-12 crash.

1. starts anvil on a free loopback port and deploys timelock, RiskOracle, adapters and the example
   OptionsMarginEngine (deploy/local.yaml with three operators as signers, k = 2);
2. starts three nodes (each its own key, store, HTTP peer server and transaction sender) whose
   observation providers run the real node pipeline (guard -> model -> risk -> DAO bounds) on the
   bundled real Binance BTC and ETH hours, one data hour per 2 s network round;
3. node2's feed is compromised: a majority of its venues are spiked in the crash window, so its own
   values are poisoned; the leader's median and the followers' tolerance checks keep them out;
4. a trader holds a 1M tUSD BTC position in the margin engine; the table shows its maintenance
   requirement as the oracle moves;
5. prints a summary, writes demo-out/report.html, and stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live

from oracle_node.chain.anvil import Anvil
from oracle_node.demo.report import summary_lines, write_report
from oracle_node.demo.session import DemoOptions, DemoResult, DemoSession, RoundRecord, hours
from oracle_node.demo.table import add_rows, new_table
from oracle_node.logs import configure_logging

REPO = Path(__file__).resolve().parents[1]


def run(
    options: DemoOptions, out: Path, every: int = 1, workdir: Path | None = None
) -> tuple[DemoResult, Path]:
    """Run the demo; node stores go to `workdir` (kept) or a temporary directory (removed)."""
    console = Console(width=None if Console().is_terminal else 200)
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="mlra-demo-") as tmp, Anvil() as anvil:
        session = DemoSession(options, anvil.url, workdir or Path(tmp))
        deployment = session.deploy()
        console.print(
            f"anvil {anvil.url}: RiskOracle {deployment.oracle}, margin engine {deployment.engine}, "
            f"signers {deployment.signers} (k = {deployment.threshold}); "
            f"{hours(options)} hours {options.start}..{options.end} UTC, node{options.manipulated} "
            f"manipulated ({options.attack.describe()})"
        )
        table = new_table("MLRA oracle network: 3 nodes, k = 2, real Binance hours through 2020-03-12")
        with Live(table, console=console, refresh_per_second=4, vertical_overflow="visible"):

            def on_round(record: RoundRecord) -> None:
                if (
                    (record.round % every == 0)
                    or not record.landed
                    or any(record.rejected(m) for m in ("BTC-USD", "ETH-USD"))
                ):
                    add_rows(table, record)

            result = asyncio.run(session.run(on_round))
    result.wall_s = time.time() - began
    console.print()  # Live leaves the cursor after the table's last border when output is not a terminal
    for line in summary_lines(result):
        console.print(line)
    path = write_report(result, out)
    console.print(f"HTML report: {path}")
    return result, path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--start", default=DemoOptions.start, help="first data hour, UTC (2020-03-10T12)")
    p.add_argument("--end", default=DemoOptions.end, help="last data hour, UTC")
    p.add_argument("--period", type=float, default=DemoOptions.period_s, help="seconds per round")
    p.add_argument("--every", type=int, default=1, help="show every Nth round (plus every event)")
    p.add_argument("--out", type=Path, default=REPO / "demo-out" / "report.html")
    args = p.parse_args(argv)
    configure_logging("ERROR")
    run(DemoOptions(start=args.start, end=args.end, period_s=args.period), args.out, args.every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
