"""What one poll of one feed came to (FeedOutcome), and the poller's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.core.errors import ParseError
from services.core.models import FeedSource
from services.poller.hints import FeedHints
from services.poller.schedule import Interval


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


SKIP_REASONS = {
    "leased": "leased by another replica",
    "not_due": "no longer due (polled by another replica)",
    "retired": "retired (HTTP 410); re-add it to poll again",
}


def skipped(feed: FeedSource, reason: str) -> FeedOutcome:
    return FeedOutcome(feed, "unchanged", skipped=True, next_poll_reason=reason)


def failed(feed: FeedSource, exc: Exception) -> FeedOutcome:
    fallback = "parse" if isinstance(exc, ParseError) else "internal"
    return FeedOutcome(
        feed,
        "failed",
        http_status=getattr(exc, "status", None),
        error=f"{type(exc).__name__}: {exc}"[:500],
        error_class=getattr(exc, "error_class", None) or fallback,
        retry_after_s=getattr(exc, "retry_after_s", None),
    )
