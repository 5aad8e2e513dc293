"""Process set-up shared by the CLI: where Redis is, the guarded fetcher, the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from config.settings import Settings
from services.adapters.embedded_redis import EmbeddedRedis, running_embedded_url
from services.adapters.fetcher import Fetcher

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the poller's event loop: uvloop where it is installed (Linux, macOS; ~15 % less CPU
    per conditional poll here), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(main)
    return uvloop.run(main)


def fetcher_from_settings(settings: Settings) -> Fetcher:
    """The guarded HTTP fetcher configured from NEWSWIRE_FETCH__* settings."""
    fetch = settings.fetch
    return Fetcher(
        connect_timeout_s=fetch.connect_timeout_s,
        timeout_s=fetch.timeout_s,
        max_body_bytes=fetch.max_body_bytes,
        max_redirects=fetch.max_redirects,
        user_agent=fetch.user_agent.format(contact=fetch.contact_url),
        allow_private_networks=settings.fetch_allow_private_networks,
    )


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
