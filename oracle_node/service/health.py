"""HTTP endpoints of a node: /health (cycle progress) and /metrics (Prometheus text format)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from oracle_node.errors import ConfigError


class HealthState:
    """Progress the daemon reports; /health is 200 while some market completed a cycle recently."""

    def __init__(self, max_silence_s: float, clock: Callable[[], float] = time.time) -> None:
        self.max_silence_s = max_silence_s
        self._clock = clock
        self._started = clock()
        self._last_cycle: dict[str, float] = {}
        self._breakers: set[str] = set()
        self._lock = threading.Lock()

    def cycle_completed(self, market: str) -> None:
        with self._lock:
            self._last_cycle[market] = self._clock()

    def breaker(self, market: str, is_open: bool) -> None:
        with self._lock:
            (self._breakers.add if is_open else self._breakers.discard)(market)

    def snapshot(self) -> tuple[bool, dict[str, object]]:
        now = self._clock()
        with self._lock:
            last = max(self._last_cycle.values(), default=self._started)
            ages = {m: round(now - t, 3) for m, t in sorted(self._last_cycle.items())}
            breakers = sorted(self._breakers)
        healthy = now - last <= self.max_silence_s
        return healthy, {"healthy": healthy, "seconds_since_cycle": ages, "breakers_open": breakers}


def serve(host: str, port: int, health: HealthState, registry: CollectorRegistry) -> ThreadingHTTPServer:
    """Start the endpoints on a daemon thread; call .shutdown() to stop. ConfigError if the port is taken."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                ok, body = health.snapshot()
                self._send(200 if ok else 503, "application/json", json.dumps(body).encode())
            elif self.path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:  # keep stderr for JSON logs
            return

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:  # EADDRINUSE above all: another node (or anything) listens there
        why = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"cannot listen on {host}:{port} ({why}); is another oracle-node running? "
            "choose a free port in service.metrics_port / service.health_port",
            f"port {port}",
        ) from None
    threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
    return server
