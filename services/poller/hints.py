"""Publisher hints on when to poll next: RSS ttl, skipHours/skipDays, sy:updatePeriod and
sy:updateFrequency (from the body), Cache-Control max-age and Expires (from the headers).

Pure and bounded: the body is searched with linear regexes over its first `SCAN_BYTES`
(channel-level elements precede the items in practice). Each hint is a "not before" bound.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

SCAN_BYTES = 256 * 1024
_TTL = re.compile(rb"<ttl>\s*(\d{1,7})\s*</ttl>", re.I)
_SKIP_HOURS = re.compile(rb"<skipHours>(.{0,2000}?)</skipHours>", re.I | re.S)
_SKIP_DAYS = re.compile(rb"<skipDays>(.{0,2000}?)</skipDays>", re.I | re.S)
_HOUR = re.compile(rb"<hour>\s*(\d{1,2})\s*</hour>", re.I)
_DAY = re.compile(rb"<day>\s*([A-Za-z]{3,9})\s*</day>", re.I)
_SY_PERIOD = re.compile(rb"<(?:[\w-]{1,20}:)?updatePeriod>\s*(\w{1,10})\s*<", re.I)
_SY_FREQ = re.compile(rb"<(?:[\w-]{1,20}:)?updateFrequency>\s*(\d{1,6})\s*<", re.I)
_LINK_TAG = re.compile(rb"<(?:[\w-]{1,20}:)?link\b([^<>]{0,2000})>", re.I)
_ATTR = re.compile(rb"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_MAX_AGE = re.compile(r"(?:^|[,\s])(s-maxage|max-age)\s*=\s*\"?(\d{1,10})", re.I)
_NO_CACHE = re.compile(r"(?:^|[,\s])(no-cache|no-store)\b", re.I)

PERIOD_S = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class FeedHints:
    """Hints found in a document and its response headers (None/empty when absent)."""

    ttl_s: float | None = None
    sy_period_s: float | None = None
    max_age_s: float | None = None
    expires_at: float | None = None
    skip_hours: frozenset[int] = frozenset()
    skip_days: frozenset[int] = frozenset()  # 0 = Monday (datetime.weekday())
    self_url: str | None = None
    hub_url: str | None = None

    def merged(self, other: FeedHints) -> FeedHints:
        """Fields of `self`, filled in from `other` where `self` has none."""
        return FeedHints(
            ttl_s=self.ttl_s if self.ttl_s is not None else other.ttl_s,
            sy_period_s=self.sy_period_s if self.sy_period_s is not None else other.sy_period_s,
            max_age_s=self.max_age_s if self.max_age_s is not None else other.max_age_s,
            expires_at=self.expires_at if self.expires_at is not None else other.expires_at,
            skip_hours=self.skip_hours or other.skip_hours,
            skip_days=self.skip_days or other.skip_days,
            self_url=self.self_url or other.self_url,
            hub_url=self.hub_url or other.hub_url,
        )


def body_hints(body: bytes) -> FeedHints:
    """ttl, skipHours, skipDays, sy:updatePeriod/Frequency and hub/self links of a document."""
    head = body[:SCAN_BYTES]
    ttl = _TTL.search(head)
    links = _links(head)
    return FeedHints(
        ttl_s=int(ttl.group(1)) * 60.0 if ttl and int(ttl.group(1)) > 0 else None,
        sy_period_s=_sy_period(head),
        skip_hours=_skip_hours(head),
        skip_days=_skip_days(head),
        self_url=links.get("self"),
        hub_url=links.get("hub"),
    )


def header_hints(headers: Mapping[str, str], now: float) -> FeedHints:
    """Cache-Control max-age (s-maxage preferred) and Expires; ignored with no-cache/no-store."""
    control = headers.get("cache-control", "")
    if _NO_CACHE.search(control):
        return FeedHints()
    ages = dict((k.lower(), float(v)) for k, v in _MAX_AGE.findall(control))
    max_age = ages.get("s-maxage", ages.get("max-age"))
    expires = _http_date(headers.get("expires"))
    return FeedHints(
        max_age_s=max_age if max_age and max_age > 0 else None,
        expires_at=expires if expires is not None and expires > now else None,
    )


def not_before(hints: FeedHints, now: float, ceiling_s: float) -> tuple[float, str]:
    """Earliest time allowed by ttl / max-age / Expires / sy:* (capped at `ceiling_s`), and why."""
    bounds = {
        "rss ttl": hints.ttl_s,
        "cache-control max-age": hints.max_age_s,
        "sy:updatePeriod/updateFrequency": hints.sy_period_s,
        "expires": None if hints.expires_at is None else hints.expires_at - now,
    }
    best = max(((v, k) for k, v in bounds.items() if v is not None and v > 0), default=None)
    if best is None:
        return now, ""
    delay = min(best[0], ceiling_s)
    return now + delay, f"{best[1]} {best[0]:.0f}s" + (" (capped)" if best[0] > ceiling_s else "")


def skip_to_allowed(when: float, hints: FeedHints) -> tuple[float, str]:
    """Move `when` (epoch s) forward out of skipHours/skipDays (UTC); unchanged if allowed."""
    if not hints.skip_hours and not hints.skip_days:
        return when, ""
    if len(hints.skip_hours) >= 24 or len(hints.skip_days) >= 7:
        return when, ""  # a feed that forbids every hour/day is ignored, not obeyed
    moment = datetime.fromtimestamp(when, UTC)
    for _ in range(24 * 8):
        if moment.hour not in hints.skip_hours and moment.weekday() not in hints.skip_days:
            break
        moment = (moment + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    moved = moment.timestamp()
    return (moved, "skipHours/skipDays") if moved > when else (when, "")


def _sy_period(head: bytes) -> float | None:
    period = _SY_PERIOD.search(head)
    if not period:
        return None
    seconds = PERIOD_S.get(period.group(1).decode("ascii", "replace").lower())
    if seconds is None:
        return None
    freq = _SY_FREQ.search(head)
    count = int(freq.group(1)) if freq else 1
    return seconds / max(count, 1)


def _skip_hours(head: bytes) -> frozenset[int]:
    block = _SKIP_HOURS.search(head)
    if not block:
        return frozenset()
    hours = {int(h) for h in _HOUR.findall(block.group(1))}
    return frozenset(h % 24 for h in hours if 0 <= h <= 24)  # some feeds use 1-24


def _skip_days(head: bytes) -> frozenset[int]:
    block = _SKIP_DAYS.search(head)
    if not block:
        return frozenset()
    names = (d.decode("ascii").lower() for d in _DAY.findall(block.group(1)))
    return frozenset(DAYS.index(n) for n in names if n in DAYS)


def _links(head: bytes) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in _LINK_TAG.finditer(head):
        attrs: dict[bytes, bytes] = {
            m.group(1).lower(): (m.group(2) or m.group(3) or b"")
            for m in _ATTR.finditer(tag.group(1))
        }
        rel = attrs.get(b"rel", b"").decode("utf-8", "replace").strip().lower()
        href = attrs.get(b"href", b"").decode("utf-8", "replace").strip()
        if rel in ("hub", "self") and href.startswith(("http://", "https://")):
            found.setdefault(rel, href)
    return found


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
