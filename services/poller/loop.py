"""The poller: for each due feed, fetch (conditional GET) → digest → enqueue new articles.

Several replicas may run at once: a feed is polled under a Redis lease (one replica at a
time) and only if it is still due once the lease is held; per-host politeness slots are
shared through Redis. A broken or unreachable feed is logged, recorded in its state and
retried with backoff; nothing a feed does can stop the loop, and no feed is dropped
silently (degraded after N failures, retired only on 410 Gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, Protocol

import structlog

from services import metrics
from services.adapters.feedstate import FeedState, Held, RedisFeedStore
from services.adapters.fetcher import FetchResult
from services.core.errors import FetchError, ParseError
from services.core.ids import feed_id
from services.core.models import Article, FeedSource
from services.poller.digest import Digest, digest
from services.poller.hints import FeedHints, body_hints, header_hints
from services.poller.leases import Claim, Leases
from services.poller.politeness import HostBusy, HostLimiter, host_of
from services.poller.schedule import (
    Interval,
    entry_rate,
    failure_delay,
    smoothed_rate,
    success_delay,
)
from services.registry import FeedRegistry, emit_feed_event
from services.websub import WebSubSubscriber

log = structlog.get_logger("newswire.poller")

Enqueue = Callable[[list[Article]], Any]


class FetchPort(Protocol):
    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...

    async def aclose(self) -> None: ...


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
    skipped: bool = False  # not polled: leased by another replica, not due, host busy, retired
    hints: FeedHints | None = None
    pushed: bool = False
    wire_bytes: int = 0


@dataclass
class PollerConfig:
    interval: Interval
    batch_size: int = 50
    max_entries: int = 1000
    concurrency: int = 16
    degraded_after: int = 5
    moved_after: int = 3
    lease_s: float = 120.0
    host_concurrency: int = 2
    host_spacing_s: float = 0.25
    host_max_wait_s: float = 60.0
    websub_fallback_s: float = 6 * 3600.0
    flush_after_s: float = 0.2  # buffered fresh articles wait at most this long for company


@dataclass
class Poller:
    fetcher: FetchPort
    store: RedisFeedStore
    enqueue: Enqueue
    config: PollerConfig
    executor: Executor | None = None
    handles: list[Any] = field(default_factory=list)
    registry: FeedRegistry | None = None
    leases: Leases | None = None
    limiter: HostLimiter | None = None
    websub: WebSubSubscriber | None = None
    rng: random.Random | None = None
    _buffer: list[tuple[Article, str]] = field(default_factory=list, init=False, repr=False)
    _timer: asyncio.TimerHandle | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        client, keys, cfg = self.store.client, self.store.keys, self.config
        self.registry = self.registry or FeedRegistry(client, keys)
        self.leases = self.leases or Leases(client, keys, ttl_s=cfg.lease_s)
        self.limiter = self.limiter or HostLimiter(
            client,
            keys,
            max_concurrent=cfg.host_concurrency,
            min_spacing_s=cfg.host_spacing_s,
            slot_ttl_s=cfg.lease_s,
            max_wait_s=cfg.host_max_wait_s,
        )

    def feeds(self, file_feeds: Sequence[FeedSource]) -> list[FeedSource]:
        """The file's feeds merged with the registry (adds, removes, moves, retirements)."""
        assert self.registry is not None
        return self.registry.merge(file_feeds)

    async def poll_all(
        self, feeds: Sequence[FeedSource], *, only_if_due: bool = False
    ) -> list[FeedOutcome]:
        """Poll every feed once, at most `concurrency` at a time; skipped feeds are left out.

        Fresh articles of several feeds share tasks; every one is enqueued on return.
        """
        gate = asyncio.Semaphore(self.config.concurrency)

        async def guarded(feed: FeedSource) -> FeedOutcome:
            async with gate:
                return await self._poll_one(feed, only_if_due)

        try:
            outcomes = await asyncio.gather(*(guarded(f) for f in feeds))
        finally:
            self.flush()
        return [o for o in outcomes if not o.skipped]

    async def poll_feed(self, feed: FeedSource, *, only_if_due: bool = False) -> FeedOutcome:
        """Poll one feed under its lease (skipped when another replica holds it)."""
        try:
            return await self._poll_one(feed, only_if_due)
        finally:
            self.flush()

    async def _poll_one(self, feed: FeedSource, only_if_due: bool) -> FeedOutcome:
        claim = self._claim(feed, only_if_due)
        if claim.status != "ok":
            return _skipped(feed, _SKIP_REASONS[claim.status])
        assert self.leases is not None and self.limiter is not None
        host = host_of(feed.url)
        slot = claim.slot
        if not slot:
            try:
                slot = await self.limiter.acquire(host, first_wait_s=claim.wait_s)
            except HostBusy as exc:
                self.leases.release(feed.id, claim.token)
                return _skipped(feed, str(exc))
        held = Held(self.leases.key(feed.id), claim.token, self.limiter.slot_keys(host)[0], slot)
        try:
            return await self._leased(feed, FeedState.from_redis(claim.state), held)
        except BaseException:
            with contextlib.suppress(Exception):  # Redis failing: the lease expires by itself
                self.leases.release(feed.id, claim.token)
                self.limiter.release(host, slot)
            raise

    def _claim(self, feed: FeedSource, only_if_due: bool) -> Claim:
        """One round trip: lease, due, retired, state and a host slot."""
        assert self.leases is not None and self.limiter is not None
        assert self.registry is not None
        keys = self.store.keys
        return self.leases.claim(
            feed.id,
            url=feed.url,
            only_if_due=only_if_due,
            now=time.time(),
            keys=[
                keys.schedule,
                self.registry.retired_key,
                keys.feed_state(feed.id),
                *self.limiter.slot_keys(host_of(feed.url)),
            ],
            slot_args=self.limiter.slot_args(),
        )

    async def _leased(self, feed: FeedSource, state: FeedState, held: Held) -> FeedOutcome:
        started = time.monotonic()
        # one id per fetch, carried to the workers in the task headers (see runner.enqueue)
        correlation_id = uuid.uuid4().hex[:16]
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            outcome, articles = await self._guarded_poll(feed, state)
            self._after(feed, state, outcome, held, articles, correlation_id)
            duration_s = time.monotonic() - started
            self._log(outcome, duration_s)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        metrics.observe_fetch(
            outcome.status, outcome.error_class, outcome.http_status, outcome.wire_bytes,
            duration_s, entries=outcome.entries, new=outcome.new,
        )  # fmt: skip
        return outcome

    async def _guarded_poll(
        self, feed: FeedSource, state: FeedState
    ) -> tuple[FeedOutcome, list[Article]]:
        try:
            return await self._poll(feed, state)
        except (FetchError, ParseError) as exc:
            return _failed(feed, exc), []
        except Exception as exc:
            return _failed(feed, exc), []

    async def _poll(self, feed: FeedSource, state: FeedState) -> tuple[FeedOutcome, list[Article]]:
        result = await self.fetcher.fetch(
            feed.url, etag=state.etag or None, last_modified=state.last_modified or None
        )
        _track_move(state, result)
        hints = header_hints(result.headers, time.time()).merged(_stored_hints(state))
        body_hash = _hash(result.body)
        if result.not_modified or result.body is None or body_hash == state.body_hash:
            self._remember(state, result, body_hash)
            return FeedOutcome(
                feed, "unchanged", http_status=result.status, hints=hints,
                wire_bytes=result.wire_bytes,
            ), []  # fmt: skip
        parsed = await self._digest(result.body, feed, result.headers.get("content-type"))
        found = body_hints(result.body)
        hints = header_hints(result.headers, time.time()).merged(found)
        self._remember(state, result, body_hash)  # a failed enqueue forgets them (flush)
        self._learn(state, parsed, found)
        outcome = FeedOutcome(
            feed,
            "ok",
            http_status=result.status,
            entries=parsed.entries,
            problem=parsed.problem,
            hints=hints,
            wire_bytes=result.wire_bytes,
        )
        return outcome, list(parsed.articles)

    async def ingest_pushed(
        self, feed: FeedSource, body: bytes, content_type: str | None = None
    ) -> FeedOutcome:
        """Content pushed by a WebSub hub: the same digest → enqueue path as a poll."""
        state = self.store.get(feed.id)
        try:
            parsed = await self._digest(body, feed, content_type)
        except ParseError as exc:
            log.warning("websub.push_unparsable", feed_id=feed.id, error=str(exc))
            return _failed(feed, exc)
        fresh = self._fresh(parsed.articles)
        self._add(fresh, str(structlog.contextvars.get_contextvars().get("correlation_id", "")))
        self.flush()
        new = len(fresh)
        state.last_push_at = time.time()
        state.title = parsed.title or state.title
        self.store.save(feed.id, state)
        log.info("websub.pushed", feed_id=feed.id, url=feed.url, entries=parsed.entries, new=new)
        return FeedOutcome(feed, "ok", entries=parsed.entries, new=new, pushed=True)

    # --- fresh articles of several feeds share tasks --------------------------------------
    def _add(self, fresh: Sequence[Article], correlation_id: str) -> None:
        """Buffer fresh articles; full tasks leave at once, the rest within `flush_after_s`."""
        self._buffer.extend((a, correlation_id) for a in fresh)
        size = self.config.batch_size
        if len(self._buffer) >= size:
            self._send(len(self._buffer) - len(self._buffer) % size)
        if self._buffer and self._timer is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the caller flushes
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self.config.flush_after_s, self.flush)

    def flush(self) -> None:
        """Enqueue every buffered article now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._send(len(self._buffer))

    def _send(self, count: int) -> None:
        taken, self._buffer = self._buffer[:count], self._buffer[count:]
        for start in range(0, len(taken), self.config.batch_size):
            chunk = taken[start : start + self.config.batch_size]
            ids = ",".join(dict.fromkeys(c for _, c in chunk if c))
            try:
                with structlog.contextvars.bound_contextvars(correlation_id=ids):
                    self.handles.append(self.enqueue([a for a, _ in chunk]))
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
        state.last_http_status = result.status

    @staticmethod
    def _learn(state: FeedState, parsed: Digest, found: FeedHints) -> None:
        state.title = parsed.title or state.title
        dates = [a.published_at or a.updated_at for a in parsed.articles]
        stamps = [d.timestamp() for d in dates if d is not None]
        previous = max(state.entry_rate_per_day, 0.0) / 86400
        rate = smoothed_rate(previous, entry_rate(stamps, time.time()))
        state.entry_rate_per_day = -1.0 if rate is None else rate * 86400
        state.hub_url = parsed.hub_url or found.hub_url or ""
        state.self_url = found.self_url or ""
        state.body_hints = json.dumps(
            {
                "ttl_s": found.ttl_s,
                "sy_period_s": found.sy_period_s,
                "skip_hours": sorted(found.skip_hours),
                "skip_days": sorted(found.skip_days),
            }
        )

    # --- after a poll: health, events, schedule -----------------------------------------
    def _after(
        self,
        feed: FeedSource,
        state: FeedState,
        outcome: FeedOutcome,
        held: Held,
        articles: Sequence[Article],
        correlation_id: str,
    ) -> None:
        """State, schedule, release and the already-published check: one round trip."""
        now = time.time()
        state.url, state.last_polled_at = feed.url, now
        if outcome.status == "failed" and outcome.error_class == "gone":
            self._retire(feed, state, outcome, held)
            return
        if outcome.status == "failed":
            delay, reason = self._on_failure(feed, state, outcome, now)
        else:
            delay, reason = self._on_success(feed, state, outcome, now)
        state.next_poll_at, state.next_poll_reason = now + delay, reason
        outcome.next_poll_in_s, outcome.next_poll_reason = delay, reason
        seen = self.store.finish(feed.id, state, held, check_ids=[a.id for a in articles])
        fresh = [a for a in articles if a.id not in seen]
        outcome.new = len(fresh)
        self._add(fresh, correlation_id)
        if outcome.status != "failed" and state.moved_count >= self.config.moved_after:
            self._move(feed, state)

    def _on_failure(
        self, feed: FeedSource, state: FeedState, outcome: FeedOutcome, now: float
    ) -> tuple[float, str]:
        state.consecutive_errors += 1
        state.last_error = outcome.error or ""
        state.last_error_class = outcome.error_class or ""
        if state.consecutive_errors >= self.config.degraded_after:
            if state.status != "degraded":
                state.degraded_since = now
                self._event("feed.degraded", feed, state, reason=state.last_error)
            state.status = "degraded"
        else:
            state.status = "failing" if state.status != "degraded" else "degraded"
        return failure_delay(
            error_class=outcome.error_class,
            consecutive_errors=state.consecutive_errors,
            interval=self.config.interval,
            retry_after_s=outcome.retry_after_s,
            rng=self.rng,
        )

    def _on_success(
        self, feed: FeedSource, state: FeedState, outcome: FeedOutcome, now: float
    ) -> tuple[float, str]:
        if state.status == "degraded":
            self._event(
                "feed.recovered",
                feed,
                state,
                degraded_for_s=round(now - state.degraded_since, 1),
                after_errors=state.consecutive_errors,
            )
        state.status, state.consecutive_errors, state.last_success_at = "ok", 0, now
        state.degraded_since = 0.0
        pushed = self.websub is not None and self.websub.push_active(feed.id, now)
        known = bool(state.body_hints) and state.entry_rate_per_day >= 0  # learned from dates
        return success_delay(
            interval=self.config.interval,
            now=now,
            rate_per_s=state.entry_rate_per_day / 86400 if known else None,
            hints=outcome.hints,
            push_fallback_s=self.config.websub_fallback_s if pushed else None,
            rng=self.rng,
        )

    def _retire(self, feed: FeedSource, state: FeedState, outcome: FeedOutcome, held: Held) -> None:
        assert self.registry is not None
        state.status = "retired"
        state.consecutive_errors += 1
        state.last_error, state.last_error_class = outcome.error or "", "gone"
        state.next_poll_at, state.next_poll_reason = 0.0, "retired: HTTP 410 Gone"
        outcome.next_poll_reason = state.next_poll_reason
        self.store.finish(feed.id, state, held, scheduled=False)
        self.registry.retire(feed.url, outcome.error or "HTTP 410 Gone")

    def _move(self, feed: FeedSource, state: FeedState) -> None:
        """N consistent 301/308 sightings: persist the new URL, carry the state over."""
        assert self.registry is not None
        new_url, sightings = state.moved_to, state.moved_count
        self.registry.record_move(feed.url, new_url, sightings)
        moved = FeedState(**{**asdict(state), "url": new_url, "moved_to": "", "moved_count": 0})
        self.store.save(feed_id(new_url), moved)
        state.next_poll_reason = f"moved to {new_url} after {sightings} permanent redirects"
        self.store.unschedule(feed.id, state)
        log.info("feed.moved", feed_id=feed.id, url=feed.url, to=new_url, sightings=sightings)

    def _event(self, kind: str, feed: FeedSource, state: FeedState, **data: Any) -> None:
        details = {
            "url": feed.url,
            "name": feed.name,
            "consecutive_errors": state.consecutive_errors,
        }
        emit_feed_event(self.store.client, self.store.keys, kind, feed.id, {**details, **data})
        log.warning(kind, feed_id=feed.id, url=feed.url, **data)

    def _log(self, outcome: FeedOutcome, duration_s: float) -> None:
        log.info(
            "feed.polled",
            feed_id=outcome.feed.id,
            url=outcome.feed.url,
            status=outcome.status,
            http_status=outcome.http_status,
            not_modified=outcome.http_status == 304,
            bytes=outcome.wire_bytes,
            entries=outcome.entries,
            new=outcome.new,
            error=outcome.error,
            error_class=outcome.error_class,
            problem=outcome.problem,
            duration_s=round(duration_s, 4),
            next_poll_in_s=round(outcome.next_poll_in_s, 1),
            next_poll_reason=outcome.next_poll_reason,
        )

    # --- the loop -----------------------------------------------------------------------
    async def tick(self, load_feeds: Callable[[], Sequence[FeedSource]]) -> list[FeedOutcome]:
        """One scheduler pass: pushed content, WebSub renewals, then every due feed."""
        feeds = {f.id: f for f in self.feeds(load_feeds())}
        now = time.time()
        self.store.ensure_scheduled(feeds, now)
        outcomes = await self._websub_pass(feeds, now)
        due = [feeds[i] for i in self.store.due(now, 1000) if i in feeds]
        if due:
            outcomes += await self.poll_all(due, only_if_due=True)
        await self._subscribe_hubs(outcomes)
        return outcomes

    async def run_forever(
        self, load_feeds: Callable[[], Sequence[FeedSource]], stop: asyncio.Event, tick_s: float
    ) -> None:
        """Poll due feeds until `stop` is set; the feed list is re-read every tick."""
        while not stop.is_set():
            try:
                await self.tick(load_feeds)
            except Exception:
                log.exception("poller.tick_failed")
            self.flush()
            self.handles.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_s)

    async def _websub_pass(self, feeds: dict[str, FeedSource], now: float) -> list[FeedOutcome]:
        if self.websub is None:
            return []
        outcomes = []
        for item in self.websub.drain(100):
            feed = feeds.get(item.feed_id)
            if feed is not None:
                outcomes.append(await self.ingest_pushed(feed, item.body, item.content_type))
        await self.websub.renew_due(now)
        return outcomes

    async def _subscribe_hubs(self, outcomes: Sequence[FeedOutcome]) -> None:
        if self.websub is None:
            return
        for outcome in outcomes:
            if outcome.status != "ok" or outcome.pushed:
                continue
            state = self.store.get(outcome.feed.id)
            if state.hub_url:
                topic = state.self_url or outcome.feed.url
                await self.websub.ensure(outcome.feed.id, outcome.feed.url, state.hub_url, topic)


_SKIP_REASONS = {
    "leased": "leased by another replica",
    "not_due": "no longer due (polled by another replica)",
    "retired": "retired (HTTP 410); re-add it to poll again",
}


def _skipped(feed: FeedSource, reason: str) -> FeedOutcome:
    return FeedOutcome(feed, "unchanged", skipped=True, next_poll_reason=reason)


def _failed(feed: FeedSource, exc: Exception) -> FeedOutcome:
    fallback = "parse" if isinstance(exc, ParseError) else "internal"
    return FeedOutcome(
        feed,
        "failed",
        http_status=getattr(exc, "status", None),
        error=f"{type(exc).__name__}: {exc}"[:500],
        error_class=getattr(exc, "error_class", None) or fallback,
        retry_after_s=getattr(exc, "retry_after_s", None),
    )


def _track_move(state: FeedState, result: FetchResult) -> None:
    """Count consecutive identical permanent redirects; anything else resets the count."""
    target = result.permanent_redirect
    if target and target == state.moved_to:
        state.moved_count += 1
    elif target:
        state.moved_to, state.moved_count = target, 1
    else:
        state.moved_to, state.moved_count = "", 0


def _stored_hints(state: FeedState) -> FeedHints:
    if not state.body_hints:
        return FeedHints()
    raw = json.loads(state.body_hints)
    return FeedHints(
        ttl_s=raw.get("ttl_s"),
        sy_period_s=raw.get("sy_period_s"),
        skip_hours=frozenset(raw.get("skip_hours", ())),
        skip_days=frozenset(raw.get("skip_days", ())),
    )


def _hash(body: bytes | None) -> str:
    if body is None:
        return ""
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()
