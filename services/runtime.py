"""Where is Redis? The configured URL, an embedded server already running, or a new one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from config.settings import Settings
from services.adapters.embedded_redis import EmbeddedRedis, running_embedded_url


@contextmanager
def redis_url_for(settings: Settings) -> Iterator[str]:
    """Yield a Redis URL; start (and finally stop) an embedded server when none is configured."""
    if settings.redis_url:
        yield settings.redis_url
        return
    running = running_embedded_url(settings.data_dir / "redis")
    if running:
        yield running
        return
    with EmbeddedRedis(settings.data_dir / "redis") as server:
        yield server.url
