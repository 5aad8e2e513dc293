"""Per-process worker dependencies, built lazily once per (prefork) child."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import redis

from config.settings import Settings, get_settings
from services.adapters.keys import Keys
from services.adapters.publisher import RedisPublisher
from services.core.classify import Classifier
from services.core.classify_model import DEFAULT_WEIGHTS_PATH
from services.core.taxonomy import load_taxonomy


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass
class TopicsReloader:
    """Rebuilds the classifier when config/topics.yaml or the model weights change."""

    path: Path
    _mtime: float = -1.0
    _classifier: Classifier | None = field(default=None, repr=False)

    def classifier(self) -> Classifier:
        mtime = max(self.path.stat().st_mtime, _mtime(DEFAULT_WEIGHTS_PATH))
        if self._classifier is None or mtime != self._mtime:
            self._classifier = Classifier(load_taxonomy(self.path))
            self._mtime = mtime
        return self._classifier


@dataclass
class WorkerContext:
    settings: Settings
    client: redis.Redis
    keys: Keys
    publisher: RedisPublisher
    topics: TopicsReloader

    def peek(self, identity_keys: Sequence[str]) -> list[str | None]:
        """The stored values of identity keys (one MGET): what dedupe would find."""
        if not identity_keys:
            return []
        raw = self.client.mget([self.keys.identity(k) for k in identity_keys])
        return [v.decode() if v is not None else None for v in raw]

    def dead_letter(self, payload: object, error: str) -> None:
        """Keep what could not be processed, with the reason, on the DLQ stream."""
        self.client.xadd(
            self.keys.dlq,
            {
                "type": "batch.failed",
                "error": error[:2000],
                # never cut: a truncated payload cannot be replayed (the broker held it whole)
                "payload": json.dumps(payload, default=str),
                "at": datetime.now(UTC).isoformat(),
            },
            maxlen=self.settings.streams.maxlen_other,
            approximate=True,
        )


@lru_cache(maxsize=1)
def worker_context() -> WorkerContext:
    settings = get_settings()
    if not settings.redis_url:
        raise RuntimeError("NEWSWIRE_REDIS_URL is not set in the worker environment")
    client = redis.Redis.from_url(settings.redis_url)
    keys = Keys(settings.stream_prefix)
    publisher = RedisPublisher(
        client,
        keys,
        ttl_s=settings.streams.dedupe_window_s,
        maxlen_articles=settings.streams.maxlen_articles,
        maxlen_topic=settings.streams.maxlen_topic,
        near_window_s=settings.streams.near_dup_window_s,
    )
    return WorkerContext(settings, client, keys, publisher, TopicsReloader(settings.topics_file))
