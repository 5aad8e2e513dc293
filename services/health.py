"""A tiny threaded HTTP server for long-running processes: /healthz, /readyz, /metrics.

- ``/healthz``: 200 while the process serves HTTP (liveness).
- ``/readyz``: 200 when Redis answers PING and the caller's `ready()` says so, else 503
  with ``{"ready": false, "reason": "..."}``.
- ``/metrics``: Prometheus exposition of `registry` (multiprocess-aware by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from services.httpserver import BackgroundHTTPServer, QuietHandler
from services.metrics import exposition_registry

Readiness = Callable[[], tuple[bool, str]]


def _always_ready() -> tuple[bool, str]:
    return True, "ok"


class HealthServer(BackgroundHTTPServer):
    """The server plus what its handlers need; `stop()` shuts it down."""

    def __init__(
        self,
        address: tuple[str, int],
        ready: Readiness,
        registry: CollectorRegistry,
        redis_client: redis.Redis | None,
    ) -> None:
        super().__init__(address, _Handler, "health")
        self.ready = ready
        self.registry = registry
        self.redis_client = redis_client

    def readiness(self) -> tuple[bool, str]:
        if self.redis_client is not None:
            try:
                self.redis_client.ping()
            except redis.RedisError as exc:
                return False, f"redis unreachable: {type(exc).__name__}: {exc}"
        try:
            return self.ready()
        except Exception as exc:
            return False, f"readiness check failed: {type(exc).__name__}: {exc}"


class _Handler(QuietHandler):
    server: HealthServer
    protocol_version = "HTTP/1.1"
    extra_headers: ClassVar[dict[str, str]] = {"Cache-Control": "no-store"}

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._json(200, {"alive": True})
        elif path == "/readyz":
            ok, reason = self.server.readiness()
            self._json(200 if ok else 503, {"ready": ok, "reason": reason})
        elif path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, content_type, encoder(self.server.registry))
        else:
            self._json(404, {"error": f"no such endpoint {path}; try /healthz, /readyz, /metrics"})


def start_health_server(
    port: int,
    host: str = "0.0.0.0",  # noqa: S104 - probes come from outside the container
    ready: Readiness | None = None,
    registry: CollectorRegistry | None = None,
    *,
    redis_client: redis.Redis | None = None,
) -> HealthServer:
    """Serve /healthz, /readyz and /metrics on a daemon thread; port 0 picks a free port."""
    server = HealthServer(
        (host, port), ready or _always_ready, registry or exposition_registry(), redis_client
    )
    return server.start()
