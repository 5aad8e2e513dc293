"""When to poll a feed next, and why. Pure: given the outcome, the state and `now`.

Success: the interval follows the feed's observed entry rate (one expected new entry per
poll), bounded by the floor and ceiling, with ±10% jitter; publisher hints (ttl, max-age,
Expires, sy:*) are "not before" bounds and skipHours/skipDays move the time out of the
skipped hours. A feed pushed by WebSub is polled no more often than the fallback interval.
Failure: exponential backoff per error class with ±20% jitter, capped at the ceiling;
Retry-After is a lower bound.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.poller.hints import FeedHints, not_before, skip_to_allowed

RATE_WINDOW_S = 7 * 86400.0
MIN_SPAN_S = 3600.0

# Backoff base per error class, as a multiple of the floor (first retry after one failure).
BACKOFF_FACTOR = {
    "dns": 2.0,
    "connect": 1.0,
    "tls": 4.0,
    "timeout": 1.0,
    "protocol": 1.0,
    "http_5xx": 1.0,
    "http_429": 2.0,
    "http_4xx": 4.0,
    "parse": 2.0,
    "too_large": 8.0,
    "too_many_redirects": 4.0,
}


@dataclass(frozen=True)
class Interval:
    min_s: float
    max_s: float
    default_s: float


def entry_rate(published: Sequence[float], now: float) -> float | None:
    """Entries per second over the last 7 days from entry timestamps; None without dates.

    A feed that carries only its newest items spans less than the window, so the rate is
    count / span (span ≥ 1 h); 0.0 when the document is dated but nothing is recent.
    """
    if not published:
        return None
    recent = [t for t in published if now - RATE_WINDOW_S < t <= now + 3600]
    if not recent:
        return 0.0
    span = max(now - min(recent), MIN_SPAN_S)
    return len(recent) / span


def smoothed_rate(previous: float, observed: float | None) -> float | None:
    """EWMA (α = 0.5) of the entry rate; `previous` ≤ 0 means no history."""
    if observed is None:
        return previous if previous > 0 else None
    return observed if previous <= 0 else 0.5 * previous + 0.5 * observed


def success_delay(
    *,
    interval: Interval,
    now: float,
    rate_per_s: float | None = None,
    hints: FeedHints | None = None,
    push_fallback_s: float | None = None,
    rng: random.Random | None = None,
) -> tuple[float, str]:
    """Seconds until the next poll after a successful one, and the reason."""
    base, reason = _rate_interval(interval, rate_per_s)
    if push_fallback_s is not None and push_fallback_s > base:
        base, reason = (
            push_fallback_s,
            f"WebSub push active; fallback poll every {push_fallback_s:.0f}s",
        )
    jitter = (rng or random).uniform(0.9, 1.1)
    delay = min(max(base * jitter, interval.min_s), interval.max_s)
    when, reasons = now + delay, [reason]
    if hints is not None:
        bound, why = not_before(hints, now, interval.max_s)
        if bound > when:
            when, reasons = bound, [f"not before {why}"]
        when, skipped = skip_to_allowed(when, hints)
        if skipped:
            reasons.append(skipped)
    return when - now, "; ".join(reasons)


def failure_delay(
    *,
    error_class: str | None,
    consecutive_errors: int,
    interval: Interval,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> tuple[float, str]:
    """Exponential backoff for this error class, ±20% jitter, capped; Retry-After is a floor."""
    label = error_class or "error"
    factor = BACKOFF_FACTOR.get(label, 1.0)
    n = max(consecutive_errors, 1)
    base = interval.min_s * factor * 2 ** min(n - 1, 30)
    delay = min(base * (rng or random).uniform(0.8, 1.2), interval.max_s)
    reason = f"backoff ({label}) after {n} consecutive error(s)"
    if retry_after_s is not None and retry_after_s >= delay:
        spread = (rng or random).uniform(1.0, 1.1)
        delay = min(retry_after_s * spread, interval.max_s)
        reason = f"server asked to retry after {retry_after_s:.0f}s ({label})"
    if delay >= interval.max_s:
        reason += f"; capped at {interval.max_s:.0f}s"
    return delay, reason


def next_poll_delay(
    *,
    ok: bool,
    consecutive_errors: int,
    interval: Interval,
    retry_after_s: float | None = None,
    error_class: str | None = None,
    rng: random.Random | None = None,
) -> tuple[float, str]:
    """Seconds until the next poll and the reason (no rate or hints: the default interval)."""
    if ok:
        return success_delay(interval=interval, now=0.0, rng=rng)
    return failure_delay(
        error_class=error_class,
        consecutive_errors=consecutive_errors,
        interval=interval,
        retry_after_s=retry_after_s,
        rng=rng,
    )


def _rate_interval(interval: Interval, rate_per_s: float | None) -> tuple[float, str]:
    if rate_per_s is None:
        return interval.default_s, "default interval (no dated entries)"
    if rate_per_s <= 0:
        return interval.max_s, "no entry in the last 7 days"
    raw = 1.0 / rate_per_s
    bounded = min(max(raw, interval.min_s), interval.max_s)
    return bounded, f"entry rate {rate_per_s * 86400:.1f}/day → every {bounded:.0f}s"
