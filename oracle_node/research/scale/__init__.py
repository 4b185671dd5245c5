"""Scale-out: many markets (x levels, x policies) as tasks on Ray, a local process pool, or one after another.

Modules (import the one you need; importing the package loads nothing heavy, and never Ray):

* `executor`  the executors (`serial`, `local` process pool, `ray`: local or `--ray-address`), each
              with `put` (shared data stored once: Ray's object store) and `run` (tasks, results as
              they finish)
* `markets`   the markets file (YAML or JSON): markets, price files, levels, model settings (pydantic)
* `backtests` the multi-market walk-forward backtest: one task = one market x one level
* `summary`   summary.json and the printed table
* `retrain`   retrain-policy studies of many markets: one task = one market x one candidate policy
* `training`  served-model training of many markets: one task = one market
* `command`   `oracle-node backtest|retrain-policy|train --markets FILE` (the CLI only parses)

Ray is imported by `executor.RayExecutor` only, never by the runtime layers (lint-imports checks it).
"""
