"""Per-feed state in Redis: validators, health, schedule (a sorted set of due times)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields

import redis

from services.adapters.keys import Keys


@dataclass
class FeedState:
    url: str = ""
    title: str = ""
    status: str = "new"  # new | ok | failing | degraded | retired
    etag: str = ""
    last_modified: str = ""
    body_hash: str = ""
    last_success_at: float = 0.0
    last_polled_at: float = 0.0
    last_error: str = ""
    last_error_class: str = ""
    consecutive_errors: int = 0
    next_poll_at: float = 0.0
    next_poll_reason: str = ""
    last_http_status: int = 0
    entry_rate_per_day: float = 0.0
    degraded_since: float = 0.0
    moved_to: str = ""
    moved_count: int = 0
    hub_url: str = ""
    self_url: str = ""
    body_hints: str = ""
    last_push_at: float = 0.0

    @classmethod
    def from_redis(cls, raw: dict[bytes, bytes]) -> FeedState:
        state = cls()
        for f in fields(cls):
            value = raw.get(f.name.encode())
            if value is not None:
                setattr(state, f.name, type(getattr(state, f.name))(value.decode()))
        return state


class RedisFeedStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    @property
    def client(self) -> redis.Redis:
        return self._client

    @property
    def keys(self) -> Keys:
        return self._keys

    def get(self, feed_id: str) -> FeedState:
        return FeedState.from_redis(self._client.hgetall(self._keys.feed_state(feed_id)))

    def save(self, feed_id: str, state: FeedState) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self._keys.feed_state(feed_id), mapping=asdict(state))
        pipe.zadd(self._keys.schedule, {feed_id: state.next_poll_at})
        pipe.execute()

    def ensure_scheduled(self, feed_ids: Iterable[str], now: float) -> None:
        """New feeds are due now; known feeds keep their due time."""
        mapping = dict.fromkeys(feed_ids, now)
        if mapping:
            self._client.zadd(self._keys.schedule, mapping, nx=True)

    def due_at(self, feed_id: str) -> float | None:
        """The feed's due time (epoch s), None when it is not scheduled."""
        score = self._client.zscore(self._keys.schedule, feed_id)
        return None if score is None else float(score)

    def unschedule(self, feed_id: str, state: FeedState | None = None) -> None:
        """Drop a feed from the schedule (retired or moved); its state is kept when given."""
        pipe = self._client.pipeline(transaction=True)
        if state is not None:
            pipe.hset(self._keys.feed_state(feed_id), mapping=asdict(state))
        pipe.zrem(self._keys.schedule, feed_id)
        pipe.execute()

    def due(self, now: float, limit: int) -> list[str]:
        ids = self._client.zrangebyscore(self._keys.schedule, "-inf", now, start=0, num=limit)
        return [i.decode() for i in ids]

    def already_published(self, article_ids: Sequence[str]) -> set[str]:
        """The subset of ids whose identity key is held (published within the window)."""
        pipe = self._client.pipeline(transaction=False)
        for article_id in article_ids:
            pipe.exists(self._keys.identity(f"id:{article_id}"))
        return {a for a, hit in zip(article_ids, pipe.execute(), strict=True) if hit}
