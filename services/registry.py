"""The feed registry in Redis, merged with the declarative config/feeds.yaml.

- `<prefix>:registry:feeds`    hash url → JSON {url, name, tags, added_at}: feeds added by CLI/OPML
- `<prefix>:registry:removed`  hash url → removed_at: file feeds suppressed by `feeds remove`
- `<prefix>:registry:moves`    hash old url → new url: 301/308 confirmed by N sightings
- `<prefix>:registry:retired`  hash url → JSON {at, reason}: 410 Gone; never polled again
                               unless re-added (`feeds add`)
Feed lifecycle events go to `<prefix>:feeds` (fields type, id, schema, data).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

import orjson
import redis

from services.adapters.keys import Keys
from services.core.ids import feed_id
from services.core.models import FeedSource

FEED_SCHEMA: Final = "newswire.feed.v1"
EVENTS_MAXLEN: Final = 100_000


def emit_feed_event(
    client: redis.Redis, keys: Keys, kind: str, fid: str, data: dict[str, Any]
) -> None:
    """XADD a `feed.*` event (type, id, schema, data) to `<prefix>:feeds`."""
    payload = {"type": kind, "feed_id": fid, "at": time.time(), **data}
    client.xadd(
        keys.feeds_stream,
        {"type": kind, "id": fid, "schema": FEED_SCHEMA, "data": orjson.dumps(payload)},
        maxlen=EVENTS_MAXLEN,
        approximate=True,
    )


class FeedRegistry:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        base = f"{keys.prefix}:registry"
        self.feeds_key = f"{base}:feeds"
        self.removed_key = f"{base}:removed"
        self.moves_key = f"{base}:moves"
        self.retired_key = f"{base}:retired"

    # --- CLI-side edits -------------------------------------------------------------
    def add(self, feed: FeedSource) -> bool:
        """Add (or update) a feed; clears a retirement or removal. True when it was new."""
        record = {
            "url": feed.url,
            "name": feed.name,
            "tags": list(feed.tags),
            "added_at": time.time(),
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.feeds_key, feed.url, orjson.dumps(record))
        pipe.hdel(self.removed_key, feed.url)
        pipe.hdel(self.retired_key, feed.url)
        created = pipe.execute()[0]
        emit_feed_event(
            self.client, self.keys, "feed.added", feed.id, {"url": feed.url, "name": feed.name}
        )
        return bool(created)

    def remove(self, url: str, *, in_file: bool) -> bool:
        """Remove a registry feed; a file feed gets a tombstone. True if anything changed."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.feeds_key, url)
        if in_file:
            pipe.hset(self.removed_key, url, str(time.time()))
        deleted = pipe.execute()
        self.client.zrem(self.keys.schedule, feed_id(url))
        return bool(deleted[0]) or in_file

    def added(self) -> list[FeedSource]:
        out = []
        for raw in self.client.hvals(self.feeds_key):
            record = orjson.loads(raw)
            out.append(
                FeedSource(
                    url=record["url"], name=record.get("name"), tags=tuple(record.get("tags", ()))
                )
            )
        return sorted(out, key=lambda f: f.url)

    # --- poller-side facts ----------------------------------------------------------
    def record_move(self, old_url: str, new_url: str, sightings: int) -> None:
        """Persist a confirmed permanent redirect and emit `feed.moved`."""
        self.client.hset(self.moves_key, old_url, new_url)
        record = self.client.hget(self.feeds_key, old_url)
        if record is not None:  # a registry feed simply changes URL
            data = orjson.loads(record) | {"url": new_url}
            self.client.hset(self.feeds_key, new_url, orjson.dumps(data))
            self.client.hdel(self.feeds_key, old_url)
        emit_feed_event(
            self.client, self.keys, "feed.moved", feed_id(old_url),
            {"from": old_url, "to": new_url, "new_id": feed_id(new_url), "sightings": sightings},
        )  # fmt: skip

    def retire(self, url: str, reason: str) -> None:
        """Mark a feed retired (410 Gone) and emit `feed.retired`."""
        self.client.hset(self.retired_key, url, orjson.dumps({"at": time.time(), "reason": reason}))
        emit_feed_event(
            self.client, self.keys, "feed.retired", feed_id(url), {"url": url, "reason": reason}
        )

    def is_retired(self, url: str) -> bool:
        return bool(self.client.hexists(self.retired_key, url))

    def moves(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.client.hgetall(self.moves_key).items()}

    def retired(self) -> dict[str, dict[str, Any]]:
        return {
            k.decode(): orjson.loads(v) for k, v in self.client.hgetall(self.retired_key).items()
        }

    def removed(self) -> set[str]:
        return {k.decode() for k in self.client.hkeys(self.removed_key)}

    # --- the merged view --------------------------------------------------------------
    def merge(self, file_feeds: Iterable[FeedSource]) -> list[FeedSource]:
        """File feeds + registry feeds, moves applied, removed and retired feeds dropped."""
        return merge_feeds(
            list(file_feeds), self.added(), self.moves(), set(self.retired()), self.removed()
        )


def merge_feeds(
    file_feeds: Sequence[FeedSource],
    added: Sequence[FeedSource],
    moves: dict[str, str],
    retired: set[str],
    removed: set[str],
) -> list[FeedSource]:
    """Pure merge: first listing of a URL wins; moves followed (≤ 5 hops); drops removed/retired."""
    merged: dict[str, FeedSource] = {}
    for feed in [*file_feeds, *added]:
        if feed.url in removed:
            continue
        url = _follow(feed.url, moves)
        if url in retired or url in removed:
            continue
        merged.setdefault(url, feed if url == feed.url else feed.model_copy(update={"url": url}))
    return list(merged.values())


def _follow(url: str, moves: dict[str, str]) -> str:
    for _ in range(5):
        if url not in moves:
            break
        url = moves[url]
    return url
