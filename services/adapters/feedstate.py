"""Per-feed state in Redis: validators, health, schedule (a sorted set of due times).

`finish` is the poller's single round trip after a fetch: save the state and schedule,
release the lease and the host slot, and tell which article ids were already published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import redis
from redis.commands.core import Script

from services.adapters.keys import Keys

# KEYS: state hash, schedule zset, lease, host slots, identity keys...
# ARGV: lease token, slot token, feed id, next poll at, schedule (1) / unschedule (0),
#       field count, fields and values...
# Returns one 0/1 per identity key (already published).
_FINISH = """
local n = tonumber(ARGV[6])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 7, 6 + 2 * n)) end
if ARGV[5] == '1' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
else redis.call('ZREM', KEYS[2], ARGV[3]) end
if ARGV[1] ~= '' and redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
if ARGV[2] ~= '' then redis.call('ZREM', KEYS[4], ARGV[2]) end
local seen = {}
for i = 5, #KEYS do seen[#seen + 1] = redis.call('EXISTS', KEYS[i]) end
return seen
"""


def published_of(check_ids: Sequence[str], reply: Sequence[Any]) -> set[str]:
    """The ids the `finish` script found already published (one 0/1 per id)."""
    return {a for a, hit in zip(check_ids, reply, strict=True) if int(hit)}


@dataclass(frozen=True)
class Held:
    """What a poll holds until `finish`: the lease and host slot (keys and tokens)."""

    lease_key: str = ""
    lease_token: str = ""
    slot_key: str = ""
    slot_token: str = ""


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
        for key, name, kind in _DECODERS:
            value = raw.get(key)
            if value is not None:
                setattr(state, name, kind(value.decode()))
        return state

    def as_mapping(self) -> dict[str, Any]:
        """Every field by name (all are flat scalars; `dataclasses.asdict` deep-copies)."""
        return dict(vars(self))


# (hash field, attribute, type) of every FeedState field, for from_redis
_DECODERS: tuple[tuple[bytes, str, type], ...] = tuple(
    (f.name.encode(), f.name, type(f.default)) for f in fields(FeedState)
)


class RedisFeedStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._finish = client.register_script(_FINISH)

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
        pipe.hset(self._keys.feed_state(feed_id), mapping=state.as_mapping())
        pipe.zadd(self._keys.schedule, {feed_id: state.next_poll_at})
        pipe.execute()

    def finish(
        self,
        feed_id: str,
        state: FeedState,
        held: Held,
        *,
        scheduled: bool = True,
        check_ids: Sequence[str] = (),
    ) -> set[str]:
        """Save + (un)schedule + release, in one call; returns the already published ids."""
        keys, args = self.finish_args(
            feed_id, state, held, scheduled=scheduled, check_ids=check_ids
        )
        return published_of(check_ids, self._finish(keys=keys, args=args))

    @property
    def finish_script(self) -> Script:
        """The script behind `finish`, for callers that send it with others."""
        return self._finish

    def finish_args(
        self,
        feed_id: str,
        state: FeedState,
        held: Held,
        *,
        scheduled: bool = True,
        check_ids: Sequence[str] = (),
        loaded: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], list[str | int]]:
        """Keys and args of the `finish` script call.

        With `loaded` (the state as read at claim time), only the fields that changed since
        are written: a feed's hash is written by its lease holder only.
        """
        now = state.as_mapping()
        if loaded is not None:
            now = {k: v for k, v in now.items() if v != loaded.get(k)}
        pairs = [item for kv in now.items() for item in (kv[0], str(kv[1]))]
        identity = [self._keys.identity(f"id:{a}") for a in check_ids]
        keys = [self._keys.feed_state(feed_id), self._keys.schedule, held.lease_key or "-"]
        keys += [held.slot_key or "-", *identity]
        args: list[str | int] = [held.lease_token, held.slot_token, feed_id]
        args.append(repr(state.next_poll_at))
        args += [int(scheduled), len(pairs) // 2, *pairs]
        return keys, args

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
            pipe.hset(self._keys.feed_state(feed_id), mapping=state.as_mapping())
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
