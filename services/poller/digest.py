"""Turn a fetched body into normalised articles (parse → normalise), in one picklable call.

Module-level and pure so the poller can run it in a process pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

from services.core.dedupe import shared_links, untrustworthy_guids
from services.core.models import Article, FeedRef, RawEntry
from services.core.normalise import absolute_http_url, normalise
from services.core.parse import parse_feed


@dataclass(frozen=True)
class Digest:
    title: str | None
    format: str
    problem: str | None
    entries: int
    articles: tuple[Article, ...]
    hub_url: str | None = None


def digest(
    body: bytes,
    *,
    feed_id: str,
    feed_url: str,
    fetched_at: datetime,
    max_entries: int,
    content_type: str | None = None,
) -> Digest:
    """Parse `body` and normalise its entries; raises ParseError for a non-feed."""
    parsed = parse_feed(body, max_entries=max_entries, base_url=feed_url, content_type=content_type)
    ref = FeedRef(id=feed_id, url=feed_url, title=parsed.title)
    base = urljoin(feed_url, parsed.link) if parsed.link else feed_url
    entries = _trustworthy_guids(parsed.entries)
    shared = _shared_links(entries, base)
    articles = []
    for raw in entries:
        article = normalise(
            raw, feed=ref, fetched_at=fetched_at, base_url=base, shared_links=shared
        )
        if article is not None:
            articles.append(article)
    return Digest(
        title=parsed.title,
        format=parsed.format,
        problem=parsed.problem,
        entries=len(parsed.entries),
        articles=tuple({a.id: a for a in articles}.values()),
        hub_url=parsed.hub_url,
    )


def _trustworthy_guids(entries: tuple[RawEntry, ...]) -> list[RawEntry]:
    """A GUID one document uses for items with different links identifies nothing: drop it."""
    bad = untrustworthy_guids([e.guid for e in entries], [e.link for e in entries])
    return [e.model_copy(update={"guid": None}) if e.guid in bad else e for e in entries]


def _shared_links(entries: list[RawEntry], base: str) -> frozenset[str]:
    """Canonical links several items carry (e.g. the site's home page) are not identities."""
    links = [absolute_http_url(e.link, base) for e in entries]
    return shared_links(links, [e.title for e in entries])
