"""One SQLite file per node: WAL journal, full fsync, versioned schema, every write in a transaction.

`Database.write()` is the only way to change the file: it takes SQLite's write lock at once
(`BEGIN IMMEDIATE`), so a read-then-write decision (the next round, the no-equivocation check) cannot
interleave with another writer, and it commits or rolls back as one unit. A process killed at any
point leaves the file at the last committed transaction.

A store another process keeps locked (a second node on the same `store_path`, an open `sqlite3`
shell in a transaction) is waited for `busy_timeout_s`, then refused with one clear error: a
`ConfigError` when opening, a `StoreError` (an OracleNodeError the cycle boundary catches) on a write
or a read; so are a read-only file and a full disk.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oracle_node.errors import ConfigError
from oracle_node.store.errors import StoreError
from oracle_node.store.migrations import MIGRATIONS, Migration

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",  # a signature must survive power loss, not only a process crash
    "PRAGMA foreign_keys=ON",
)
BUSY_TIMEOUT_S = 10.0
_LOCKED_HINT = "is another oracle-node using this store_path, or a sqlite3 shell holding a transaction?"


class Database:
    """A connection to the node's store file, safe to share between the node's threads."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._conn = _connect(self.path, busy_timeout_s)
        try:
            migrate(self._conn, self.path, MIGRATIONS, clock)
        except sqlite3.OperationalError as exc:
            self._conn.close()
            raise ConfigError(f"cannot update the schema ({_why(exc)})", f"store {self.path}") from None
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: commits on success, rolls back on any exception."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._error("write", exc) from None
            try:
                yield self._conn
                self._conn.commit()
            except sqlite3.OperationalError as exc:
                self._conn.rollback()
                raise self._error("write", exc) from None
            except BaseException:
                self._conn.rollback()
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                raise self._error("read", exc) from None

    def _error(self, action: str, exc: sqlite3.OperationalError) -> StoreError:
        return StoreError("file", str(self.path), f"cannot {action} ({_why(exc)})")

    def schema_version(self) -> int:
        return current_version(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _why(exc: sqlite3.Error) -> str:
    text = str(exc)
    return f"{text}: {_LOCKED_HINT}" if "locked" in text or "busy" in text else text


def _connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot open ({exc})", f"store {path}") from None
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        raise ConfigError(f"cannot open ({_why(exc)})", f"store {path}") from None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ConfigError(f"not a usable SQLite database ({exc})", f"store {path}") from None
    return conn


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration], clock: Callable[[], float]
) -> int:
    """Apply every migration newer than the file's version, each in its own transaction."""
    known = max((m.version for m in migrations), default=0)
    version = current_version(conn)
    if version > known:
        raise ConfigError(
            f"schema version {version} is newer than this node understands ({known}); upgrade the node",
            f"store {path}",
        )
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version > version:
            version = _apply(conn, migration, clock)
    return version


def _apply(conn: sqlite3.Connection, migration: Migration, clock: Callable[[], float]) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have applied it since we looked.
        if current_version(conn) < migration.version:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, clock()),
            )
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return migration.version


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]
