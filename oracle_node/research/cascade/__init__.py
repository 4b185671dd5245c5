"""Liquidation-cascade risk (issue 13): data, Hawkes, models, walk-forward, metrics, report."""
