"""When to poll a feed next, and why. Pure: given the outcome, the state and `now`."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    min_s: float
    max_s: float
    default_s: float


def next_poll_delay(
    *,
    ok: bool,
    consecutive_errors: int,
    interval: Interval,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> tuple[float, str]:
    """Seconds until the next poll and the reason, with ±10% jitter."""
    jitter = (rng or random).uniform(0.9, 1.1)
    if ok:
        return interval.default_s * jitter, "regular interval"
    if retry_after_s is not None:
        delay = min(max(retry_after_s, interval.min_s / 10), interval.max_s)
        return delay, f"server asked to retry after {retry_after_s:.0f}s"
    base = interval.min_s * 2 ** min(consecutive_errors - 1, 16)
    delay = min(base, interval.max_s) * jitter
    return delay, f"backoff after {consecutive_errors} consecutive error(s)"
