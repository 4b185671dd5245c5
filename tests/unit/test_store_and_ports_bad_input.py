"""Everyday conditions around a node's files and ports: a taken port and a locked store are one clear
OracleNodeError (exit 2 in the CLI), never a traceback or a hang."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from oracle_node.errors import ConfigError
from oracle_node.service.health import HealthState, serve
from oracle_node.store import NodeStore
from oracle_node.store.errors import StoreError

D1 = b"\x01" * 32


@pytest.fixture
def taken_port() -> Iterator[int]:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        yield holder.getsockname()[1]
    finally:
        holder.close()


def test_serve__port_in_use__config_error_naming_port_and_settings(taken_port: int) -> None:
    with pytest.raises(ConfigError) as err:
        serve("127.0.0.1", taken_port, HealthState(60), CollectorRegistry())
    (line,) = err.value.lines()
    assert line.startswith(
        f"port {taken_port}: cannot listen on 127.0.0.1:{taken_port} (Address already in use)"
    )
    assert "service.metrics_port / service.health_port" in line


def _lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_store__write_while_another_process_holds_the_lock__store_error_after_timeout(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    NodeStore.open(path).close()
    holder = _lock(path)
    store = NodeStore.open(path, busy_timeout_s=0.2)
    started = time.monotonic()
    try:
        with pytest.raises(StoreError) as err:
            store.save_report(1, D1, {"round": 1})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert time.monotonic() - started < 5
    assert str(err.value) == (
        f"store file {path}: cannot write (database is locked: is another oracle-node using this "
        "store_path, or a sqlite3 shell holding a transaction?)"
    )
    store.save_report(1, D1, {"round": 1})  # the lock is gone: the same store works again
    assert store.next_round() == 1
    store.close()


def test_store_open__new_file_locked_before_its_schema__config_error(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    holder = _lock(path)
    holder.execute("CREATE TABLE other (x)")
    try:
        with pytest.raises(ConfigError) as err:
            NodeStore.open(path, busy_timeout_s=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert err.value.source == f"store {path}" and "database is locked" in err.value.problems[0]
