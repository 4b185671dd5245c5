"""Executors: run many independent tasks (seconds each) one after another, in a local process pool, or
as Ray tasks on a local Ray or an existing cluster.

Every executor has the same three calls:

* `put(value)` stores data several tasks share ONCE and returns a handle to pass as a task argument
  (Ray: `ray.put`, the object store; workers map numpy arrays zero-copy, read-only. Local pool: the
  value is inherited by the forked workers; serial: the value itself). A task receives the value.
* `run(fn, calls)` runs `fn(*args)` for every args tuple (handles among them) and yields
  `(index, result)` as tasks finish. `fn` must be a module-level function (it is sent by reference).
* `close()` (or `with`): a Ray started here is shut down with its processes; a joined cluster is
  only disconnected from.

`RayExecutor` imports Ray when it is built, never at import time; `--ray-address` is checked with a
plain TCP connect first (Ray itself would retry a dead address for minutes, printing C++ warnings).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from oracle_node.errors import ConfigError

ExecutorKind = Literal["ray", "local", "serial"]
EXECUTORS: tuple[ExecutorKind, ...] = ("ray", "local", "serial")
CONNECT_TIMEOUT_S = 5.0
RAY_QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage-stats prompt or upload
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",  # no FutureWarning about GPU env vars on every init
    "RAY_DEDUP_LOGS": "0",  # worker logs are not forwarded anyway (log_to_driver=False)
}


class Executor(Protocol):
    kind: str
    cores: int  # tasks that run at once
    startup_seconds: float  # building the executor (Ray: ray.init)
    puts: int  # put() calls so far (shared values stored)

    def put(self, value: Any) -> Any: ...

    def run(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class _Base:
    kind = "base"
    cores = 1
    startup_seconds = 0.0
    puts = 0  # number of put() calls (shared values stored)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        return None


class SerialExecutor(_Base):
    """Tasks one after another in this process (the reference the others are compared with)."""

    kind = "serial"

    def put(self, value: Any) -> Any:
        self.puts += 1
        return value

    def run(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> Iterator[tuple[int, Any]]:
        for i, args in enumerate(calls):
            yield i, fn(*args)


@dataclass(frozen=True)
class _Shared:
    key: int


_SHARED: dict[int, Any] = {}  # in a forked worker: the values put() stored before the pool started


def _install(shared: dict[int, Any]) -> None:
    _SHARED.clear()
    _SHARED.update(shared)


def _local_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    return fn(*(_SHARED[a.key] if isinstance(a, _Shared) else a for a in args))


class LocalExecutor(_Base):
    """A pool of `cores` forked processes on this machine; shared values are inherited at fork time
    (put() everything before the first run())."""

    kind = "local"

    def __init__(self, cores: int | None = None) -> None:
        self.cores = cores or os.cpu_count() or 1
        self._shared: dict[int, Any] = {}
        self._pool: ProcessPoolExecutor | None = None

    def put(self, value: Any) -> _Shared:
        if self._pool is not None:
            raise ConfigError("local executor: put() after run() is not seen by the running workers")
        self.puts += 1
        key = len(self._shared)
        self._shared[key] = value
        return _Shared(key)

    def run(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> Iterator[tuple[int, Any]]:
        if self._pool is None:
            ctx = mp.get_context("fork")
            self._pool = ProcessPoolExecutor(self.cores, ctx, initializer=_install, initargs=(self._shared,))
        futures: dict[Future[Any], int] = {
            self._pool.submit(_local_call, fn, args): i for i, args in enumerate(calls)
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield futures[fut], fut.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class NativeStderrToDevnull:
    """While Ray runs, file descriptor 2 of this process goes to /dev/null and Python's sys.stderr to
    a copy of the old descriptor: Ray's C++ core in the driver writes its error lines straight to fd
    2 (with the minimal `ray` package, ~30 s after start: 'Failed to establish connection to the
    metrics exporter agent', since there is no metrics agent). Those lines are also in Ray's own log,
    /tmp/ray/session_*/logs/python-core-driver-*.log; failures reach Python as exceptions."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._python = sys.stderr
        self._saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        sys.stderr = open(  # noqa: SIM115 - closed in restore()
            os.dup(self._saved), "w", buffering=1, encoding="utf-8", errors="backslashreplace"
        )

    def restore(self) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        sys.stderr.close()
        sys.stderr = self._python


class RayExecutor(_Base):
    """Ray tasks (one CPU each). `address` None: start a local Ray with `cores` CPUs (no dashboard)
    and stop it on close(); otherwise join that cluster ('host:port' of the head's GCS, 'ray://host:
    port' for Ray Client, or 'auto')."""

    kind = "ray"

    def __init__(
        self, cores: int | None = None, address: str | None = None, object_store_bytes: int | None = None
    ) -> None:
        if address is not None:
            check_reachable(address)
        for name, value in RAY_QUIET_ENV.items():  # Ray reads these when imported and in its workers
            os.environ.setdefault(name, value)
        import ray  # noqa: PLC0415 - only the ray executor needs Ray (and it takes a while to import)

        self._ray = ray
        self._remote: dict[Callable[..., Any], Any] = {}
        self.address = address
        started = time.perf_counter()
        quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
        self._stderr: NativeStderrToDevnull | None = NativeStderrToDevnull()
        try:
            if address is None:
                ray.init(
                    num_cpus=cores or os.cpu_count() or 1, include_dashboard=False,
                    object_store_memory=object_store_bytes, **quiet,
                )  # fmt: skip
            else:
                ray.init(address=address, **quiet)
        except BaseException as exc:
            self.close()
            if not isinstance(exc, ConnectionError | RuntimeError | ValueError):
                raise
            where = f"--ray-address {address}: cannot join the Ray cluster" if address else "cannot start Ray"
            raise ConfigError(f"{where} ({_first_line(exc)})") from None
        self.startup_seconds = time.perf_counter() - started
        self.cores = int(ray.cluster_resources().get("CPU", 1))

    def put(self, value: Any) -> Any:
        self.puts += 1
        return self._ray.put(value)

    def run(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> Iterator[tuple[int, Any]]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(num_cpus=1)(fn)
        refs = {remote.remote(*args): i for i, args in enumerate(calls)}
        pending = list(refs)
        while pending:
            done, pending = self._ray.wait(pending, num_returns=1)
            for ref in done:
                yield refs[ref], self._ray.get(ref)

    def close(self) -> None:
        if self._ray.is_initialized():
            self._ray.shutdown()
        if self._stderr is not None:
            self._stderr.restore()
            self._stderr = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """ConfigError unless something listens at the address ('auto' is left to Ray)."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--ray-address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--ray-address {address}: nothing answers there ({exc.strerror or type(exc).__name__}); "
            "start the head with `ray start --head` and pass the address it prints"
        ) from None


def make_executor(
    kind: str, cores: int | None = None, address: str | None = None, object_store_bytes: int | None = None
) -> Executor:
    """The executor named `kind` (`--executor`); `address` (`--ray-address`) needs kind 'ray'."""
    if address is not None and kind != "ray":
        raise ConfigError(f"--ray-address {address} needs --executor ray (got --executor {kind})")
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return LocalExecutor(cores)
    if kind == "ray":
        return RayExecutor(cores, address, object_store_bytes)
    raise ConfigError(f"--executor {kind!r}: choose one of {', '.join(EXECUTORS)}")
