"""Walk-forward VaR/ES backtests: baseline models, the standard backtest statistics, outputs.

Modules (import the one you need; importing the package loads nothing heavy):

* `stats`     Kupiec POF, Christoffersen independence / conditional coverage, Basel traffic light,
              pinball and FZ0 losses, Acerbi-Szekely Z2, Diebold-Mariano (HAC + HLN correction)
* `skewt`     Hansen's skewed t (arch's SkewStudent): closed-form quantile, left-tail ES, sampler
* `baselines` historical simulation and EWMA-normal walk-forward models
* `garch`     GARCH(1,1)-t, GJR-GARCH(1,1) skew-t and filtered historical simulation (arch, warm-started)
* `engine`    the walk-forward loop (no look-ahead by construction), optionally in 2 processes
* `metrics`   per-model metrics dict (the metrics.json schema)
* `margin`    margin efficiency: model-scaled margin vs a fixed-percentage margin at the same breach rate
* `prices`    price CSV -> daily closes (the replay readers, plus a generic date/timestamp + close file)
* `report`    the HTML report with matplotlib charts inlined as PNG
* `run`       `run_backtest(...)`: load, walk forward, score, write metrics.json / forecasts.csv / report.html

Units everywhere in this package: daily log returns as fractions; VaR and ES are positive numbers, the
loss in log-return terms (a day is a VaR breach when its return r < -VaR).
"""
