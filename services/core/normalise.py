"""normalise: RawEntry → Article (absolute http(s) link, canonical URL, UTC times, plain text)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import nh3

from services.core.canonical import canonicalize_url
from services.core.dedupe import content_hash, is_site_root
from services.core.ids import article_id
from services.core.models import Article, FeedRef, RawEntry

SUMMARY_MAX_CHARS = 4000
TITLE_MAX_CHARS = 500
CONTENT_MAX_CHARS = 200_000
_UNSAFE_IN_URL = re.compile(r"[\s\x00-\x1f\x7f]")


class _Enough(Exception):
    """Stops the parse: the first `limit` characters of the plain text are known."""


class _TextExtractor(HTMLParser):
    """Collects text nodes; block tags become spaces. stdlib is enough for plain text.

    A long document stops being parsed as soon as its first `limit` characters of collapsed
    text are known (`text` is then set): they cannot change whatever follows.
    """

    _SKIP = frozenset({"script", "style", "template"})

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.text: str | None = None
        self._skipping = 0
        self._limit = limit
        self._size = 0  # characters of text collected
        self._check_at = limit  # collapsing never lengthens text: no answer before this

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
            self._size += len(data)
            if self._size >= self._check_at:
                self._stop_if_known()

    def _stop_if_known(self) -> None:
        """Raise _Enough when the collapsed text so far already holds `limit` characters
        before any trailing space: later text only extends it."""
        text = _collapsed("".join(self.parts))
        if len(text) >= self._limit:
            self.text = text[: self._limit]
            raise _Enough
        self._check_at = 2 * self._size  # doubling keeps the checks linear overall


def plain_text(markup: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    """HTML (or text with entities) → collapsed plain text, cut at `limit` characters."""
    if "<" not in markup:
        text = html.unescape(markup)
    else:
        extractor = _TextExtractor(limit)
        try:
            extractor.feed(markup)
            extractor.close()
        except _Enough:
            return extractor.text or ""
        text = "".join(extractor.parts)
    return _collapsed(text)[:limit]


def _collapsed(text: str) -> str:
    """Whitespace runs as one space, none at the ends (str.split and regex `\\s` agree on what
    whitespace is; split/join is the faster of the two)."""
    return " ".join(text.split())


@lru_cache(maxsize=4096)  # per entry: its link twice (shared links, normalise), the base once
def absolute_http_url(link: str | None, base: str | None) -> str | None:
    """Resolve `link` against `base`; None unless the result is an absolute http(s) URL."""
    if not link:
        return None
    link = link.strip()
    if _UNSAFE_IN_URL.search(link):  # whitespace or control characters: not a link
        return None
    resolved = urljoin(base or "", link)
    parts = urlsplit(resolved)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return resolved


def normalise(
    raw: RawEntry,
    *,
    feed: FeedRef,
    fetched_at: datetime,
    base_url: str | None = None,
    shared_links: frozenset[str] = frozenset(),
) -> Article | None:
    """Build an Article; None when the entry has no usable absolute http(s) link."""
    base = base_url or feed.url
    url = absolute_http_url(raw.link, base)
    if url is None and raw.guid:
        url = absolute_http_url(raw.guid, None)
    if url is None:
        return None
    title = plain_text(raw.title, TITLE_MAX_CHARS)
    summary = plain_text(raw.summary_html or raw.content_html or "")
    canonical = canonicalize_url(url)
    chash = content_hash(title, summary)
    return Article(
        id=article_id(primary_identity(raw.guid, canonical, chash, feed.id, shared_links)),
        guid=raw.guid,
        url=url,
        canonical_url=canonical,
        title=title,
        summary=summary,
        content_html=_sanitised(raw.content_html, absolute_http_url(base, None)),
        authors=raw.authors,
        categories=raw.categories,
        published_at=raw.published_at,
        updated_at=raw.updated_at,
        fetched_at=fetched_at,
        feed=feed,
        content_hash=chash,
    )


def primary_identity(
    guid: str | None, canonical_url: str, chash: str, feed_id: str, shared: frozenset[str]
) -> str:
    """The most stable identity: canonical URL, unless shared by several items or a home page."""
    if canonical_url not in shared and not is_site_root(canonical_url):
        return f"url:{canonical_url}"
    if guid:
        return f"guid:{feed_id}:{guid}"
    return f"hash:{chash}"


def _sanitised(content_html: str | None, base: str | None) -> str | None:
    """Allow-listed markup (nh3); relative links resolved against `base` when there is one."""
    if not content_html:
        return None
    try:
        if base:
            return nh3.clean(
                content_html[:CONTENT_MAX_CHARS], url_relative=("rewrite_with_base", base)
            )
        return nh3.clean(content_html[:CONTENT_MAX_CHARS])
    except ValueError:  # a base nh3 cannot parse: keep relative links as they are
        return nh3.clean(content_html[:CONTENT_MAX_CHARS])
