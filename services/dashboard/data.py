"""What the dashboard shows, read from Redis with XRANGE/XREVRANGE/XREAD only.

No consumer groups: the dashboard never takes deliveries away from real subscribers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from services.adapters.keys import Keys
from services.status import discover_topics, feed_states

LATEST = 10
RATE_COUNT_CAP = 5000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso(ts: float) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts > 0 else None


def article_view(stream_id: str, fields: dict[bytes, bytes], topic: str | None) -> dict[str, Any]:
    """One stream entry as the page shows it; `topic` selects whose evidence to show."""
    try:
        event = json.loads(fields.get(b"data", b"{}"))
    except ValueError:
        return {
            "stream_id": stream_id,
            "id": _text(fields.get(b"id", b"")),
            "title": "(unreadable)",
        }
    scores = {t.get("slug"): t for t in event.get("topics") or []}
    chosen = scores.get(topic, {}) if topic else {}
    feed = event.get("feed") or {}
    return {
        "stream_id": stream_id,
        "id": event.get("id"),
        "type": event.get("type"),
        "title": event.get("title"),
        "url": event.get("url"),
        "feed": feed.get("title") or feed.get("url"),
        "published_at": event.get("published_at"),
        "topics": sorted(s for s in scores if s),
        "score": chosen.get("score"),
        "evidence": chosen.get("evidence") or [],
    }


class DashboardData:
    """Reads snapshots and new entries for the page."""

    def __init__(
        self, client: redis.Redis, keys: Keys, topics: Sequence[str] | None = None
    ) -> None:
        self.client = client
        self.keys = keys
        self._topics = list(topics) if topics is not None else None

    def topics(self) -> list[str]:
        return self._topics if self._topics is not None else discover_topics(self.client, self.keys)

    def _count_since(self, key: str, seconds: float) -> int:
        start = int((time.time() - seconds) * 1000)
        return len(self.client.xrange(key, min=str(start), max="+", count=RATE_COUNT_CAP) or [])

    def topic_view(self, slug: str) -> dict[str, Any]:
        key = self.keys.topic(slug)
        entries: Any = self.client.xrevrange(key, count=LATEST)
        return {
            "slug": slug,
            "length": int(self.client.xlen(key)),
            "per_min_1m": self._count_since(key, 60),
            "per_min_15m": round(self._count_since(key, 900) / 15, 2),
            "latest": [article_view(_text(i), f, slug) for i, f in entries],
        }

    def feeds_view(self) -> list[dict[str, Any]]:
        return [
            {
                "id": feed_id,
                "url": s.url,
                "title": s.title or s.url,
                "status": s.status,
                "consecutive_errors": s.consecutive_errors,
                "last_error_class": s.last_error_class,
                "last_success_at": _iso(s.last_success_at),
                "next_poll_at": _iso(s.next_poll_at),
                "next_poll_reason": s.next_poll_reason,
            }
            for feed_id, s in sorted(feed_states(self.client, self.keys).items())
        ]

    def dlq_view(self) -> dict[str, Any]:
        entries: Any = self.client.xrevrange(self.keys.dlq, count=LATEST)
        latest = [
            {
                "stream_id": _text(i),
                "type": _text(f.get(b"type", b"")),
                "error": _text(f.get(b"error", b""))[:300],
                "at": _text(f.get(b"at", b"")),
            }
            for i, f in entries
        ]
        return {"size": int(self.client.xlen(self.keys.dlq)), "latest": latest}

    def snapshot(self) -> dict[str, Any]:
        """Everything the page renders, in one JSON-able dict."""
        return {
            "generated_at": datetime.now(UTC).isoformat(),
            "articles_total": int(self.client.xlen(self.keys.articles)),
            "duplicates_total": int(self.client.xlen(self.keys.duplicates)),
            "topics": [self.topic_view(s) for s in self.topics()],
            "feeds": self.feeds_view(),
            "dlq": self.dlq_view(),
        }

    def last_ids(self, slugs: Sequence[str]) -> dict[str, str]:
        """Current last id of each topic stream ("0-0" when it does not exist yet)."""
        pipe = self.client.pipeline(transaction=False)
        for slug in slugs:
            pipe.xrevrange(self.keys.topic(slug), count=1)
        ids = {}
        replies: list[Any] = pipe.execute()
        for slug, entries in zip(slugs, replies, strict=True):
            ids[self.keys.topic(slug)] = _text(entries[0][0]) if entries else "0-0"
        return ids

    def read_new(self, cursor: dict[str, str], block_ms: int) -> list[dict[str, Any]]:
        """New topic entries after `cursor` (updated in place), as article events."""
        if not cursor:
            time.sleep(block_ms / 1000)
            return []
        reply: Any = self.client.xread(cursor, count=100, block=block_ms) or []
        prefix = self.keys.topic("")
        out = []
        for stream, entries in reply:
            key = _text(stream)
            for stream_id, fields in entries:
                cursor[key] = _text(stream_id)
                slug = key[len(prefix) :]
                out.append({"topic": slug, "article": article_view(cursor[key], fields, slug)})
        return out
