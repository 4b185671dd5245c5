"""Implied-volatility surfaces from Deribit option chains (inference side: no backtest/demo/service imports).

chain -> forward -> market smile (Black-76 mid IVs) -> SVI fit per expiry (fit, qp) with static
no-arbitrage enforced (calendar) and checked (arbitrage) -> surface (interpolation, Greeks) ->
surface.json / surface.html. See docs/surfaces.md.
"""
