"""The poller: for each due feed, fetch (conditional GET) → digest → enqueue new articles.

A broken or unreachable feed is logged, recorded in its state and retried later with
backoff; nothing a feed does can stop the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, Protocol

import structlog

from services.adapters.feedstate import FeedState, RedisFeedStore
from services.adapters.fetcher import FetchResult
from services.core.errors import FetchError, ParseError
from services.core.models import Article, FeedSource
from services.poller.digest import Digest, digest
from services.poller.schedule import Interval, next_poll_delay

log = structlog.get_logger("newswire.poller")

Enqueue = Callable[[list[Article]], Any]


class FetchPort(Protocol):
    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


@dataclass
class FeedOutcome:
    feed: FeedSource
    status: Literal["ok", "unchanged", "failed"]
    http_status: int | None = None
    entries: int = 0
    new: int = 0
    error: str | None = None
    error_class: str | None = None
    problem: str | None = None
    next_poll_in_s: float = 0.0
    next_poll_reason: str = ""
    retry_after_s: float | None = None


@dataclass
class PollerConfig:
    interval: Interval
    batch_size: int = 50
    max_entries: int = 1000
    concurrency: int = 16


@dataclass
class Poller:
    fetcher: FetchPort
    store: RedisFeedStore
    enqueue: Enqueue
    config: PollerConfig
    executor: Executor | None = None
    handles: list[Any] = field(default_factory=list)

    async def poll_all(self, feeds: Sequence[FeedSource]) -> list[FeedOutcome]:
        """Poll every feed once, at most `concurrency` at a time."""
        gate = asyncio.Semaphore(self.config.concurrency)

        async def guarded(feed: FeedSource) -> FeedOutcome:
            async with gate:
                return await self.poll_feed(feed)

        return list(await asyncio.gather(*(guarded(f) for f in feeds)))

    async def poll_feed(self, feed: FeedSource) -> FeedOutcome:
        state = self.store.get(feed.id)
        started = time.monotonic()
        try:
            outcome = await self._poll(feed, state)
        except (FetchError, ParseError) as exc:
            outcome = self._failed(feed, state, exc)
        except Exception as exc:  # noqa: BLE001 - a feed must never stop the loop
            outcome = self._failed(feed, state, exc)
        self._schedule(feed, state, outcome)
        log.info(
            "feed.polled",
            feed_id=feed.id,
            url=feed.url,
            status=outcome.status,
            http_status=outcome.http_status,
            entries=outcome.entries,
            new=outcome.new,
            error=outcome.error,
            error_class=outcome.error_class,
            problem=outcome.problem,
            duration_s=round(time.monotonic() - started, 4),
            next_poll_in_s=round(outcome.next_poll_in_s, 1),
            next_poll_reason=outcome.next_poll_reason,
        )
        return outcome

    async def _poll(self, feed: FeedSource, state: FeedState) -> FeedOutcome:
        result = await self.fetcher.fetch(
            feed.url, etag=state.etag or None, last_modified=state.last_modified or None
        )
        body_hash = _hash(result.body)
        if result.not_modified or result.body is None or body_hash == state.body_hash:
            self._remember(state, result, body_hash)
            return FeedOutcome(feed, "unchanged", http_status=result.status)
        parsed = await self._digest(result.body, feed, result.headers.get("content-type"))
        fresh = self._fresh(parsed.articles)
        for start in range(0, len(fresh), self.config.batch_size):
            self.handles.append(self.enqueue(fresh[start : start + self.config.batch_size]))
        self._remember(state, result, body_hash)  # validators only after the enqueue succeeded
        state.title = parsed.title or state.title
        return FeedOutcome(
            feed,
            "ok",
            http_status=result.status,
            entries=parsed.entries,
            new=len(fresh),
            problem=parsed.problem,
        )

    async def _digest(self, body: bytes, feed: FeedSource, content_type: str | None) -> Digest:
        call = partial(
            digest,
            body,
            feed_id=feed.id,
            feed_url=feed.url,
            content_type=content_type,
            fetched_at=datetime.now(UTC),
            max_entries=self.config.max_entries,
        )
        if self.executor is None:
            return call()
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    def _fresh(self, articles: Sequence[Article]) -> list[Article]:
        if not articles:
            return []
        seen = self.store.already_published([a.id for a in articles])
        return [a for a in articles if a.id not in seen]

    @staticmethod
    def _remember(state: FeedState, result: FetchResult, body_hash: str) -> None:
        state.etag = result.etag or state.etag
        state.last_modified = result.last_modified or state.last_modified
        state.body_hash = body_hash or state.body_hash

    @staticmethod
    def _failed(feed: FeedSource, state: FeedState, exc: Exception) -> FeedOutcome:
        fallback = "parse" if isinstance(exc, ParseError) else "internal"
        return FeedOutcome(
            feed,
            "failed",
            error=f"{type(exc).__name__}: {exc}"[:500],
            error_class=getattr(exc, "error_class", None) or fallback,
            retry_after_s=getattr(exc, "retry_after_s", None),
        )

    def _schedule(self, feed: FeedSource, state: FeedState, outcome: FeedOutcome) -> None:
        now = time.time()
        ok = outcome.status != "failed"
        state.url = feed.url
        state.last_polled_at = now
        if ok:
            state.status, state.consecutive_errors, state.last_success_at = "ok", 0, now
        else:
            state.consecutive_errors += 1
            state.status = "failing"
            state.last_error = outcome.error or ""
            state.last_error_class = outcome.error_class or ""
        delay, reason = next_poll_delay(
            ok=ok,
            consecutive_errors=state.consecutive_errors,
            interval=self.config.interval,
            retry_after_s=outcome.retry_after_s,
        )
        state.next_poll_at, state.next_poll_reason = now + delay, reason
        outcome.next_poll_in_s, outcome.next_poll_reason = delay, reason
        self.store.save(feed.id, state)

    async def run_forever(
        self, load_feeds: Callable[[], Sequence[FeedSource]], stop: asyncio.Event, tick_s: float
    ) -> None:
        """Poll due feeds until `stop` is set; the feed list is re-read every tick."""
        while not stop.is_set():
            feeds = {f.id: f for f in load_feeds()}
            self.store.ensure_scheduled(feeds, time.time())
            due = [feeds[i] for i in self.store.due(time.time(), 1000) if i in feeds]
            if due:
                await self.poll_all(due)
                self.handles.clear()
            try:
                await asyncio.wait_for(stop.wait(), timeout=tick_s)
            except TimeoutError:
                pass


def _hash(body: bytes | None) -> str:
    if body is None:
        return ""
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()
