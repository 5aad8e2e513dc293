"""Worker-side metrics and health: multiprocess Prometheus files and a /readyz endpoint.

Started on `worker_ready` (not `worker_init`) so prefork children do not inherit the socket.
"""

from __future__ import annotations

import contextlib
from typing import Any

import redis
import structlog
from celery import signals

from config.settings import get_settings
from services import metrics
from services.health import HealthServer, start_health_server

log = structlog.get_logger("newswire.worker")
_server: HealthServer | None = None


@signals.worker_init.connect
def _multiprocess_metrics(**_: Any) -> None:
    directory = metrics.multiprocess_dir()
    if directory is not None:
        metrics.enable_multiprocess(directory, wipe=True)


@signals.worker_ready.connect
def _start_health(**_: Any) -> None:
    global _server  # noqa: PLW0603 - one endpoint per worker main process
    settings = get_settings()
    port = settings.observability.worker_port
    if port < 0 or not settings.redis_url:
        return
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
    try:
        _server = start_health_server(
            port, settings.observability.host, registry=metrics.exposition_registry(),
            redis_client=client,
        )  # fmt: skip
        log.info("health.listening", url=_server.url)
    except OSError as exc:
        log.warning("health.unavailable", port=port, error=str(exc))


@signals.worker_shutdown.connect
def _stop_health(**_: Any) -> None:
    if _server is not None:
        with contextlib.suppress(Exception):
            _server.stop()


@signals.worker_process_shutdown.connect
def _child_exited(pid: int | None = None, **_: Any) -> None:
    if pid is not None:
        metrics.child_exited(pid)
