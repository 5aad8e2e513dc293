"""RedisPublisher: one pipelined round trip per batch, one atomic Lua call per article."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis

from services.adapters.keys import Keys
from services.core.errors import PublishError
from services.core.models import SCHEMA_V1
from services.pipeline import Publication, PublishOutcome

_SCRIPT = resources.files("services.adapters").joinpath("publish.lua").read_text("utf-8")


class RedisPublisher:
    """Claims identity keys and XADDs to `articles` + each topic stream atomically (Lua)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        ttl_s: int,
        maxlen_articles: int,
        maxlen_topic: int,
    ) -> None:
        self._client = client
        self._keys = keys
        self._script = client.register_script(_SCRIPT)
        self._argv_tail = (maxlen_articles, maxlen_topic)
        self._ttl_s = ttl_s

    def publish(self, items: Sequence[Publication]) -> list[PublishOutcome]:
        if not items:
            return []
        pipe = self._client.pipeline(transaction=False)
        for item in items:
            keys, args = self._call_args(item)
            self._script(keys=keys, args=args, client=pipe)
        try:
            replies = pipe.execute()
        except redis.RedisError as exc:
            raise PublishError(f"publishing {len(items)} articles to Redis failed: {exc}") from exc
        return [_outcome(item, reply) for item, reply in zip(items, replies, strict=True)]

    def _call_args(self, item: Publication) -> tuple[list[str], list[Any]]:
        identity = [self._keys.identity(k) for k in item.identity_keys]
        streams = [self._keys.articles] + [self._keys.topic(slug) for slug in item.topics]
        args: list[Any] = [
            len(identity),
            item.event.id,
            self._ttl_s,
            item.event.type,
            SCHEMA_V1,
            item.data,
            *self._argv_tail,
        ]
        return identity + streams, args


def _outcome(item: Publication, reply: list[Any]) -> PublishOutcome:
    status = _text(reply[0])
    if status == "published":
        return PublishOutcome(status="published", stream_ids=tuple(_text(r) for r in reply[1:]))
    owner = _text(reply[1])
    return PublishOutcome(
        status="replayed" if owner == item.event.id else "duplicate", existing_id=owner
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
