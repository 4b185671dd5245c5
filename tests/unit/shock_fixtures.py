"""Small synthetic histories for the vol-shock tests (fast; the real data is used where it matters)."""

from __future__ import annotations

import numpy as np

from oracle_node.options.shock_features import ShockInputs
from oracle_node.research.shocks.models import Candidate

FIRST_DAY = 19_000  # 2022-01-08


def synthetic_inputs(n: int = 420, seed: int = 0) -> ShockInputs:
    """DVOL as a log AR(1) with clustered shocks, BTC closes at that vol, small funding; n days each."""
    rng = np.random.default_rng(seed)
    log_v, s2 = np.empty(n), 0.04**2
    log_v[0] = np.log(0.55)
    for i in range(1, n):
        s2 = 0.85 * s2 + 0.1 * (log_v[i - 1] - (log_v[i - 2] if i > 1 else log_v[0])) ** 2 + 1e-4
        z = rng.standard_t(5) / np.sqrt(5.0 / 3.0)  # unit variance: persistence 0.95
        log_v[i] = log_v[i - 1] + 0.05 * (np.log(0.55) - log_v[i - 1]) + np.sqrt(s2) * z
    dvol = np.exp(log_v)
    ret = dvol / np.sqrt(365.0) * rng.standard_normal(n)
    close = 30_000.0 * np.exp(np.cumsum(ret))
    funding = 1e-4 + 5e-5 * rng.standard_normal(n)
    day = np.arange(FIRST_DAY, FIRST_DAY + n)
    return ShockInputs(day, dvol, day, close, day, funding)


LS = Candidate("ls_test", "ls", ("log_vov", "abs_ret_z", "wd_5", "wd_6"), ("dvol_chg_1d", "wd_6"), 0.01)
QR = Candidate("qr_test", "qr", ("log_vov", "log_dvol"), (), 1e-3)
