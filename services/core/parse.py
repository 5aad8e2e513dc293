"""parse_feed: bytes of a feed document → ParsedFeed (RSS 0.9x/1.0/2.0, Atom, RDF, JSON Feed).

feedparser only ever sees bytes (never a URL or path: it would read local files and has no
timeout), after DOCTYPE/ENTITY declarations are neutralised (entity-expansion bombs, XXE).
A malformed document that still yields entries is returned with `problem` set.

feedparser's own HTML sanitiser and relative-URI rewriting are off (a third of its time):
every markup field leaves the poller through `normalise` — titles and summaries as plain
text, content through nh3 (allow-list, relative links resolved) — and so does the feed
title here. Element links (`<link>`, permalink guids) are still resolved by feedparser.
"""

from __future__ import annotations

import calendar
import io
import zlib
from datetime import UTC, datetime
from typing import Any

import feedparser

from services.core import feedparser_speedups
from services.core.errors import ParseError
from services.core.jsonfeed import parse_jsonfeed
from services.core.models import ParsedFeed, RawEntry
from services.core.normalise import TITLE_MAX_CHARS, plain_text
from services.core.xmlguard import neutralise_doctype, sniff_format

MAX_FIELD_CHARS = 100_000
_get = dict.get  # feedparser's FeedParserDict is a dict; see _entry


feedparser_speedups.install()


def parse_feed(
    body: bytes,
    *,
    max_entries: int = 1000,
    base_url: str | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Parse one feed document; raise ParseError when it is not a feed at all.

    `base_url` (the URL fetched) resolves relative links. `content_type` is accepted for
    the caller's convenience but deliberately NOT given to feedparser: a charset there
    (e.g. utf-7) would make feedparser decode differently from `neutralise_doctype`.
    """
    body = _gunzipped(body)
    if sniff_format(body) == "json":
        parsed = parse_jsonfeed(body)
        return parsed.model_copy(update={"entries": parsed.entries[:max_entries]})
    del content_type
    headers = {"content-location": base_url} if base_url else {}
    result = feedparser.parse(
        io.BytesIO(neutralise_doctype(body)),
        sanitize_html=False,  # normalise sanitises (nh3) or flattens every markup field
        resolve_relative_uris=False,  # nh3 resolves links in content (normalise)
        response_headers=headers,
    )
    entries = tuple(_entry(e) for e in result.entries[:max_entries])
    problem = _problem(result)
    if not entries and not result.feed.get("title") and problem:
        raise ParseError(f"not a feed: {problem}")
    feed = result.feed
    return ParsedFeed(
        format=result.get("version") or "unknown",
        title=_title(feed.get("title")),
        link=feed.get("link"),
        entries=entries,
        problem=problem,
        hub_url=_link_rel(feed, "hub"),
        self_url=_link_rel(feed, "self"),
        ttl_minutes=_int(feed.get("ttl")),
    )


def _gunzipped(body: bytes, cap: int = 64 * 1024 * 1024) -> bytes:
    """A body that is itself a gzip file (a `.gz` served without Content-Encoding)."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, cap)
    except zlib.error as exc:
        raise ParseError(f"gzip-compressed body is corrupt: {exc}") from None
    if inflater.unconsumed_tail:
        raise ParseError(f"gzip-compressed body inflates beyond {cap} bytes: refused")
    return data


def _problem(result: Any) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    name = type(exc).__name__
    if name in ("CharacterEncodingOverride", "NonXMLContentType"):
        return None  # harmless: feedparser recovered the document
    return f"{name}: {str(exc)[:200]}"


def _entry(e: Any) -> RawEntry:
    """A RawEntry from one feedparser entry. Its keys are read with plain `dict.get`: none of
    them is an alias of feedparser's dict, whose own `get` costs a dozen Python-level steps."""
    content = _get(e, "content") or []
    content_html = _get(content[0], "value") if content else None
    return RawEntry(
        guid=_clip(_get(e, "id")),
        link=_get(e, "link"),
        title=_clip(_get(e, "title")) or "",
        summary_html=_clip(_get(e, "summary")) or "",
        content_html=_clip(content_html),
        authors=tuple(name for a in _get(e, "authors", ()) if (name := _get(a, "name"))),
        categories=tuple(term for t in _get(e, "tags", ()) if (term := _get(t, "term"))),
        published_at=_when(_get(e, "published_parsed")),
        updated_at=_when(_updated_parsed(e)),
    )


def _updated_parsed(e: Any) -> Any:
    """feedparser's `updated_parsed`, which falls back to `published_parsed` when absent
    (without the DeprecationWarning feedparser raises each time it does so)."""
    if "updated_parsed" in e:  # FeedParserDict answers this key unaliased
        return _get(e, "updated_parsed")
    return _get(e, "published_parsed")


def _when(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _title(value: Any) -> str | None:
    """The feed's title as plain text (feedparser no longer sanitises it)."""
    return plain_text(str(value), TITLE_MAX_CHARS) if value else None


def _clip(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)[:MAX_FIELD_CHARS]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _link_rel(feed: Any, rel: str) -> str | None:
    for link in feed.get("links", []):
        if link.get("rel") == rel and link.get("href"):
            return str(link["href"])
    return None
