"""What each CLI command does, given a built config (the CLI only parses arguments)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from oracle_node.backtest.ml import MlOptions
from oracle_node.backtest.run import run_backtest
from oracle_node.config import NodeConfig
from oracle_node.errors import OracleNodeError
from oracle_node.logs import get_logger
from oracle_node.models.ml_run import parse_pool, run_train
from oracle_node.reports.keystore import DryRunSigner
from oracle_node.service.daemon import Daemon
from oracle_node.service.feeds import ReplayFeed
from oracle_node.service.health import HealthState, serve
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.network_run import serve_network
from oracle_node.service.node import Node
from oracle_node.service.replay import run_replay
from oracle_node.service.wiring import (
    ChainContext,
    build_network,
    build_node,
    connect,
    load_model,
    load_node_signer,
)

log = get_logger(__name__)


def replay(cfg: NodeConfig, ticks: Path, out: Path) -> int:
    started = time.perf_counter()
    with Progress(
        TextColumn("replay"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} rounds"),
        TimeElapsedColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("replay", total=None)
        summary = run_replay(cfg, ticks, out, progress=lambda i, n: bar.update(task, completed=i, total=n))
    print(
        f"replayed {summary.rounds} rounds, {len(summary.markets)} markets ({', '.join(summary.markets)}): "
        f"{summary.lines} lines -> {out}; would publish {summary.would_publish}, degraded {summary.degraded}, "
        f"skipped rows {summary.skipped_rows}; {time.perf_counter() - started:.1f} s"
    )
    return 0


def once(cfg: NodeConfig, environ: dict[str, str], *, publish: bool) -> int:
    """One cycle per market; without --publish nothing is signed or sent (simulation only)."""
    node, markets = build_node(cfg, environ, publish=publish, wall_start=time.time())
    try:
        for market in markets:
            result = node.cycle(market)
            detail = result.detail.to_json_dict() if result.detail else {}
            print(
                json.dumps(
                    {"market": market, "outcome": result.outcome, "error": result.error, **detail},
                    default=str,
                )
            )
    finally:
        node.feed.close()
        node.store.close()
    return 0


def run(cfg: NodeConfig, environ: dict[str, str]) -> int:
    log.info("node_starting", config=cfg.redacted(), mode="network" if cfg.network else "single")
    if cfg.network is not None:
        return run_network(cfg, environ)
    wall_start = time.time()
    node, markets = build_node(cfg, environ, publish=True, wall_start=wall_start)
    servers = _serve(cfg, node)
    feed = node.feed
    until = (lambda: feed.finished(time.time())) if isinstance(feed, ReplayFeed) else None
    try:
        Daemon(
            node, markets, cfg.service.tick_interval_s, cfg.service.cycle_timeout_s, cfg.model.refit_every_s
        ).run(until)
    finally:
        for server in servers:
            server.shutdown()
        feed.close()
        node.store.close()
    return 0


def run_network(cfg: NodeConfig, environ: dict[str, str]) -> int:
    """One operator of a k-of-n network until SIGTERM (or the replay's end); see service/network_run.py."""
    network, metrics, health = build_network(cfg, environ)
    servers = _serve_endpoints(cfg, health, metrics)
    try:
        return asyncio.run(serve_network(network))
    finally:
        for server in servers:
            server.shutdown()
        for close in network.closers:
            close()
        network.store.close()


def _serve(cfg: NodeConfig, node: Node) -> list[ThreadingHTTPServer]:
    return _serve_endpoints(cfg, node.health, node.metrics)


def _serve_endpoints(cfg: NodeConfig, health: HealthState, metrics: NodeMetrics) -> list[ThreadingHTTPServer]:
    ports = {p for p in (cfg.service.metrics_port, cfg.service.health_port) if p is not None}
    return [serve("127.0.0.1", port, health, metrics.registry) for port in sorted(ports)]


def check(cfg: NodeConfig, environ: dict[str, str]) -> int:
    """Config, keystore, RPC, chain id, on-chain config vs local config, model files: one line each."""
    results: list[tuple[str, bool, str]] = [("config", True, f"{len(cfg.markets)} markets")]
    model = _check(
        results,
        "model files",
        lambda: load_model(cfg),
        lambda m: f"manifest 0x{m.model_hash.hex()[:16]}…, hashes verified",
    )
    signer = _check(
        results,
        "keystore",
        lambda: load_node_signer(cfg, environ),
        lambda s: "dry-run (no keystore)" if s.dry_run else f"signer {s.address}",
    )
    ctx = _check(
        results,
        "rpc + chain id",
        lambda: connect(cfg, signer or DryRunSigner()),
        lambda c: f"chain id {c.w3.eth.chain_id}",
    )
    if ctx is not None:
        for name, ok, text in onchain_checks(ctx, cfg, model, signer):
            results.append((name, ok, text))
    for name, ok, text in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {text}")
    return 0 if all(ok for _, ok, _ in results) else 2


def _check(results: list[tuple[str, bool, str]], name: str, make: Any, describe: Any) -> Any:
    try:
        value = make()
    except OracleNodeError as exc:
        results.append((name, False, str(exc)))
        return None
    results.append((name, True, describe(value)))
    return value


def onchain_checks(
    ctx: ChainContext, cfg: NodeConfig, model: Any, signer: Any
) -> list[tuple[str, bool, str]]:
    out = []
    try:
        code = ctx.w3.eth.get_code(ctx.oracle.address)
        out.append(("oracle contract", len(code) > 0, f"{ctx.oracle.address} has {len(code)} bytes of code"))
        signers = ctx.oracle.get_signers()
        if signer is not None and not signer.dry_run:
            member = signer.address.lower() in {s.lower() for s in signers.signers}
            out.append(
                (
                    "signer set",
                    member,
                    f"epoch {signers.epoch}, k={signers.threshold} of {len(signers.signers)}, this key {'is' if member else 'is NOT'} a signer",
                )
            )
        if cfg.network is not None:
            out.append(_peers_check(cfg, signers.signers, signer))
        if model is not None:
            allowed = ctx.oracle.is_model_allowed(model.model_hash)
            out.append(
                (
                    "model allow-list",
                    allowed,
                    f"0x{model.model_hash.hex()[:16]}… {'allowed' if allowed else 'NOT allow-listed by the DAO'}",
                )
            )
        for m in cfg.markets:
            listed = ctx.oracle.get_market_state(m.id).listed
            out.append((f"market {m.id}", listed, "listed" if listed else "not listed on the oracle"))
        out.append(("oracle paused", not ctx.oracle.paused(), "paused" if ctx.oracle.paused() else "live"))
    except OracleNodeError as exc:
        out.append(("on-chain config", False, str(exc)))
    return out


def _peers_check(cfg: NodeConfig, onchain: Any, signer: Any) -> tuple[str, bool, str]:
    """network.peers must be exactly the on-chain signer set, and this key one of them."""
    assert cfg.network is not None
    configured = {p.address.lower() for p in cfg.network.peers}
    chain = {s.lower() for s in onchain}
    missing, extra = sorted(chain - configured), sorted(configured - chain)
    me = signer is not None and not signer.dry_run and signer.address.lower() in configured
    problems = [f"missing on-chain signers {missing}"] if missing else []
    problems += [f"not on-chain signers {extra}"] if extra else []
    problems += [] if me else ["this key is not among the peers (or no keystore)"]
    text = "; ".join(problems) or f"{len(configured)} peers = the on-chain signer set, this key included"
    return "network peers", not problems, text


def backtest(args: Any) -> int:
    """Walk-forward backtest of the baselines and the ML models (trained before the test period)."""
    ml = None if args.no_ml else MlOptions(args.funding, tuple(parse_pool(p) for p in args.pool))
    with Progress(
        TextColumn("{task.description:12s}"), BarColumn(), TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(), disable=not sys.stderr.isatty(),
    ) as bar:  # fmt: skip
        tasks: dict[str, Any] = {}

        def progress(family: str, done: int, total: int) -> None:
            if family not in tasks:
                tasks[family] = bar.add_task(family, total=total)
            bar.update(tasks[family], completed=done)

        result = run_backtest(
            args.prices, args.asset, args.alpha, args.window, args.test_days, args.refit_every,
            args.out, progress=progress, sims=args.sims, ml=ml,
        )  # fmt: skip
    for name, m in result.metrics.items():
        print(
            f"{name:12s} violations {m['violations']:3d}/{m['expected']:.1f}  kupiec_p {m['kupiec_p']:.3f}  "
            f"cc_p {m['christoffersen_cc_p']:.3f}  {m['traffic_light']:6s}  fz0 {m['fz0']:.4f}  "
            f"mean_var {m['mean_var']:.4f}"
        )
    print(f"wrote {args.out}/metrics.json, forecasts.csv, report.html in {result.wall_seconds:.1f} s")
    return 0


def train(args: Any) -> int:
    """Train the ML models before --test-start and export ONNX files with a manifest."""
    model_hash, manifest = run_train(
        args.prices, args.asset, args.test_start, args.alpha or [0.01, 0.025], args.out,
        funding=args.funding, pool=[parse_pool(p) for p in args.pool],
    )  # fmt: skip
    for key, entry in manifest["by_alpha"].items():
        print(f"{key}: split {json.dumps(entry['split'])}")
        for name, met in entry["metrics"].items():
            oos = met["test_static_conformal"]
            print(f"  {name:5s} VaR multiplier {met['conformal_var_multiplier']:.3f}  "
                  f"test violations {oos['violations']}/{oos['days']}")  # fmt: skip
    print(f"wrote {args.out}/manifest.json  model hash {model_hash}")
    return 0
