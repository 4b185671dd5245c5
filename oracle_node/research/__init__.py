"""Offline work for quants: walk-forward backtests, training, ONNX export and their reports.

The node's runtime (service, network, chain, guard, risk, models, sources, store, reports, features,
drift, options) never imports this package (import-linter contract in pyproject.toml); only the CLI's
`backtest` and `train` commands and the scripts do.
"""
