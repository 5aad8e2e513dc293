"""Fresh articles of several feeds share tasks: a buffer flushed by size or after a delay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from services.adapters.feedstate import RedisFeedStore
from services.core.models import Article

log = structlog.get_logger("newswire.poller")

Enqueue = Callable[[list[Article]], Any]


@dataclass
class EnqueueBuffer:
    """Full tasks leave at once, the rest within `flush_after_s`; `sent` gets every handle."""

    enqueue: Enqueue
    store: RedisFeedStore
    sent: Callable[[Any], None]
    batch_size: int
    flush_after_s: float
    _items: list[tuple[Article, str]] = field(default_factory=list, init=False, repr=False)
    _timer: asyncio.TimerHandle | None = field(default=None, init=False, repr=False)

    def add(self, fresh: Sequence[Article], correlation_id: str) -> None:
        """Buffer fresh articles; full tasks leave at once, the rest within `flush_after_s`."""
        self._items.extend((a, correlation_id) for a in fresh)
        size = self.batch_size
        if len(self._items) >= size:
            self._send(len(self._items) - len(self._items) % size)
        if self._items and self._timer is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the caller flushes
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self.flush_after_s, self.flush)

    def flush(self) -> None:
        """Enqueue every buffered article now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._send(len(self._items))

    def _send(self, count: int) -> None:
        taken, self._items = self._items[:count], self._items[count:]
        for start in range(0, len(taken), self.batch_size):
            chunk = taken[start : start + self.batch_size]
            ids = ",".join(dict.fromkeys(c for _, c in chunk if c))
            try:
                with structlog.contextvars.bound_contextvars(correlation_id=ids):
                    self.sent(self.enqueue([a for a, _ in chunk]))
            except Exception as exc:
                self._forget_validators({a.feed.id for a, _ in chunk}, exc)

    def _forget_validators(self, feed_ids: set[str], exc: Exception) -> None:
        """The enqueue failed: drop the feeds' validators so the next poll fetches again."""
        log.error("poller.enqueue_failed", feeds=sorted(feed_ids), error=str(exc)[:500])
        pipe = self.store.client.pipeline(transaction=False)
        for fid in feed_ids:
            pipe.hdel(self.store.keys.feed_state(fid), "etag", "last_modified", "body_hash")
        with contextlib.suppress(Exception):
            pipe.execute()
