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
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import structlog

from services import metrics
from services.adapters.feedstate import FeedState, Held, RedisFeedStore, published_of
from services.adapters.fetcher import FetchResult
from services.core.errors import FetchError, ParseError
from services.core.ids import feed_id
from services.core.models import Article, FeedSource
from services.poller import aftercare
from services.poller.buffer import Enqueue, EnqueueBuffer
from services.poller.digest import Digest, digest
from services.poller.hints import body_hints, header_hints
from services.poller.leases import Claim, Leases
from services.poller.outcome import SKIP_REASONS, FeedOutcome, PollerConfig, failed, skipped
from services.poller.politeness import HostBusy, HostLimiter, host_of
from services.poller.roundtrip import Coalescer
from services.registry import FeedRegistry, emit_feed_event
from services.websub import WebSubSubscriber

log = structlog.get_logger("newswire.poller")

__all__ = ["Enqueue", "FeedOutcome", "FetchPort", "Poller", "PollerConfig"]


class FetchPort(Protocol):
    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...

    async def aclose(self) -> None: ...


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
    _buffer: EnqueueBuffer = field(init=False, repr=False)
    _redis: Coalescer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        client, keys, cfg = self.store.client, self.store.keys, self.config
        self._redis = Coalescer(client)
        self._buffer = EnqueueBuffer(
            self.enqueue,
            self.store,
            self._keep,
            cfg.batch_size,
            cfg.flush_after_s,
        )
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
        claim = await self._claim(feed, only_if_due)
        if claim.status != "ok":
            return skipped(feed, SKIP_REASONS[claim.status])
        assert self.leases is not None and self.limiter is not None
        host = host_of(feed.url)
        slot = claim.slot
        if not slot:
            try:
                slot = await self.limiter.acquire(host, first_wait_s=claim.wait_s)
            except HostBusy as exc:
                self.leases.release(feed.id, claim.token)
                return skipped(feed, str(exc))
        held = Held(self.leases.key(feed.id), claim.token, self.limiter.slot_keys(host)[0], slot)
        try:
            return await self._leased(feed, FeedState.from_redis(claim.state), held)
        except BaseException:
            with contextlib.suppress(Exception):  # Redis failing: the lease expires by itself
                self.leases.release(feed.id, claim.token)
                self.limiter.release(host, slot)
            raise

    async def _claim(self, feed: FeedSource, only_if_due: bool) -> Claim:
        """One script call (shared round trip): lease, due, retired, state and a host slot."""
        assert self.leases is not None and self.limiter is not None
        assert self.registry is not None
        keys = self.store.keys
        call = self.leases.claim_call(
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
        return call.result(await self._redis.call(call.script, call.keys, call.args))

    async def _leased(self, feed: FeedSource, state: FeedState, held: Held) -> FeedOutcome:
        started = time.monotonic()
        loaded = state.as_mapping()  # finish writes back only what changed
        # one id per fetch, carried to the workers in the task headers (see runner.enqueue)
        correlation_id = uuid.uuid4().hex[:16]
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            outcome, articles = await self._guarded_poll(feed, state)
            await self._after(feed, state, outcome, held, articles, correlation_id, loaded)
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
            return failed(feed, exc), []
        except Exception as exc:
            return failed(feed, exc), []

    async def _poll(self, feed: FeedSource, state: FeedState) -> tuple[FeedOutcome, list[Article]]:
        result = await self.fetcher.fetch(
            feed.url, etag=state.etag or None, last_modified=state.last_modified or None
        )
        aftercare.track_move(state, result)
        hints = header_hints(result.headers, time.time()).merged(aftercare.stored_hints(state))
        body_hash = aftercare.body_hash(result.body)
        if result.not_modified or result.body is None or body_hash == state.body_hash:
            aftercare.remember(state, result, body_hash)
            return FeedOutcome(
                feed, "unchanged", http_status=result.status, hints=hints,
                wire_bytes=result.wire_bytes,
            ), []  # fmt: skip
        parsed = await self._digest(result.body, feed, result.headers.get("content-type"))
        found = body_hints(result.body)
        hints = header_hints(result.headers, time.time()).merged(found)
        aftercare.remember(state, result, body_hash)  # a failed enqueue forgets them (flush)
        aftercare.learn(state, parsed, found)
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
            return failed(feed, exc)
        fresh = self._fresh(parsed.articles)
        self._add(fresh, str(structlog.contextvars.get_contextvars().get("correlation_id", "")))
        self.flush()
        new = len(fresh)
        state.last_push_at = time.time()
        state.title = parsed.title or state.title
        self.store.save(feed.id, state)
        log.info("websub.pushed", feed_id=feed.id, url=feed.url, entries=parsed.entries, new=new)
        return FeedOutcome(feed, "ok", entries=parsed.entries, new=new, pushed=True)

    # --- fresh articles of several feeds share tasks (services/poller/buffer.py) --------
    def _add(self, fresh: Sequence[Article], correlation_id: str) -> None:
        self._buffer.add(fresh, correlation_id)

    def flush(self) -> None:
        """Enqueue every buffered article now."""
        self._buffer.flush()

    def _keep(self, handle: Any) -> None:
        self.handles.append(handle)  # looked up per call: callers may swap `handles`

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

    # --- after a poll: health, events, schedule -----------------------------------------
    async def _after(
        self,
        feed: FeedSource,
        state: FeedState,
        outcome: FeedOutcome,
        held: Held,
        articles: Sequence[Article],
        correlation_id: str,
        loaded: Mapping[str, Any],
    ) -> None:
        """State, schedule, release and the already-published check: one (shared) script call."""
        now = time.time()
        state.url, state.last_polled_at = feed.url, now
        if outcome.status == "failed" and outcome.error_class == "gone":
            self._retire(feed, state, outcome, held)
            return
        emit = partial(self._event, feed=feed, state=state)
        if outcome.status == "failed":
            delay, reason = aftercare.on_failure(state, outcome, now, self.config, emit, self.rng)
        else:
            pushed = self.websub is not None and self.websub.push_active(feed.id, now)
            delay, reason = aftercare.on_success(
                state, outcome, now, self.config, emit, self.rng, pushed=pushed
            )
        state.next_poll_at, state.next_poll_reason = now + delay, reason
        outcome.next_poll_in_s, outcome.next_poll_reason = delay, reason
        ids = [a.id for a in articles]
        keys, args = self.store.finish_args(feed.id, state, held, check_ids=ids, loaded=loaded)
        seen = published_of(ids, await self._redis.call(self.store.finish_script, keys, args))
        fresh = [a for a in articles if a.id not in seen]
        outcome.new = len(fresh)
        self._add(fresh, correlation_id)
        if outcome.status != "failed" and state.moved_count >= self.config.moved_after:
            self._move(feed, state)

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
        moved = FeedState(
            **{**state.as_mapping(), "url": new_url, "moved_to": "", "moved_count": 0}
        )
        self.store.save(feed_id(new_url), moved)
        state.next_poll_reason = f"moved to {new_url} after {sightings} permanent redirects"
        self.store.unschedule(feed.id, state)
        log.info("feed.moved", feed_id=feed.id, url=feed.url, to=new_url, sightings=sightings)

    def _event(self, kind: str, *, feed: FeedSource, state: FeedState, **data: Any) -> None:
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
