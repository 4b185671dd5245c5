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

from oracle_node.chain.surface_oracle import VolSurfaceOracle
from oracle_node.chain.view import ChainView
from oracle_node.config import NodeConfig
from oracle_node.errors import ConfigError, DataError, OracleNodeError
from oracle_node.explain.attribute import artifact_sha256
from oracle_node.explain.show import explain_lines
from oracle_node.logs import get_logger, scrub_text
from oracle_node.network.errors import NothingDue
from oracle_node.network.leader import LeadOutcome
from oracle_node.network.recovery import resume_pending
from oracle_node.reports.keystore import DryRunSigner
from oracle_node.service.health import HealthState, serve
from oracle_node.service.heap import freeze_startup_heap
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.network_run import serve_network
from oracle_node.service.observer import ChainBounds, LiveObserver, PipelineObserver
from oracle_node.service.pipeline import MarketOutcome
from oracle_node.service.replay import run_replay
from oracle_node.service.surfaces import surface_model_hash
from oracle_node.service.wiring import (
    ChainContext,
    build_network,
    connect,
    load_model,
    load_node_signer,
    observer_and_settings,
)
from oracle_node.store import NodeStore
from oracle_node.types import RISK_FIELDS

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
    """One round now, one JSON line per market. Without --publish nothing is signed or sent (the
    observation the node would make, fitted into the chain's bounds); with --publish a single operator
    signs and submits it. Exit 2 when no market could be computed or nothing landed."""
    if publish:
        return asyncio.run(_once_published(cfg, environ))
    ctx = connect(cfg, load_node_signer(cfg, environ))
    observer, markets, _, _ = observer_and_settings(cfg, ctx, time.time())
    observer.bounds = ChainBounds(ChainView(ctx.oracle, tuple(markets)))
    first = observer.schedule.first_round
    try:
        observer.observe(first, int(time.time()))
    except NothingDue:
        pass
    finally:
        if isinstance(observer, LiveObserver) and observer.feed is not None:
            observer.feed.close()
    return _print_round(observer, first, None)


async def _once_published(cfg: NodeConfig, environ: dict[str, str]) -> int:
    if cfg.network is not None:
        raise ConfigError("once --publish runs a single operator; a network operator publishes with `run`")
    run, _, _ = build_network(cfg, environ)
    led: list[LeadOutcome] = []
    record = run.node.on_outcome
    run.node.on_outcome = lambda o: (led.append(o), record(o) if record else None)  # type: ignore[func-returns-value]
    try:
        await asyncio.to_thread(resume_pending, run.store, run.watcher.chain)
        await run.node.start(join_current=True)
        await run.node.run(last_round=run.node.book.first_round)
    finally:
        await run.node.stop()
        for close in run.closers:
            close()
        run.store.close()
    return _print_round(run.observer, run.node.book.first_round, led[-1] if led else None)


def _print_round(observer: PipelineObserver, round_: int, led: LeadOutcome | None) -> int:
    seen = observer.rounds.get(round_)
    outcomes = seen.outcomes if seen is not None else {}
    for market, out in outcomes.items():
        signed = seen.signed.get(market) if seen is not None else None
        status = _market_status(out, signed is not None, led)
        line = {
            "market": market,
            "round": round_,
            "outcome": status,
            "error": out.error,
            **out.to_json_dict(),
        }
        if signed is not None:
            line["signed"] = dict(zip(RISK_FIELDS, signed.as_tuple(), strict=True))
        print(scrub_text(json.dumps(line, default=str)))
    if led is not None:
        lead = {"round": round_, "lead": led.status, "tx_hash": led.tx_hash, "detail": led.detail}
        print(scrub_text(json.dumps(lead)))
    if not any(o.risk is not None for o in outcomes.values()):
        raise OracleNodeError(f"round {round_}: no market produced parameters (see the lines above)")
    if led is not None and led.status not in ("included", "nothing_due"):
        raise OracleNodeError(f"round {round_}: nothing landed ({led.status}: {led.detail[:200]})")
    return 0


