"""Feed discovery: `<link rel="alternate">` feed links on an HTML page, then common paths.

Every request goes through the guarded Fetcher (SSRF checks, caps, deadline). A candidate
counts only if it parses as a feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from services.adapters.fetcher import FetchResult
from services.core.errors import FetchError, ParseError
from services.core.parse import parse_feed
from services.core.xmlguard import sniff_format

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
    "application/rdf+xml": "rdf",
}
COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feed.json")
MAX_LINKS = 20


class FetchPort(Protocol):
    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


@dataclass(frozen=True)
class FoundFeed:
    url: str
    title: str | None
    kind: str
    via: str  # "page" (the URL is a feed), "link" (rel=alternate) or "path" (common path)


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("link", "a") or len(self.links) >= MAX_LINKS:
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        kind = FEED_TYPES.get(values.get("type", "").split(";")[0].strip().lower())
        if "alternate" in rels and kind and values.get("href"):
            self.links.append((values["href"].strip(), kind, values.get("title") or None))


def feed_links(html: bytes, base_url: str) -> list[FoundFeed]:
    """rel=alternate feed links of an HTML page, absolute http(s) only, in page order."""
    finder = _LinkFinder()
    finder.feed(html[: 2 * 1024 * 1024].decode("utf-8", "replace"))
    found: dict[str, FoundFeed] = {}
    for href, kind, title in finder.links:
        url = urljoin(base_url, href)
        if urlsplit(url).scheme in ("http", "https"):
            found.setdefault(url, FoundFeed(url, title, kind, "link"))
    return list(found.values())


def as_feed(body: bytes, url: str) -> FoundFeed | None:
    """The document as a FoundFeed when it parses as a feed with a title or entries."""
    head = body[:1024].lstrip().lower()
    if sniff_format(body) != "json" and (head.startswith(b"<!doctype html") or b"<html" in head):
        return None
    try:
        parsed = parse_feed(body, max_entries=5, base_url=url)
    except ParseError:
        return None
    if not parsed.entries and not parsed.title:
        return None
    kind = "json" if parsed.format.startswith("json") else parsed.format or "feed"
    return FoundFeed(url, parsed.title, kind, "page")


async def discover(
    fetcher: FetchPort, url: str, *, paths: Sequence[str] = COMMON_PATHS
) -> list[FoundFeed]:
    """Feeds found for `url`: itself if it is a feed, else its links, else common paths."""
    result = await fetcher.fetch(url)
    body = result.body or b""
    itself = as_feed(body, result.url)
    if itself is not None:
        return [itself]
    linked = feed_links(body, result.url)
    if linked:
        return linked
    return await _probe_paths(fetcher, result.url, paths)


async def _probe_paths(fetcher: FetchPort, page_url: str, paths: Sequence[str]) -> list[FoundFeed]:
    parts = urlsplit(page_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    found: list[FoundFeed] = []
    for path in paths:
        candidate = origin + path
        try:
            result = await fetcher.fetch(candidate)
        except FetchError:
            continue
        feed = as_feed(result.body or b"", result.url) if result.body else None
        if feed is not None and feed.url not in {f.url for f in found}:
            found.append(FoundFeed(feed.url, feed.title, feed.kind, "path"))
    return found
