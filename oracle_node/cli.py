"""`oracle-node`: entry points are a dozen lines that build objects and call `run`.

Every expected failure is an OracleNodeError and ends as one clear line on stderr with exit code 2
(secrets scrubbed: every configured URL is registered before anything can fail with it in a message);
nothing below this module reads the environment (it is passed down where needed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from oracle_node.atomic import refuse_overwrite
from oracle_node.config import NodeConfig, load_config
from oracle_node.errors import ConfigError, DataError, OracleNodeError
from oracle_node.logs import configure_logging, register_secret_url, scrub_text

EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oracle-node", description="MLRA risk oracle node")
    sub = p.add_subparsers(dest="command", required=True)
    rp = sub.add_parser(
        "replay", help="run the pipeline over a tick CSV offline, one JSON line per (tick, market)"
    )
    rp.add_argument("--ticks", type=Path, required=True, help="multi-source tick CSV (see README)")
    rp.add_argument("--config", type=Path, required=True)
    rp.add_argument("--out", type=Path, required=True, help="output JSONL")
    for name, text in (("run", "run the daemon"), ("once", "run one cycle (dry-run unless --publish)")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--config", type=Path, required=True)
        if name == "once":
            sp.add_argument("--publish", action="store_true", help="sign and submit (default: dry-run)")
    ck = sub.add_parser(
        "check", help="check config, keystore, RPC, chain id, on-chain config and model files"
    )
    ck.add_argument("--config", type=Path, required=True)
    ex = sub.add_parser("explain", help="a published market's top drivers in a round, from the node's store")
    ex.add_argument("--config", type=Path, required=True)
    ex.add_argument("--market", required=True)
    ex.add_argument("--round", type=int, help="observation round (default: the market's latest)")
    ex.add_argument("--top", type=_positive, default=5, help="drivers per output (default 5)")
    _add_model_commands(sub)
    _add_retrain_command(sub)
    _add_option_commands(sub)
    _add_shock_commands(sub)
    _add_cascade_commands(sub)
    _add_stability_command(sub)
    _add_scale_options(sub.choices["backtest"])
    return p


def _add_scale_options(bt: argparse.ArgumentParser) -> None:
    """`backtest --markets FILE`: many markets x levels as tasks (research.scale, docs/scale.md)."""
    bt.add_argument("--markets", type=Path, help="YAML/JSON markets file (instead of --prices/--asset)")
    bt.add_argument(
        "--executor", choices=("ray", "local", "serial"), help="with --markets: where tasks run (default ray)"
    )
    bt.add_argument(
        "--ray-address", help="with --markets: join this Ray cluster (HOST:PORT, ray://HOST:PORT, auto)"
    )
    bt.add_argument(
        "--cores", type=_positive, help="with --markets: CPUs of the local Ray or pool (default: all)"
    )


# flags of one market, refused with --markets: the markets file sets these itself
_ONE_MARKET_FLAGS = {
    "backtest": ("prices", "asset", "funding", "pool", "ml_retrain_every", "lstm", "served"),
    "retrain-policy": ("prices", "asset", "funding", "alpha", "start", "valid_end"),
    "train": ("prices", "asset", "pool", "test_start"),
}


def _is_markets_run(args: argparse.Namespace) -> bool:
    """backtest and retrain-policy take either --markets or --prices with --asset; the scale flags
    need --markets."""
    if args.markets is not None:
        given = [
            "--" + k.replace("_", "-")
            for k in _ONE_MARKET_FLAGS[args.command]
            if getattr(args, k, None) not in (None, [], False)  # --pool: a list; --lstm: False when not given
        ]
        if given:
            raise ConfigError(f"--markets runs the markets of its file: drop {' and '.join(given)}")
        args.executor = args.executor or "ray"
        return True
    if args.prices is None or args.asset is None or getattr(args, "test_start", "") is None:
        flags = "--prices, --asset and --test-start" if args.command == "train" else "--prices and --asset"
        raise ConfigError(f"give {flags} (one market) or --markets FILE (many)")
    scale = [f for f, v in (("--executor", args.executor), ("--ray-address", args.ray_address),
                            ("--cores", args.cores)) if v is not None]  # fmt: skip
    if scale:
        raise ConfigError(f"{', '.join(scale)} apply to --markets runs only")
    if getattr(args, "ml_retrain_every", 0) is None:  # its default lives with the ML family
        from oracle_node.research.backtest.ml import DEFAULT_RETRAIN_EVERY  # noqa: PLC0415 - offline code

        args.ml_retrain_every = DEFAULT_RETRAIN_EVERY
    return False


def _add_stability_command(sub: argparse._SubParsersAction) -> None:
    """research.stability: does IM jump on noise? (docs/stability.md)"""
    st = sub.add_parser("stability", help="replay hourly prices: IM flips on calm moves, crash lag")
    st.add_argument("--prices", type=Path, required=True, help="hourly OHLCV export (Binance columns)")
    st.add_argument("--from", dest="start", required=True, help="first UTC hour: 2020-03-09, 2020-03-10T12")
    st.add_argument("--to", dest="end", required=True, help="end UTC hour (exclusive)")
    st.add_argument("--market", default="BTC-USD", help="market id of the rounds")
    st.add_argument("--out", type=Path, required=True, help="directory: metrics.json, rounds_<market>.csv")


def _add_cascade_commands(sub: argparse._SubParsersAction) -> None:
    """Liquidation-cascade research (research.cascade, docs/cascade.md)."""
    cp = sub.add_parser("cascade", help="liquidation-cascade forecasts (research)")
    csub = cp.add_subparsers(dest="cascade_command", required=True)
    bt = csub.add_parser(
        "backtest", help="walk-forward backtest: climatology, Hawkes and ML forecasts of 24-h liquidations"
    )
    bt.add_argument("--liquidations", type=Path, required=True, help="Aave V2 LiquidationCall research CSV")
    bt.add_argument("--prices", type=Path, required=True, help="BTC daily close CSV (date,price[,volume])")
    bt.add_argument("--funding", type=Path, help="BTC perp funding daily CSV (date,funding_mean,funding_abs)")
    bt.add_argument("--val-start", default="2021-03-15", help="first validation day (default 2021-03-15)")
    bt.add_argument("--test-start", default="2021-05-01", help="first out-of-sample day (default 2021-05-01)")
    bt.add_argument("--end", help="last forecast day (default: the last day the file covers)")
    bt.add_argument("--refit-every", type=int, default=14, help="days between refits (default 14)")
    bt.add_argument(
        "--out", type=Path, required=True, help="directory for metrics.json, forecasts.csv, report.html"
    )
    _add_cascade_addon_commands(csub)


def _add_cascade_addon_commands(sub: argparse._SubParsersAction) -> None:
    """The LT add-on: its artifact and an hour-by-hour replay (research.cascade.addon_commands)."""
    fit = sub.add_parser("fit-addon", help="fit the cascade add-on artifact on data before --cut")
    rp = sub.add_parser("replay", help="replay hourly prices through the node: LT with the cascade add-on")
    for p in (fit, rp):
        p.add_argument(
            "--liquidations", type=Path, required=True, help="Aave V2 LiquidationCall research CSV"
        )
        p.add_argument(
            "--eth-prices", type=Path, required=True, help="ETH hourly OHLCV export (Binance columns)"
        )
        p.add_argument(
            "--btc-prices", type=Path, required=True, help="BTC hourly OHLCV export (Binance columns)"
        )
        p.add_argument("--out", type=Path, required=True, help="output directory")
    fit.add_argument("--val-start", default="2021-03-15", help="first validation day (default 2021-03-15)")
    fit.add_argument(
        "--cut", default="2021-05-01", help="nothing from this day on is read (default 2021-05-01)"
    )
    fit.add_argument("--artifact", type=Path, required=True, help="artifact JSON to write")
    rp.add_argument("--from", dest="start", required=True, help="first UTC day, YYYY-MM-DD")
    rp.add_argument("--to", dest="end", required=True, help="end UTC day (exclusive), YYYY-MM-DD")
    rp.add_argument("--no-feed", action="store_true", help="no liquidation feed: the price-only fallback")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _add_shock_commands(sub: argparse._SubParsersAction) -> None:
    """ML vol shocks (research.shocks; options/shocks.py serves them). Data defaults: the bundled copies."""
    bt = sub.add_parser("shock-backtest", help="walk-forward backtest of the ML vol shocks vs baselines")
    tr = sub.add_parser("shock-train", help="fit the served vol-shock model: artifact + manifest")
    for sp, out in ((bt, Path("shock-backtest-out")), (tr, None)):
        for flag, what in (("--dvol", "Deribit DVOL daily JSON"), ("--prices", "BTC daily close CSV"),
                           ("--funding", "BTC perp funding daily CSV")):  # fmt: skip
            sp.add_argument(flag, type=Path, help=f"{what} (default: the bundled copy)")
        sp.add_argument("--horizon", type=int, default=1, help="margin period in days (default 1)")
        sp.add_argument("--level", type=float, default=0.99, help="quantile of each side (default 0.99)")
        sp.add_argument("--val-days", type=int, default=365, help="validation days, for the model choice")
        sp.add_argument("--test-days", type=int, default=365, help="out-of-sample days (the last ones)")
        sp.add_argument("--refit-every", type=int, default=30, help="days between walk-forward refits")
        sp.add_argument(
            "--out", type=Path, default=out, help="default: shock-backtest-out / the bundled model"
        )


def _add_option_commands(sub: argparse._SubParsersAction) -> None:
    sf = sub.add_parser("surface", help="fit arbitrage-free SVI implied-vol surfaces to a Deribit chain CSV")
    sf.add_argument("--chain", type=Path, required=True, help="Deribit option-chain snapshot CSV")
    sf.add_argument("--out", type=Path, required=True, help="directory for surface.json and surface.html")
    gk = sub.add_parser("greeks", help="smile-aware Greeks from a fitted surface (chain CSV or surface.json)")
    src = gk.add_mutually_exclusive_group(required=True)
    src.add_argument("--chain", type=Path, help="Deribit option-chain snapshot CSV (fitted first)")
    src.add_argument("--surface", type=Path, help="surface.json written by `oracle-node surface`")
    gk.add_argument("--underlying", help="e.g. BTC (default: all)")
    gk.add_argument("--expiry", help="YYYY-MM-DD or 27MAR26 (default: all)")
    gk.add_argument(
        "--strike", type=float, help="default: every listed strike (chain) or F x 0.8..1.2 (surface)"
    )


def _add_model_commands(sub: argparse._SubParsersAction) -> None:
    bt = sub.add_parser("backtest", help="walk-forward VaR/ES backtest of the baselines and ML models")
    tr = sub.add_parser(
        "train", help="train the served model before --test-start: OUT/ (ONNX + manifest.json) the node loads"
    )
    for sp in (bt, tr):  # --prices and --asset, or --markets (checked in _is_markets_run)
        sp.add_argument("--prices", type=Path, help="price CSV (date/timestamp + close/price)")
        sp.add_argument("--asset")
        sp.add_argument(
            "--pool", action="append", default=[], help="FILE:ASSET[:FUNDING] (train: FILE:ASSET) pooled rows"
        )
        sp.add_argument("--out", type=Path, required=True)
    bt.add_argument("--funding", type=Path, help="daily funding CSV (date,funding_mean) for the ML features")
    bt.add_argument("--alpha", type=float, default=0.01)
    bt.add_argument("--window", type=int, default=1000)
    bt.add_argument("--test-days", type=int, default=800)
    bt.add_argument("--refit-every", type=int, default=1)
    bt.add_argument("--sims", type=int, default=1000, help="draws per day for the Acerbi-Szekely p-value")
    bt.add_argument("--no-ml", action="store_true", help="baselines only")
    bt.add_argument("--no-hybrid", action="store_true", help="without hybrid_gjr (GJR sigma x ML quantile)")
    bt.add_argument("--no-combo", action="store_true", help="without combo (rolling FZ0-optimal weights)")
    # combo defaults (None here): research.backtest.combination.CHOSEN_*, chosen on validation periods
    bt.add_argument("--combo-window", type=int, help="days combo's weights learn on (default 500)")
    bt.add_argument(
        "--combo-lead", type=int, help="days walked before the test (default: window or what fits)"
    )
    bt.add_argument("--combo-shrink", type=float, help="weight of equal weights in combo (default 0)")
    bt.add_argument(
        "--combo-members", help="comma-separated ('': every model; default garch_t,gjr_skewt,fhs,qgbm)"
    )
    bt.add_argument("--hybrid-quantile", type=float, default=0.1, help="level of the second hybrid's GBM")
    bt.add_argument("--end", help="cut the prices after this UTC day (YYYY-MM-DD): a validation run")
    bt.add_argument("--lstm", action="store_true", help="add the LSTM (needs torch: the train extra)")
    bt.add_argument(
        "--served", action="store_true",
        help="add `served`: the node's published model (served recipe + GJR floor), alpha 0.01 only; "
        "retrained every --ml-retrain-every days",
    )  # fmt: skip
    bt.add_argument(
        "--ml-retrain-every",
        type=int,
        help="walked days between retrains of qgbm/mlp inside the walk (0: trained once; default "
        "research.backtest.ml.DEFAULT_RETRAIN_EVERY, chosen on validation: docs/model-quality.md)",
    )
    tr.add_argument("--test-start", help="first out-of-sample day (YYYY-MM-DD)")
    _add_scale_options(tr)  # --markets: one served model per market, one task each (docs/scale.md)
    tr.add_argument(
        "--no-walk-forward",
        action="store_true",
        help="skip the day-by-day out-of-sample run of the ensemble (faster: BTC 2015-26 + ETH 8 s "
        "instead of 36 s; same ONNX file, the manifest has no metrics.<market>.walk_forward)",
    )


def _add_retrain_command(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser(
        "retrain-policy", help="never / schedule / drift retraining of the ML VaR model, walk-forward"
    )
    rp.add_argument("--prices", type=Path, help="daily price CSV (date,price[,volume]); or --markets")
    rp.add_argument("--asset")
    rp.add_argument("--funding", type=Path, help="daily funding CSV (date,funding_mean) for the ML features")
    rp.add_argument("--alpha", type=float, help="VaR level (default 0.01)")
    rp.add_argument("--start", help="first forecast day (YYYY-MM-DD; default 2017-01-01)")
    rp.add_argument(
        "--valid-end", help="last day of the validation span N and gap are chosen on (default 2018-12-31)"
    )
    rp.add_argument("--out", type=Path, required=True)
    _add_scale_options(rp)  # --markets: every market's study, one task per market x policy (docs/scale.md)
    rp.set_defaults(pool=[])


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (
        "backtest",
        "train",
        "surface",
        "greeks",
        "shock-backtest",
        "shock-train",
        "retrain-policy",
        "cascade",
        "stability",
    ):
        return _model_command(args)
    try:
        cfg = load_config(args.config, os.environ)
        _register_secrets(cfg)
        configure_logging(cfg.service.log_level)
        _check_has_work(args, cfg)
        return _dispatch(args, cfg)
    except ConfigError as exc:
        for line in exc.lines():
            _fail(args.command, f"config error: {line}")
        return EXIT_ERROR
    except OracleNodeError as exc:
        _fail(args.command, f"error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _fail(command: str, text: str) -> None:
    print(scrub_text(f"oracle-node {command}: {text}"), file=sys.stderr)


def _register_secrets(cfg: NodeConfig) -> None:
    """The RPC URL, and every venue or peer URL that carries credentials, a path or a query: those
    never reach a log or error line (a bare scheme://host:port stays readable in the logs)."""
    register_secret_url(cfg.chain.rpc_url.get_secret_value())
    urls = [s.api_url for m in cfg.markets for s in m.sources if s.api_url]
    urls += [str(p.url) for p in (cfg.network.peers if cfg.network is not None else ())]
    for url in urls:
        parts = urlsplit(url)
        if parts.username or parts.password or parts.query or parts.path not in ("", "/"):
            register_secret_url(url)


def _check_has_work(args: argparse.Namespace, cfg: NodeConfig) -> None:
    """`run`/`once` with no market and no replay file would do nothing (and create a store): refuse."""
    if args.command in ("run", "once") and not cfg.markets and cfg.service.replay_ticks is None:
        raise ConfigError(
            "no markets: list at least one under 'markets:' (or set service.replay_ticks)", str(args.config)
        )


# The files each model command writes into its --out directory (never one of its inputs).
_OUTPUT_NAMES = {
    "backtest": ("metrics.json", "forecasts.csv", "report.html"),
    "train": ("manifest.json", "qgbm_har_v1.onnx", "qgbm_har_v1.explain.json"),
    "retrain-policy": ("metrics.json", "report.md", "forecasts.csv"),
}


def _refuse_overwrite(args: argparse.Namespace) -> None:
    out = Path(args.out)
    inputs: dict[str, Path | None] = {"--prices": args.prices, "--funding": getattr(args, "funding", None)}
    for spec in args.pool:  # FILE:ASSET[:FUNDING]
        parts = spec.split(":")
        inputs |= {f"--pool {spec}": Path(parts[0])}
        inputs |= {f"--pool {spec} funding": Path(parts[2])} if len(parts) > 2 else {}
    refuse_overwrite([out, *(out / n for n in _OUTPUT_NAMES[args.command])], inputs)
    if out.exists() and not out.is_dir():
        raise DataError(str(out), None, "--out", None, "is a file; --out names the directory to write into")


def _model_command(args: argparse.Namespace) -> int:
    try:
        if args.command in ("backtest", "retrain-policy", "train") and _is_markets_run(args):
            from oracle_node.research.scale.command import markets_command  # noqa: PLC0415 - offline code, as below

            return markets_command(args)
        if args.command in _OUTPUT_NAMES:
            _refuse_overwrite(args)
        if args.command in ("surface", "greeks"):
            from oracle_node.options import commands as option_commands  # noqa: PLC0415 - see _dispatch

            return (
                option_commands.surface(args)
                if args.command == "surface"
                else option_commands.greeks_command(args)
            )
        if args.command.startswith("shock-"):
            from oracle_node.research.shocks import commands as shocks  # noqa: PLC0415 - offline code, as below

            return (
                shocks.shock_backtest(args) if args.command == "shock-backtest" else shocks.shock_train(args)
            )
        if args.command == "stability":
            from oracle_node.research import stability  # noqa: PLC0415 - offline code, as below

            return stability.command(args)
        if args.command == "cascade":
            from oracle_node.research.cascade import addon_commands  # noqa: PLC0415 - offline code, as below
            from oracle_node.research.cascade.commands import cascade_backtest  # noqa: PLC0415 - offline code, as below

            if args.cascade_command == "fit-addon":
                return addon_commands.fit_addon(args)
            if args.cascade_command == "replay":
                return addon_commands.replay(args)
            return cascade_backtest(args)
        if args.command == "retrain-policy":
            from oracle_node.research.retrain.command import retrain_policy  # noqa: PLC0415 - offline code, as below

            return retrain_policy(args)
        from oracle_node.research import commands as research  # noqa: PLC0415 - offline code: loaded only for these commands, never by `run`

        return research.backtest(args) if args.command == "backtest" else research.train(args)
    except OracleNodeError as exc:
        _fail(args.command, f"error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, cfg: NodeConfig) -> int:
    # Imported here, not at the top: the runtime's imports (web3, onnxruntime, arch, shap) cost ~2 s,
    # which `--help`, a mistyped flag and the offline commands need not pay.
    from oracle_node.service import commands  # noqa: PLC0415

    if args.command == "replay":
        return commands.replay(cfg, args.ticks, args.out)
    if args.command == "check":
        return commands.check(cfg, dict(os.environ))
    if args.command == "once":
        return commands.once(cfg, dict(os.environ), publish=args.publish)
    if args.command == "explain":
        return commands.explain(cfg, args.market, args.round, args.top)
    return commands.run(cfg, dict(os.environ))


if __name__ == "__main__":
    sys.exit(main())