def _market_status(out: MarketOutcome, signed: bool, led: LeadOutcome | None) -> str:
    if out.guard.degraded:
        return "degraded"
    if out.risk is None:
        return "failed"
    if not signed:
        return "skipped"
    if led is None:
        return "dry_run"
    return "published" if led.status == "included" else "failed"


def explain(cfg: NodeConfig, market: str, round_: int | None, top: int) -> int:
    """The attribution record this node stored for `market` in `round_` (default: its latest): which
    branch set each published field and the top drivers, and whether the record is the one the
    round's inputsHash commits to. A missing store, market or round is one error line, exit 2."""
    path = cfg.service.store_path
    if not path.is_file():
        raise ConfigError(
            f"service.store_path = {path}: no node store there (has the node run with this config?)"
        )
    with NodeStore.open(path) as store:
        rounds = store.attribution_rounds(market)
        if not rounds:
            raise DataError(str(path), None, "market", market, "no attribution record for this market")
        round_ = rounds[-1] if round_ is None else round_
        row, bound = store.attribution(round_, market), store.bound_inputs(round_)
    if row is None:
        near = ", ".join(str(r) for r in rounds[-5:])
        raise DataError(
            str(path), None, "round", round_, f"no {market} record in this round (latest: {near})"
        )
    document, inputs_hash = (bound.document, bound.inputs_hash) if bound else (None, None)
    for line in explain_lines(round_, row.record, row.record_hash, document, inputs_hash, top):
        print(line)
    return 0


def run(cfg: NodeConfig, environ: dict[str, str]) -> int:
    """The node until SIGTERM (or the replay's end): one runtime for a single operator (k = 1) and for
    one operator of a k-of-n network; see service/network_run.py."""
    log.info("node_starting", config=cfg.redacted(), mode="network" if cfg.network else "single")
    network, metrics, health = build_network(cfg, environ)
    log.info("startup_heap_frozen", objects=freeze_startup_heap())
    servers = _serve_endpoints(cfg, health, metrics)
    try:
        return asyncio.run(serve_network(network))
    finally:
        for server in servers:
            server.shutdown()
        for close in network.closers:
            close()
        network.store.close()


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
    if model is not None:
        _check(results, "explain artifact", lambda: artifact_sha256(model),
               lambda sha: f"tree covers verified (sha256 {sha[:16]}…): reports carry TreeSHAP attributions")  # fmt: skip
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
        print(scrub_text(f"{'ok  ' if ok else 'FAIL'} {name}: {text}"))
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
        if cfg.surfaces is not None:
            out += _surface_checks(ctx, cfg)
    except OracleNodeError as exc:
        out.append(("on-chain config", False, str(exc)))
    return out


def _surface_checks(ctx: ChainContext, cfg: NodeConfig) -> list[tuple[str, bool, str]]:
    """`surfaces:`: the VolSurfaceOracle exists, shares this RiskOracle, lists every currency, and the
    surface model is allow-listed."""
    assert cfg.surfaces is not None
    address = cfg.surfaces.oracle_address
    code = ctx.w3.eth.get_code(address)
    if not code:
        return [("surface oracle", False, f"{address} has no code")]
    surface = VolSurfaceOracle(ctx.w3, address)
    shared = surface.risk_oracle().lower() == ctx.oracle.address.lower()
    out = [
        (
            "surface oracle",
            shared,
            f"{address}, " + ("shares this RiskOracle" if shared else "serves ANOTHER RiskOracle"),
        )
    ]
    listed = {u.rstrip(b"\x00").decode("ascii", "replace") for u in surface.underlyings()}
    for currency in cfg.surfaces.currencies:
        ok = currency in listed
        out.append((f"surface {currency}", ok, "listed" if ok else "not listed on the surface oracle"))
    allowed = ctx.oracle.is_model_allowed(surface_model_hash())
    out.append(("surface model allow-list", allowed, "allowed" if allowed else "NOT allow-listed by the DAO"))
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
