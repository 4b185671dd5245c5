"""A read-only web page of a running node (`dashboard:` in the node config; docs/operators.md).

Per market the on-chain params beside what the node wants and signs, with the DAO bounds and how
close each field is to them; the recent rounds (leader, signers, gas, latency, misses); the peers'
health and last observations; the model hash and top attribution drivers; the fitted smiles; drift.
Everything is read from the node's own objects (observer, ChainView, store, metrics) and the
oracle's events: the page holds no state of its own.
"""

from oracle_node.service.dashboard.collect import DashboardSources, StateBuilder
from oracle_node.service.dashboard.server import Dashboard

__all__ = ["Dashboard", "DashboardSources", "StateBuilder"]
