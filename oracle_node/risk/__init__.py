"""Risk parameters in the contract's units: VaR/ES, scenario-grid margins, liquidation threshold, score."""
