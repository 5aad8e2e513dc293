"""parse_jsonfeed: JSON Feed 1.0 / 1.1 bytes → ParsedFeed (feedparser 6 does not read JSON Feed).

Spec: https://www.jsonfeed.org/version/1.1/. Lenient where real feeds are sloppy: numeric
ids, RFC 822 dates, both `author` (1.0) and `authors` (1.1), relative URLs (resolved against
home_page_url, then feed_url). Plain-text fields become escaped HTML in the *_html fields.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from services.core.errors import ParseError
from services.core.models import ParsedFeed, RawEntry

_VERSION = re.compile(r"^https?://jsonfeed\.org/version/(\d+)(?:\.(\d+))?/?$")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_jsonfeed(body: bytes) -> ParsedFeed:
    """Parse a JSON Feed document; ParseError when it is not valid JSON or not a JSON Feed."""
    doc = _load(body)
    fmt = _format(doc)
    base = _base_url(doc)
    items = doc.get("items", [])
    feed_authors = _authors(doc)
    entries = tuple(_entry(item, base, feed_authors) for item in items if isinstance(item, dict))
    skipped = sum(1 for item in items if not isinstance(item, dict))
    return ParsedFeed(
        format=fmt,
        title=html.unescape(_text(doc.get("title")) or "") or None,
        link=_url(doc.get("home_page_url"), base),
        entries=entries,
        problem=f"{skipped} item(s) are not JSON objects and were skipped" if skipped else None,
        hub_url=_hub(doc),
        self_url=_url(doc.get("feed_url"), base),
    )


def _load(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ParseError(f"not a JSON Feed: the document is not valid JSON ({reason})") from None
    if not isinstance(doc, dict):
        raise ParseError(
            f"not a JSON Feed: top level is a JSON {type(doc).__name__}, not an object"
        )
    return doc


def _format(doc: dict[str, Any]) -> str:
    """'json10' or 'json11' from `version`; a missing version is accepted when items exist."""
    version = doc.get("version")
    items = doc.get("items")
    if items is not None and not isinstance(items, list):
        raise ParseError("not a JSON Feed: 'items' must be a list")
    if isinstance(version, str) and (match := _VERSION.match(version.strip())):
        major, minor = int(match.group(1)), int(match.group(2) or 0)
        return "json11" if (major, minor) >= (1, 1) else "json10"
    if version is None and isinstance(items, list):
        return "json10"
    raise ParseError(
        f"not a JSON Feed: 'version' is {version!r}, expected https://jsonfeed.org/version/1.1"
    )


def _base_url(doc: dict[str, Any]) -> str | None:
    for key in ("home_page_url", "feed_url"):
        value = doc.get(key)
        if isinstance(value, str) and urlsplit(value.strip()).scheme in ("http", "https"):
            return value.strip()
    return None


def _entry(item: dict[str, Any], base: str | None, feed_authors: tuple[str, ...]) -> RawEntry:
    summary = _text(item.get("summary"))
    content_html = _text(item.get("content_html"))
    content_text = _text(item.get("content_text"))
    if content_html is None and content_text is not None:
        content_html = html.escape(content_text, quote=False)
    item_id = item.get("id")
    return RawEntry(
        guid=str(item_id).strip() or None if isinstance(item_id, str | int | float) else None,
        link=_url(item.get("url"), base) or _url(item.get("external_url"), base),
        title=html.unescape(_text(item.get("title")) or ""),
        summary_html=html.escape(summary, quote=False) if summary else (content_html or ""),
        content_html=content_html,
        authors=_authors(item) or feed_authors,
        categories=tuple(
            t.strip() for t in _list(item.get("tags")) if isinstance(t, str) and t.strip()
        ),
        published_at=parse_date(item.get("date_published")),
        updated_at=parse_date(item.get("date_modified")),
    )


def _authors(obj: dict[str, Any]) -> tuple[str, ...]:
    """Names from `authors` (1.1) or else `author` (1.0); empty when neither has a name."""
    many = [a for a in _list(obj.get("authors")) if isinstance(a, dict)]
    people = many or ([obj["author"]] if isinstance(obj.get("author"), dict) else [])
    names = (_text(p.get("name")) for p in people)
    return tuple(dict.fromkeys(n for n in names if n))


def _hub(doc: dict[str, Any]) -> str | None:
    for hub in _list(doc.get("hubs")):
        if isinstance(hub, dict) and str(hub.get("type", "")).lower() == "websub":
            return _url(hub.get("url"), None)
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _url(value: Any, base: str | None) -> str | None:
    """An absolute http(s) URL (resolved against `base` when relative), else None."""
    text = _text(value)
    if text is None:
        return None
    try:
        resolved = urljoin(base, text) if base else text
        parts = urlsplit(resolved)
    except ValueError:
        return None
    return resolved if parts.scheme in ("http", "https") and parts.netloc else None


def parse_date(value: Any) -> datetime | None:
    """RFC 3339 / ISO 8601 or RFC 822 date → aware UTC datetime (naive means UTC); else None."""
    text = _text(value)
    if text is None:
        return None
    parsed = _iso(text) or _rfc822(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _iso(text: str) -> datetime | None:
    normalised = _FRACTION.sub(r"\1", text.replace("z", "Z").replace("t", "T", 1), count=1)
    if normalised.endswith("Z"):
        normalised = normalised[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(normalised)
    except ValueError:
        return None


def _rfc822(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
