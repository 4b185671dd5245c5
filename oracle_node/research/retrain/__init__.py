"""Retrain policies for the ML VaR model, measured walk-forward (issue 12, item 6).

* `policy`    the three policies (never, schedule, drift) and the day-by-day walk that applies one
* `evaluate`  breaches, Kupiec, Christoffersen, FZ0, Diebold-Mariano against `never`, per calendar year
* `run`       choose N and the drift gap on the validation span, run all three, write metrics.json
              and report.md, and name the recommended default (`oracle-node retrain-policy`)
"""
