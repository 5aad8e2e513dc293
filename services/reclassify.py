"""Re-score stored article events with the current taxonomy (`newswire reclassify --since`).

Pure: no Redis. The CLI reads recent events, passes them here and publishes what comes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from services.core.classify import Classifier
from services.core.models import ArticleEvent, TopicScore

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse "90m", "24h", "7d" or "1w" into a timedelta (ValueError on anything else)."""
    match = _DURATION_RE.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"invalid duration {text!r}: use a positive whole number followed by "
            "m (minutes), h (hours), d (days) or w (weeks), e.g. 24h or 7d"
        )
    amount, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(**{_UNITS[unit]: amount})


def _signature(topics: Iterable[TopicScore]) -> dict[str, float]:
    return {t.slug: t.score for t in topics}


def reclassify(
    events: Iterable[ArticleEvent], classifier: Classifier, *, now: datetime | None = None
) -> Iterator[ArticleEvent]:
    """Yield an `article.reclassified` copy of each event whose topic set or scores changed.

    The article is re-scored from its title and summary, as the workers do. `now`, when
    given, becomes the copy's `processed_at`; otherwise the original is kept.
    """
    for event in events:
        topics = classifier.classify(event.title, event.summary)
        if _signature(topics) == _signature(event.topics):
            continue
        update: dict[str, object] = {"type": "article.reclassified", "topics": topics}
        if now is not None:
            update["processed_at"] = now
        yield event.model_copy(update=update)
