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

Then the options phase (oracle_node/demo/options.py), on its own anvil whose clock follows the data:
the 12 bundled Deribit chains in date order are fitted and published as BTC/ETH surfaces through the
same kind of 3-node network, and three 1-BTC option books are margined on them by the options
portfolio margin engine beside a single-volatility model; the report gains the smiles and the margin
path.
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
from oracle_node.demo.options import CHAINS_DIR, OptionsPhase, SnapshotRecord
from oracle_node.demo.options_report import options_section
from oracle_node.demo.options_report import summary_lines as options_summary
from oracle_node.demo.report import summary_lines, write_report
from oracle_node.demo.session import DemoOptions, DemoResult, DemoSession, RoundRecord, hours
from oracle_node.demo.table import add_rows, new_table
from oracle_node.logs import configure_logging

REPO = Path(__file__).resolve().parents[1]


def run(
    options: DemoOptions,
    out: Path,
    every: int = 1,
    workdir: Path | None = None,
    option_chains: int | None = None,
) -> tuple[DemoResult, Path]:
    """`option_chains`: how many bundled chains the options phase publishes (None: all, 0: skip it)."""
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

            def on_dashboard(url: str) -> None:
                console.print(f"dashboard of node0 (live while the network runs): {url}")

            result = asyncio.run(session.run(on_round, on_dashboard))
    console.print()  # Live leaves the cursor after the table's last border when output is not a terminal
    for line in summary_lines(result):
        console.print(line)
    snapshots = run_options(console, workdir, option_chains)
    result.wall_s = time.time() - began
    console.print(f"wall time, both phases: {result.wall_s:.1f} s")
    path = write_report(result, out, section=options_section(snapshots))
    console.print(f"HTML report: {path}")
    return result, path


def run_options(console: Console, workdir: Path | None, chains: int | None) -> list[SnapshotRecord]:
    """The options phase (module docstring), one line per snapshot as it lands."""
    paths = sorted(CHAINS_DIR.glob("*.csv.gz"))[: chains if chains is not None else None]
    if not paths:
        return []
    console.print(f"options phase: {len(paths)} Deribit chains, data time, 3 nodes (k = 2)")

    def show(r: SnapshotRecord) -> None:
        day = time.strftime("%Y-%m-%d", time.gmtime(r.observed_at))
        if not r.landed:
            console.print(f"  {day}: NOT published")
            return
        books = "; ".join(f"{n} IM {v[0]:,.0f} (single vol {v[2]:,.0f})" for n, v in r.margins.items())
        console.print(f"  {day}: round {r.round} by {r.leader}, {r.gas_used:,} gas, BTC {r.spot:,.0f}, "
                      f"ATM {100 * r.atm_vol:.1f} %; {books}")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="mlra-demo-options-") as tmp:
        records = OptionsPhase(workdir or Path(tmp), chains=paths).run(show)
    for line in options_summary(records):
        console.print(line)
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--start", default=DemoOptions.start, help="first data hour, UTC (2020-03-10T12)")
    p.add_argument("--end", default=DemoOptions.end, help="last data hour, UTC")
    p.add_argument("--period", type=float, default=DemoOptions.period_s, help="seconds per round")
    p.add_argument("--every", type=int, default=1, help="show every Nth round (plus every event)")
    p.add_argument("--out", type=Path, default=REPO / "demo-out" / "report.html")
    p.add_argument(
        "--option-chains", type=int, default=None, help="bundled chains in the options phase (0: skip)"
    )
    p.add_argument("--dashboard-port", type=int, default=0, help="node0's dashboard port (0: any free one)")
    p.add_argument("--no-dashboard", action="store_true", help="do not serve node0's dashboard")
    args = p.parse_args(argv)
    configure_logging("ERROR")
    if not 0 <= args.dashboard_port <= 65535:
        p.error(f"--dashboard-port {args.dashboard_port}: must be 0..65535")
    port = None if args.no_dashboard else args.dashboard_port
    run(DemoOptions(start=args.start, end=args.end, period_s=args.period, dashboard_port=port), args.out,
        args.every, option_chains=args.option_chains)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
