"""After a poll: what the feed's state learns (validators, hints, rate) and its health.

Pure functions of the state and the outcome; the poller saves the state in one round trip.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from typing import Any

from services.adapters.feedstate import FeedState
from services.adapters.fetcher import FetchResult
from services.poller.digest import Digest
from services.poller.hints import FeedHints
from services.poller.outcome import FeedOutcome, PollerConfig
from services.poller.schedule import entry_rate, failure_delay, smoothed_rate, success_delay

Emit = Callable[..., None]  # emit(kind, **data): a feed event (degraded, recovered)


def remember(state: FeedState, result: FetchResult, body_hash: str) -> None:
    """Keep the response's validators and status (a failed enqueue forgets them)."""
    state.etag = result.etag or state.etag
    state.last_modified = result.last_modified or state.last_modified
    state.body_hash = body_hash or state.body_hash
    state.last_http_status = result.status


def learn(state: FeedState, parsed: Digest, found: FeedHints) -> None:
    """Title, entry rate, hub and the body's scheduling hints."""
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


def on_failure(
    state: FeedState,
    outcome: FeedOutcome,
    now: float,
    config: PollerConfig,
    emit: Emit,
    rng: random.Random | None,
) -> tuple[float, str]:
    """Count the failure, degrade after `degraded_after`; the retry delay and its reason."""
    state.consecutive_errors += 1
    state.last_error = outcome.error or ""
    state.last_error_class = outcome.error_class or ""
    if state.consecutive_errors >= config.degraded_after:
        if state.status != "degraded":
            state.degraded_since = now
            emit("feed.degraded", reason=state.last_error)
        state.status = "degraded"
    else:
        state.status = "failing" if state.status != "degraded" else "degraded"
    return failure_delay(
        error_class=outcome.error_class,
        consecutive_errors=state.consecutive_errors,
        interval=config.interval,
        retry_after_s=outcome.retry_after_s,
        rng=rng,
    )


def on_success(
    state: FeedState,
    outcome: FeedOutcome,
    now: float,
    config: PollerConfig,
    emit: Emit,
    rng: random.Random | None,
    *,
    pushed: bool,
) -> tuple[float, str]:
    """Healthy again (a recovery event after degradation); the next poll's delay and reason."""
    if state.status == "degraded":
        emit(
            "feed.recovered",
            degraded_for_s=round(now - state.degraded_since, 1),
            after_errors=state.consecutive_errors,
        )
    state.status, state.consecutive_errors, state.last_success_at = "ok", 0, now
    state.degraded_since = 0.0
    known = bool(state.body_hints) and state.entry_rate_per_day >= 0  # learned from dates
    return success_delay(
        interval=config.interval,
        now=now,
        rate_per_s=state.entry_rate_per_day / 86400 if known else None,
        hints=outcome.hints,
        push_fallback_s=config.websub_fallback_s if pushed else None,
        rng=rng,
    )


def track_move(state: FeedState, result: FetchResult) -> None:
    """Count consecutive identical permanent redirects; anything else resets the count."""
    target = result.permanent_redirect
    if target and target == state.moved_to:
        state.moved_count += 1
    elif target:
        state.moved_to, state.moved_count = target, 1
    else:
        state.moved_to, state.moved_count = "", 0


def stored_hints(state: FeedState) -> FeedHints:
    """The body hints learned at the last full fetch (a 304 carries none)."""
    if not state.body_hints:
        return FeedHints()
    raw: dict[str, Any] = json.loads(state.body_hints)
    return FeedHints(
        ttl_s=raw.get("ttl_s"),
        sy_period_s=raw.get("sy_period_s"),
        skip_hours=frozenset(raw.get("skip_hours", ())),
        skip_days=frozenset(raw.get("skip_days", ())),
    )


def body_hash(body: bytes | None) -> str:
    if body is None:
        return ""
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()
