"""Features computed from guarded market data: returns, realised volatility, HAR, funding, depth."""
