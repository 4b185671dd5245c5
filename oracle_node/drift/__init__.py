"""Concept-drift monitors for the risk models: feature drift against the training distribution
(population stability index) and the realised coverage of the published VaR; together they raise a
flag and a retrain trigger (`monitor.DriftMonitor`).

* `psi`       population stability index (quantile bins of the reference) and its one-sided tail form
* `coverage`  rolling VaR coverage: breaches in the last n days against the binomial(n, alpha) law
* `monitor`   the combined daily verdict and the scan over a history
"""
