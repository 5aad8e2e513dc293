"""The Celery application (Redis broker). Run: ``celery -A workers.celery_app worker``.

Delivery settings: ``acks_late`` + ``task_reject_on_worker_lost`` so a task whose worker
dies is redelivered (tasks are idempotent: publishing claims identity keys atomically),
and prefetch 1 so a slow batch never holds others hostage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import orjson
from celery import Celery, signals
from kombu.serialization import register

from config.logging import configure_logging
from config.settings import Settings, get_settings
from services.core.errors import ConfigError

app = Celery("newswire", include=["workers.tasks", "workers.observability"])

# Task bodies (batches of up to 150 articles) as orjson: kombu's "json" is the stdlib
# encoder, ~7 % of the poller's and ~6 % of a worker's CPU in the cold-ingest profile.
# Plain "json" stays accepted (tasks queued by an older release, hand-sent tasks).
TASK_SERIALIZER = "orjson"
register(
    TASK_SERIALIZER,
    cast(Callable[[Any], str], orjson.dumps),  # bytes: kombu sends a "binary" body as is
    orjson.loads,
    content_type="application/x-orjson",
    content_encoding="binary",
)


def celery_config(settings: Settings, redis_url: str) -> dict[str, Any]:
    return {
        "broker_url": redis_url,
        "result_backend": redis_url,
        "result_expires": 3600,
        "task_serializer": TASK_SERIALIZER,
        "result_serializer": "json",
        "accept_content": [TASK_SERIALIZER, "json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": settings.worker.prefetch_multiplier,
        "worker_concurrency": settings.worker.concurrency,
        "task_default_queue": settings.worker.queue,
        "broker_transport_options": {"visibility_timeout": 3600},
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_send_task_events": settings.worker.send_task_events,
        "task_send_sent_event": settings.worker.send_task_events,
        "enable_utc": True,
    }


def configure(settings: Settings, redis_url: str) -> Celery:
    """Point the app at `redis_url` (used by the CLI, which may start Redis itself)."""
    app.conf.update(celery_config(settings, redis_url))
    return app


def _configure_from_env() -> None:
    settings = get_settings()
    if settings.redis_url:
        configure(settings, settings.redis_url)


@signals.setup_logging.connect
def _structlog_for_celery(**_: Any) -> None:
    """Celery's records go through our structlog pipeline (JSON lines in containers)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


@signals.worker_init.connect
def _require_broker(**_: Any) -> None:
    if not get_settings().redis_url:
        raise ConfigError(
            "a standalone worker needs NEWSWIRE_REDIS_URL (e.g. redis://redis:6379/0)"
        )


@signals.worker_init.connect
def _load_word_frequencies(**_: Any) -> None:
    """Load dedupe's word-rarity table (~0.4 s) once in the parent, before the pool forks,
    instead of in every child on its first article."""
    from services.core import rarity

    rarity.weight("the")


_configure_from_env()
